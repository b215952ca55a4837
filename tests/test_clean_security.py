"""The cleaner trusts nothing a data set brings: a journal shipped inside a downloaded folder, links that lead out of it,
malformed lines, a batch the file system refuses halfway, and marks another process makes while a Cleaner is alive.
Real files in temp folders, the real `companion` command in subprocesses, a real SIGKILL."""
import os, sys, json, signal, shutil, subprocess, warnings
from pathlib import Path
import pytest
from conftest import run_cli
from companion.clean import Cleaner, STATE, snapshot
from companion.clean_journal import JournalWarning
from companion.clean_files import file_sha

def files(d) -> dict:
    "{relative path: sha256 or 'dir' or 'link->target'} of everything under `d`, the cleaner's state folder included."
    d, res = Path(d), {}
    for p in sorted(d.rglob('*')):
        k = p.relative_to(d).as_posix()
        res[k] = f'link->{os.readlink(p)}' if p.is_symlink() else 'dir' if p.is_dir() else file_sha(p)
    return res

@pytest.fixture
def ds(digits37_path, tmp_path):
    "A downloaded data set `d37` next to an `outside` folder that stands for the user's own files (`outside/.ssh/id_rsa`)."
    root = shutil.copytree(digits37_path, tmp_path/'d37', ignore=shutil.ignore_patterns(STATE))
    out = tmp_path/'outside'; (out/'.ssh').mkdir(parents=True)
    (out/'.ssh'/'id_rsa').write_text('-----BEGIN OPENSSH PRIVATE KEY-----\nnot a real key\n')
    (out/'notes.png').write_bytes((root/'train'/'3').iterdir().__next__().read_bytes())
    return root, out

def forge(root, *recs, raw=b''):
    "Ship a journal inside the data set, as a downloaded archive could."
    (root/STATE).mkdir(exist_ok=True)
    data = b''.join(json.dumps(r).encode() + b'\n' for r in recs) + raw
    (root/STATE/'journal.jsonl').write_bytes(data)

def pngs(root, label='3', split='train'): return sorted((root/split/label).glob('*.png'))

def cli_all(root, *cmds):
    "Run each `companion clean CMD ROOT [ARGS]`; none may end in a traceback."
    res = []
    for cmd in cmds:
        r = run_cli('clean', cmd.split()[0], root, *cmd.split()[1:])
        assert 'Traceback' not in r.stderr, r.stderr
        res.append(r)
    return res

def _untouched(root, out, before_root, before_out):
    assert files(out) == before_out                    # nothing moved out of the data set, nothing taken from the user's folder
    assert snapshot(root) == before_root                # and nothing moved into it (or around in it)

@pytest.mark.parametrize('how', ['absolute', 'dotdot', 'quarantine_dotdot', 'bad_label'])
def test_forged_open_batch_and_marks(ds, how):
    "A shipped journal with an interrupted batch and marks that point outside: apply (which recovers first), recover, undo move nothing."
    root, out = ds
    f = pngs(root)[0]; rel = f'train/3/{f.name}'; sha = file_sha(f); key = out/'.ssh'/'id_rsa'
    dst = {'absolute': str(out/'stolen.png'), 'dotdot': '../outside/stolen.png',
           'quarantine_dotdot': f'{STATE}/quarantine/../../../outside/stolen.png', 'bad_label': 'train/../../outside/stolen.png'}[how]
    action, to = ('relabel', '../../outside') if how == 'bad_label' else ('delete', None)
    forge(root, dict(t='mark', path=str(key) if how == 'absolute' else '../outside/.ssh/id_rsa', sha=file_sha(key), action='delete', to=None),
          dict(t='mark', path=rel, sha=sha, action=action, to=to) if how == 'bad_label' else dict(t='mark', path=dst, sha=sha, action='delete', to=None),
          dict(t='begin', id='evil', kind='apply', moves=[[rel, dst, sha, action, to]]))
    before_root, before_out = snapshot(root), files(out)
    for cmd in ('apply', 'undo', 'list'):                          # checked after each: an undo must not hide what an apply did
        r, = cli_all(root, cmd); _untouched(root, out, before_root, before_out)
        if cmd == 'apply': r_apply = r
    assert r_apply.returncode == 0 and 'line 1 skipped' in r_apply.stderr and 'line 3 skipped' in r_apply.stderr
    with pytest.warns(JournalWarning, match='line 1 skipped') as w: c = Cleaner(root)
    assert not c.marks and c.open_batch is None and any('line 3 skipped' in str(x.message) for x in w)
    assert {x.filename for x in w} == {__file__}                        # each warning points at the line that opened the cleaner
    r_rec, = cli_all(root, 'recover')
    assert r_rec.returncode == 0 and 'set aside 3' in r_rec.stdout    # recover sets the forged lines aside, atomically
    _untouched(root, out, before_root, before_out)
    assert not any(p.name.endswith('.tmp') for p in (root/STATE).iterdir())
    assert len((root/STATE/'journal.skipped.jsonl').read_text().splitlines()) == 3

