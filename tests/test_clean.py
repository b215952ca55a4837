"The cleaner core on real files: restarts, refusals, byte-identical undo, and real SIGKILLs in the middle of apply and undo."
import os, sys, json, time, random, shutil, signal, subprocess
from collections import Counter
from pathlib import Path
import pytest
from conftest import run_cli
from companion.clean import Cleaner, snapshot, STATE
from companion.clean_files import file_sha

def tree(root) -> dict:
    "{relative path: sha256} of every file under root, quarantine included (journal and lock excluded)."
    root = Path(root)
    return {f.relative_to(root).as_posix(): file_sha(f) for f in root.rglob('*')
            if f.is_file() and f.name not in ('journal.jsonl', 'lock')}

@pytest.fixture
def d37(digits37_path, tmp_path):
    "A private copy of the 3s and 7s."
    return shutil.copytree(digits37_path, tmp_path/'d37', ignore=shutil.ignore_patterns(STATE))

def _mark_some(root, n, seed=0) -> list:
    "Mark `n` random files, half delete and half relabel to the other class; return the rows."
    fns = sorted(Path(root).glob('*/*/*.png'))
    pick = random.Random(seed).sample(fns, n)
    rows = [(f, 'delete', None) if i % 2 else (f, 'relabel', '7' if f.parent.name == '3' else '3') for i,f in enumerate(pick)]
    Cleaner(root).mark_many(rows)
    return rows

def _applied(before: dict, moves) -> dict:
    "The tree expected after `moves` (src, dst, ...) are done."
    after = dict(before)
    for m in moves: after[m[1]] = after.pop(m[0])
    return after

def test_restart_apply_undo_byte_identical(d37):
    before = snapshot(d37)
    rows = _mark_some(d37, 60)
    c = Cleaner(d37)                                   # a new process would see the same: everything is in the journal
    assert len(c.marks) == 60 and c.plan().counts() == dict(delete=30, relabel=30, keep=0, skip=0)
    assert snapshot(d37) == before                     # marking and planning move nothing
    p = c.apply()
    assert len(p.moves) == 60 and tree(d37) == _applied(before, p.moves)
    assert all((d37/STATE/'quarantine'/m.src).exists() for m in p.moves if m.action == 'delete')
    assert len(list(d37.rglob('*.png'))) == len([k for k in before if k.endswith('.png')])  # nothing unlinked
    assert Cleaner(d37).undo()[0]['restored'] == 60
    assert snapshot(d37) == before and tree(d37) == before
    assert len(Cleaner(d37).marks) == 60               # the decisions are pending again

def test_collisions_never_overwrite(d37):
    "Relabelling into a folder that has the same name (fastbook#490), twice in one plan, and a delete of a name already quarantined."
    a = d37/'train'/'3'/'x.png'
    shutil.copy(next((d37/'train'/'3').glob('0*.png')), a); shutil.copy(next((d37/'train'/'7').glob('0*.png')), d37/'train'/'7'/'x.png')
    before = snapshot(d37)
    c = Cleaner(d37); c.mark(a, 'relabel', to='7'); c.mark(d37/'train'/'7'/'x.png', 'relabel', to='3')
    p = c.apply()
    assert sorted(m.dst for m in p.moves) == ['train/3/x_1.png', 'train/7/x_1.png']
    assert len(snapshot(d37)) == len(before)
    c.undo(); assert snapshot(d37) == before
    c.mark(a, 'delete'); c.apply()                    # delete x.png; a new x.png appears and is deleted too: the quarantine keeps both
    shutil.copy(next((d37/'valid'/'3').glob('0*.png')), a)
    c.mark(a, 'delete'); c.apply()
    assert sorted(p.name for p in (d37/STATE/'quarantine'/'train'/'3').iterdir()) == ['x.png', 'x_1.png']