def test_forged_committed_batch_undo(ds):
    "A shipped 'committed apply' whose destination is the user's key: undo would move the key into the data set. It must not."
    root, out = ds
    key = out/'.ssh'/'id_rsa'; f = pngs(root)[0]
    rels = [f'{STATE}/quarantine/../../outside/.ssh/id_rsa', str(key), '../outside/.ssh/id_rsa']
    recs = []
    for i,dst in enumerate(rels):
        recs += [dict(t='begin', id=f'b{i}', kind='apply', moves=[[f'train/3/new{i}.png', dst, file_sha(key), 'delete', None]]),
                 dict(t='commit', id=f'b{i}', skipped=[])]
    # and an undo batch that claims to put back a file its (valid-looking) apply never moved
    recs += [dict(t='begin', id='u', kind='undo', of='b0', moves=[[str(key), 'train/3/x.png', file_sha(key), 'delete', None]])]
    forge(root, *recs)
    before_root, before_out = snapshot(root), files(out)
    r, = cli_all(root, 'undo')
    _untouched(root, out, before_root, before_out)
    assert r.returncode == 0 and 'nothing to undo' in r.stdout and 'line 7 skipped' in r.stderr
    with pytest.warns(JournalWarning): c = Cleaner(root)
    assert not c.applied() and not c.moved and c.open_batch is None
    assert c.undo() == []
    _untouched(root, out, before_root, before_out)
    assert key.read_text().startswith('-----BEGIN') and not list(root.rglob('new*.png'))

def test_symlinked_label_folder_and_quarantine(ds):
    "A label folder or the quarantine that is a link to a folder outside: refused with a sentence, the other moves go through."
    root, out = ds
    (root/'train'/'evil').symlink_to(out, target_is_directory=True)
    fs = pngs(root)
    c = Cleaner(root)
    c.mark(fs[0], 'relabel', to='evil')                      # a fine label name: only its folder is the problem
    c.mark(fs[1], 'relabel', to='7')
    before_out = files(out)
    p = c.plan()
    assert [m.src for m in p.moves] == [f'train/3/{fs[1].name}']
    assert p.skipped[0][0] == f'train/3/{fs[0].name}' and 'leads to' in p.skipped[0][1] and 'outside' in p.skipped[0][1]
    r, = cli_all(root, 'apply'); assert r.returncode == 0 and 'never moves a file out of its root' in r.stdout
    assert fs[0].exists() and not fs[1].exists() and files(out) == before_out
    # a shipped journal with an open batch into the linked folder is skipped too
    forge_line = dict(t='begin', id='x', kind='apply', moves=[[f'train/3/{fs[2].name}', f'train/evil/{fs[2].name}', file_sha(fs[2]), 'relabel', 'evil']])
    with open(root/STATE/'journal.jsonl', 'a') as j: j.write(json.dumps(forge_line) + '\n')
    r, = cli_all(root, 'recover'); assert r.returncode == 0 and 'set aside 1' in r.stdout
    assert fs[2].exists() and files(out) == before_out
    # the quarantine as a link outside: deletes are refused, nothing lands outside
    cli_all(root, 'undo'); (root/'train'/'evil').unlink()
    (root/STATE/'quarantine').symlink_to(out, target_is_directory=True)
    c = Cleaner(root); c.unmark(fs[0]); c.unmark(fs[1]); c.mark(fs[3], 'delete')   # the undo made both pending again
    p = c.apply()
    assert not p.moves and 'outside the quarantine' in p.skipped[-1][1] and fs[3].exists() and files(out) == before_out