def test_refusals(d37, tmp_path):
    c = Cleaner(d37); f = next((d37/'train'/'3').glob('*.png'))
    for bad in ['..', '../7', 'a/b', '', '.hidden', 'x\\y']:
        with pytest.raises(ValueError, match='safe folder name'): c.mark(f, 'relabel', to=bad)
    outside = tmp_path/'outside.png'; shutil.copy(f, outside)
    with pytest.raises(ValueError, match='outside'): c.mark(outside, 'delete')
    (d37/'link').symlink_to(tmp_path, target_is_directory=True)   # a folder link that leads out of the root
    with pytest.raises(ValueError, match='outside'): c.mark(d37/'link'/'outside.png', 'delete')
    assert not Cleaner(d37).marks and outside.exists()
    with pytest.raises(ValueError, match='safe folder name'):       # a batch is all or nothing
        c.mark_many([(f, 'delete', None), (f, 'relabel', '..')])
    assert not Cleaner(d37).marks

def test_changed_file_is_skipped_and_reported(d37):
    before = snapshot(d37)
    rows = _mark_some(d37, 4)
    f = rows[0][0]; f.write_bytes(f.read_bytes() + b'!')
    p = Cleaner(d37).apply()
    assert len(p.moves) == 3 and p.skipped[0][0] == Cleaner(d37).rel(f) and 'changed' in p.skipped[0][1]
    assert f.exists() and Cleaner(d37).rel(f) in Cleaner(d37).marks

def test_torn_journal_line(d37):
    "A crash while writing a mark leaves half a line: it is ignored and the next record starts on its own line."
    f = sorted((d37/'train'/'3').glob('*.png'))
    c = Cleaner(d37); c.mark(f[0], 'delete')
    with open(c.journal, 'ab') as j: j.write(b'{"t":"mark","path":"train/3/')
    c = Cleaner(d37); assert list(c.marks) == [c.rel(f[0])]
    c.mark(f[1], 'delete')
    assert list(Cleaner(d37).marks) == [c.rel(f[0]), c.rel(f[1])]

CHILD = r'''
import os, sys, time, signal
from companion.clean import Cleaner
mode, root, arg = sys.argv[1], sys.argv[2], float(sys.argv[3])
if mode.endswith('link'):
    import companion.clean_files; companion.clean_files._rename_noreplace = None   # the link + unlink way (no renameat2)
class C(Cleaner):
    n = 0
    def _step(self, what):
        C.n += 1
        if '@' in mode and C.n == int(arg): os.kill(os.getpid(), signal.SIGKILL)   # kill -9 at an exact point
        if '@' not in mode: time.sleep(arg)                                      # widen the window for a random kill
print('go', flush=True)
C(root).apply() if mode.startswith('apply') else C(root).undo()
print('done', C.n, flush=True)
'''

def _child(mode, root, arg):
    return subprocess.Popen([sys.executable, '-c', CHILD, mode, str(root), str(arg)], stdout=subprocess.PIPE, text=True)

def _check_recovered(root, before, applied: bool):
    "After recover: no file lost or duplicated, and the tree is all-applied (or untouched if not `applied`); undo then restores it exactly."
    c = Cleaner(root)
    assert c.open_batch is None
    now = tree(root)
    assert Counter(now.values()) == Counter(before.values())               # same bytes, each exactly once
    done = c.applied()
    if not applied: assert not done and now == before
    else:
        assert len(done) == 1
        assert now == _applied(before, c.batches[done[0]]['moves'])
    c.undo()
    assert tree(root) == before

@pytest.mark.parametrize('way', ['rename', 'link'])
def test_sigkill_at_every_crash_point(d37, way):
    "kill -9 at each step of a 2-file apply (after begin, between link and unlink, after each move, before commit): recover finishes or rolls back."
    import companion.clean_files
    if way == 'rename' and companion.clean_files._rename_noreplace is None: pytest.skip('no renameat2 on this system')
    before = tree(d37)
    _mark_some(d37, 2, seed=1)
    n_steps = 1 + 2*(2 if way == 'link' else 1) + 1
    for k in range(1, n_steps + 1):
        for rollback in (False, True):
            p = _child('apply@' + ('link' if way == 'link' else ''), d37, k); out, _ = p.communicate(timeout=60)
            assert p.returncode == -signal.SIGKILL and 'done' not in out
            assert Cleaner(d37).open_batch is not None
            assert set(before.values()) <= set(tree(d37).values())           # nothing lost, even before recovery
            Cleaner(d37).recover(rollback=rollback)
            _check_recovered(d37, before, applied=not rollback)

def test_sigkill_apply_and_undo_at_random_times(d37):
    "A real SIGKILL from outside at random times during apply (and undo) of 150 decisions, several times."
    before = tree(d37)
    _mark_some(d37, 150, seed=2)
    rng, pause = random.Random(3), 0.001
    p = _child('apply', d37, pause); assert p.stdout.readline().strip() == 'go'
    t0 = time.time(); out, _ = p.communicate(timeout=120); span = time.time() - t0       # calibrate: one run to the end
    assert p.returncode == 0 and 'done' in out
    Cleaner(d37).undo(); assert tree(d37) == before
    caught = Counter()
    for i in range(8):
        n0 = len(Cleaner(d37).batches)
        p = _child('apply', d37, pause); assert p.stdout.readline().strip() == 'go'
        time.sleep(rng.uniform(0.05, 0.95) * span); p.send_signal(signal.SIGKILL); p.wait()
        c = Cleaner(d37); is_open, begun = c.open_batch is not None, len(c.batches) > n0
        caught['open' if is_open else 'committed' if begun else 'not begun'] += 1
        assert set(before.values()) <= set(tree(d37).values())               # nothing lost
        rollback, again = i % 3 == 1, i % 3 == 2
        if again: c.apply()                                                  # the next apply finishes the interrupted one first
        else: c.recover(rollback=rollback)
        _check_recovered(d37, before, applied=again or (is_open and not rollback) or (begun and not is_open))
    assert caught['open'] >= 4, caught                                      # most kills landed in the middle of a batch
    # undo killed half-way: recover finishes the undo
    Cleaner(d37).apply()
    for _ in range(3):
        p = _child('undo', d37, pause); assert p.stdout.readline().strip() == 'go'
        time.sleep(rng.uniform(0.1, 0.9) * span); p.send_signal(signal.SIGKILL); p.wait()
        Cleaner(d37).recover()
        if not Cleaner(d37).applied(): break
    assert tree(d37) == before

def test_cli(d37, tmp_path):
    before = snapshot(d37)
    f = sorted((d37/'train'/'3').glob('*.png'))
    r = run_cli('clean', 'mark', d37, f[0], f[1], '--delete'); assert r.returncode == 0, r.stderr
    r = run_cli('clean', 'mark', d37, f'train/3/{f[2].name}', '--relabel', '7'); assert r.returncode == 0, r.stderr
    r = run_cli('clean', 'list', d37); assert r.stdout.count('delete ') >= 2 and 'relabel' in r.stdout
    r = run_cli('clean', 'plan', d37); assert '2 to quarantine, 1 relabelled' in r.stdout and snapshot(d37) == before
    r = run_cli('clean', 'apply', d37); assert r.returncode == 0 and not f[0].exists() and (d37/'train'/'7'/f[2].name).exists()
    r = run_cli('clean', 'undo', d37); assert r.returncode == 0 and snapshot(d37) == before
    r = run_cli('clean', 'mark', d37, f[3], '--relabel', '..'); assert r.returncode == 1 and r.stderr.startswith('companion clean: ') and 'safe folder name' in r.stderr
    r = run_cli('clean', 'mark', d37, '/etc/hostname', '--delete'); assert r.returncode == 1 and 'outside' in r.stderr
    (tmp_path/'bad.csv').write_text('path,decision\ntrain/3/x.png,burn\n')
    r = run_cli('clean', 'apply', d37, '--csv', tmp_path/'bad.csv'); assert r.returncode == 1 and 'line 2' in r.stderr
    r = run_cli('clean', 'recover', d37); assert 'nothing to recover' in r.stdout
    r = run_cli('clean', d37, 'list'); assert r.returncode == 2 and 'invalid choice' in r.stderr    # one order: SUBCOMMAND ROOT
    r = run_cli('clean', '--help'); assert r.returncode == 0 and all(c in r.stdout for c in ('list', 'mark', 'plan', 'apply', 'undo', 'recover', 'gallery'))
    r = run_cli('clean', 'gallery', '--help'); assert r.returncode == 0 and 'ROOT CANDIDATES' in r.stdout and '(default: clean_gallery)' in r.stdout