def test_linked_state_folder_or_journal_refused(ds):
    "A `.companion` folder or journal that is a link (say to the user's key) is refused with a sentence; the key is never written."
    root, out = ds
    key = out/'.ssh'/'id_rsa'; before = key.read_bytes()
    (root/STATE).mkdir(); (root/STATE/'journal.jsonl').symlink_to(key)
    r = run_cli('clean', 'mark', root, pngs(root)[0], '--delete')
    assert r.returncode == 1 and 'is a link' in r.stderr and 'rm ' in r.stderr and 'Traceback' not in r.stderr
    shutil.rmtree(root/STATE); (root/STATE).symlink_to(out, target_is_directory=True)
    r = run_cli('clean', 'list', root); assert r.returncode == 1 and 'is a link' in r.stderr
    assert key.read_bytes() == before and sorted(os.listdir(out)) == ['.ssh', 'notes.png']

def test_malformed_lines_warn_not_crash(ds):
    "Lines of the wrong shape are skipped with a warning naming the line, in Python and through the CLI; recover sets them aside."
    root, out = ds
    fs = pngs(root)
    good = dict(t='mark', path=f'train/3/{fs[0].name}', sha=file_sha(fs[0]), action='delete', to=None)
    forge(root, [1, 2], 42, 'text', None, dict(t='mark', action='delete'), dict(t='begin', id='b', kind='apply'),
          dict(t='begin', id='c', kind='apply', moves=[[1, 2]]), dict(t='commit', id=5), dict(t='mark', path='train/3/a.png', action='relabel', to='7'),
          good, raw=b'{"t":"mark","path":"train/3/')
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always'); c = Cleaner(root)
    lines = [int(str(x.message).split(' line ')[1].split()[0]) for x in w if ' line ' in str(x.message)]
    assert lines == [1, 2, 3, 4, 5, 6, 7, 8, 9, 11] and list(c.marks) == [good['path']]
    res = cli_all(root, 'list', 'plan', 'apply', 'list', 'undo')
    for r in res: assert r.returncode == 0 and 'companion clean: warning:' in r.stderr and 'line 11 skipped' in r.stderr
    assert 'applied delete' in res[3].stdout and fs[0].exists()
    r, = cli_all(root, 'recover'); assert r.returncode == 0 and 'set aside 10' in r.stdout
    r, = cli_all(root, 'list'); assert r.returncode == 0 and r.stderr == '' and '1 decisions pending' in r.stdout
    with warnings.catch_warnings(): warnings.simplefilter('error'); Cleaner(root)   # no warning left

def test_failed_move_does_not_block_the_batch(ds):
    "A move the file system refuses (a file where the label folder should be: this fails even as root) is reported with the one command to run; the rest go through."
    root, out = ds
    fs = pngs(root)
    (root/'train'/'9').write_bytes(b'a file, not a folder')
    c = Cleaner(root)
    c.mark_many([(fs[0], 'delete', None), (fs[1], 'relabel', '9'), (fs[2], 'relabel', '7'), (fs[3], 'delete', None)])
    before = snapshot(root)
    r = run_cli('clean', 'apply', root)
    assert r.returncode == 1 and 'Traceback' not in r.stderr and 'Errno' not in r.stdout + r.stderr
    assert r.stderr.startswith('companion clean: ') and f'companion clean apply {root}' in r.stderr and '3 files moved' in r.stderr
    assert f'! skip    train/3/{fs[1].name}' in r.stdout and 'train/9 is a file, not a folder' in r.stdout
    assert fs[1].exists() and not fs[0].exists() and not fs[2].exists() and not fs[3].exists()
    c = Cleaner(root); assert c.open_batch is None and list(c.marks) == [f'train/3/{fs[1].name}']
    (root/'train'/'9').unlink()                                   # fix the cause, run the one command
    r = run_cli('clean', 'apply', root); assert r.returncode == 0 and (root/'train'/'9'/fs[1].name).exists()
    r = run_cli('clean', 'undo', root, '--all'); assert r.returncode == 0   # both applies: the failed one and its rerun
    assert snapshot(root) == {k: v for k,v in before.items() if k != 'train/9'}

def test_failed_undo_move_then_undo_again(ds):
    "An undo whose way back is blocked puts back every other file, says to run undo again, and that works once the block is gone."
    root, out = ds
    solo = root/'train'/'solo'; solo.mkdir(); shutil.copy(pngs(root)[5], solo/'only.png')
    fs = pngs(root)[:2] + [solo/'only.png']
    before = snapshot(root)
    c = Cleaner(root); c.mark_many([(f, 'delete', None) for f in fs]); c.apply()
    solo.rmdir(); solo.write_bytes(b'now a file')                 # the folder the last file must go back to is a file
    r = run_cli('clean', 'undo', root)
    assert r.returncode == 1 and f'companion clean undo {root}' in r.stderr and 'solo is a file, not a folder' in r.stdout
    assert fs[0].exists() and fs[1].exists() and Cleaner(root).open_batch is None
    solo.unlink()
    r = run_cli('clean', 'undo', root); assert r.returncode == 0 and snapshot(root) == before

KILLED = r'''
import os, sys, signal
from companion.clean import Cleaner
class C(Cleaner):
    def _step(self, what):
        if what == 'begun': os.kill(os.getpid(), signal.SIGKILL)   # kill -9 right after the intent is on disk
C(sys.argv[1]).apply()
'''

def test_killed_batch_with_a_blocked_move_recovers(ds):
    "An apply killed after `begin`, then one destination blocked: recover moves the rest, closes the batch, names the next command."
    root, out = ds
    fs = pngs(root)
    Cleaner(root).mark_many([(fs[0], 'relabel', 'new'), (fs[1], 'delete', None), (fs[2], 'relabel', '7')])
    p = subprocess.run([sys.executable, '-c', KILLED, str(root)]); assert p.returncode == -signal.SIGKILL
    assert Cleaner(root).open_batch is not None and fs[0].exists()
    (root/'train'/'new').write_bytes(b'blocks the relabel')
    r = run_cli('clean', 'apply', root)                           # apply recovers first, then tries the blocked one again
    assert r.returncode == 1 and 'Traceback' not in r.stderr and f'companion clean apply {root}' in r.stderr
    c = Cleaner(root); assert c.open_batch is None and fs[0].exists() and not fs[1].exists() and not fs[2].exists()
    assert list(c.marks) == [f'train/3/{fs[0].name}']             # the blocked one is still marked, for the next apply
    (root/'train'/'new').unlink()
    r = run_cli('clean', 'apply', root); assert r.returncode == 0 and (root/'train'/'new'/fs[0].name).exists()

def test_255_byte_name_collision_gets_a_shorter_free_name(ds):
    "Relabelling a file whose name is 255 bytes into a folder that has that name: the `_1` name is shortened to fit, not refused."
    root, out = ds
    name = 'x'*251 + '.png'; src = root/'train'/'3'/name
    shutil.copy(pngs(root)[0], src); shutil.copy(pngs(root, '7')[0], root/'train'/'7'/name)
    c = Cleaner(root); c.mark(src, 'relabel', to='7'); p = c.apply()
    assert not p.failed and len(p.moves) == 1 and not src.exists()
    dst = Path(root/p.moves[0].dst); assert dst.exists() and len(dst.name.encode()) <= 255 and dst.name.endswith('_1.png')

MARKER = r'''
import os, sys, json
root, what, arg = sys.argv[1], sys.argv[2], sys.argv[3]
if what == 'mark':
    from companion.clean import Cleaner; Cleaner(root).mark(arg, 'delete')
else:                                          # rewrite the journal to the same size, new inode: a path of the same length
    j = os.path.join(root, '.companion', 'journal.jsonl'); new = json.loads(arg)
    with open(j + '.new', 'w') as f: f.write(json.dumps(new, separators=(',', ':')) + '\n')
    os.replace(j + '.new', j)
'''

def test_long_lived_cleaner_sees_another_process(ds):
    "A Cleaner kept alive (a notebook widget) sees marks another process writes, even a rewrite of the journal to the same size."
    root, out = ds
    fs = pngs(root)
    c = Cleaner(root)
    assert not c.plan().moves
    subprocess.run([sys.executable, '-c', MARKER, str(root), 'mark', str(fs[0])], check=True)
    assert [m.src for m in c.plan().moves] == [f'train/3/{fs[0].name}']
    size = c.journal.stat().st_size
    rec = json.loads(c.journal.read_text().splitlines()[0])
    other = next(f for f in fs[1:] if len(f.name) == len(fs[0].name))
    rec.update(path=f'train/3/{other.name}', sha=file_sha(other))
    subprocess.run([sys.executable, '-c', MARKER, str(root), 'rewrite', json.dumps(rec)], check=True)
    assert c.journal.stat().st_size == size                          # same size: only inode and mtime tell
    assert [m.src for m in c.plan().moves] == [f'train/3/{other.name}']
    p = c.apply(); assert not other.exists() and fs[0].exists() and len(p.moves) == 1
