"One display per run: labelled bars in a terminal, lines alone in a file, fastai's table in a notebook, never in an export."
import os, re, subprocess, sys, textwrap
from pathlib import Path
import pytest
from conftest import COMPANION, run_in_kernel, require

BAR_CHARS = re.compile('[█▏▎▍▌▋▊▉]')

def run_in_pty(cmd, timeout=300) -> tuple:
    "Run `cmd` with stdin, stdout and stderr on a real pseudo-terminal; return (exit code, everything it wrote)."
    import pty
    m, s = pty.openpty()
    p = subprocess.Popen(list(map(str, cmd)), stdin=s, stdout=s, stderr=s)
    os.close(s)
    chunks = []
    while True:
        try: b = os.read(m, 65536)
        except OSError: break                          # the child closed the terminal
        if not b: break
        chunks.append(b)
    os.close(m)
    return p.wait(timeout=timeout), b''.join(chunks).decode('utf-8', 'replace')

def run_to_file(cmd, tmp_path, name, timeout=300) -> tuple:
    "Run `cmd` with stdout and stderr sent to a file, as a log or CI would; return (exit code, the file's text)."
    out = tmp_path/name
    with open(out, 'w') as f: r = subprocess.run(list(map(str, cmd)), stdout=f, stderr=subprocess.STDOUT, timeout=timeout)
    return r.returncode, out.read_text(encoding='utf-8')

def _train(data, out): return [COMPANION, 'train', data, '--epochs', '1', '--lr-steps', '20', '--out', out]

def test_terminal_bars_are_labelled(digits37_path, tmp_path):
    "In a terminal: one lr_find bar counting all its batches, bars labelled with the phase and what they count, the ▶/✔ lines."
    rc, text = run_in_pty(_train(digits37_path, tmp_path/'run'))
    assert rc == 0, text[-3000:]
    done = int(re.search(r'✔ lr_find \S+ · (\d+) batch', text)[1])                              # lr_find may stop early, when the loss blows up
    drawn = [int(n) for n in re.findall(r'\rlr_find \|[█-]+\| [\d.]+% \[(\d+)/20 batches', text)]
    assert drawn == sorted(drawn) and drawn[-1] <= done, (drawn, done)                         # one bar over all its batches, never restarted
    assert len(drawn) >= 2 and drawn[-1] > 0, drawn                                          # redrawn as batches ran, not only at 0
    assert len(re.findall(r'\rlr_find \|-+\| 0\.00% \[0/20 batches', text)) == 1                     # started once, never again
    assert '\repoch 1/1 · TRAIN |' in text and '\repoch 1/1 · VALID |' in text
    assert re.search(r'\[\d+/\d+ batches', text.split('epoch 1/1 · TRAIN |')[1])
    assert '▶ epoch 1/1 · TRAIN' in text and '✔ VALID' in text
    assert 'Epoch 1/1' not in text and 'FutureWarning' not in text                              # fastai's bar sat out

def test_files_get_lines_only(digits37_path, tmp_path):
    "`companion train` to a file: the ▶/✔ lines, not one carriage return or bar character, no FutureWarning."
    rc, text = run_to_file(_train(digits37_path, tmp_path/'run'), tmp_path, 'train.log')
    assert rc == 0, text[-3000:]
    assert '▶ epoch 1/1 · TRAIN' in text and '✔ lr_find' in text
    assert '\r' not in text and not BAR_CHARS.search(text) and 'FutureWarning' not in text

def test_data_commands_to_a_file(tmp_path):
    "`companion digits` and `companion audit` to a file: no carriage return, no bar character, no FutureWarning."
    rc, text = run_to_file([COMPANION, 'digits', tmp_path/'d'], tmp_path, 'digits.log')
    assert rc == 0, text[-3000:]
    rc2, text2 = run_to_file([COMPANION, 'audit', tmp_path/'d'], tmp_path, 'audit.log')
    assert rc2 == 0, text2[-3000:]
    for t in (text, text2): assert '\r' not in t and not BAR_CHARS.search(t) and 'FutureWarning' not in t, repr(t[:300])

KERNEL = textwrap.dedent('''
    from companion.learner import image_dls, learner
    from companion.announce import *
    learn = learner(image_dls({path!r})).announce()
    learn.fit(2)
''')

def test_notebook_has_one_table_and_no_phase_lines(digits37_path):
    "In a real Jupyter kernel: fastai's table (epochs 0 and 1, as fastai numbers them), bars labelled TRAIN/VALID with what they count, no ▶ lines."
    msgs, text = run_in_kernel(KERNEL.format(path=str(digits37_path)))
    shown = {c.get('transient', {}).get('display_id') or i: c['data'].get('text/html', '') for i, c in enumerate(msgs)}
    tables = [h for h in shown.values() if '<table' in h and 'train_loss' in h]
    assert len(tables) == 1                                                         # one display, one table
    rows = re.findall(r'<tr>\s*<td>(\d+)</td>', tables[0])
    assert rows == ['0', '1']
    bars = [c['data'].get('text/html', '') for c in msgs if '<progress' in c['data'].get('text/html', '')]   # every update, not just the last
    assert any(re.search(r'</progress> TRAIN · [\d.]+% \[\d+/\d+ batches', h) for h in bars)   # the bar says which phase it counts
    assert any(re.search(r'</progress> VALID · \d', h) for h in bars)
    assert '▶' not in text and '✔' not in text and '\r' not in text, text
    assert text.count('● fit · 2 epochs') == 1

def test_export_with_announcer_loads_without_companion(digits37_path, tmp_path):
    "`learn.export()` with an announcer attached writes a pickle that loads where companion cannot be imported."
    from companion.learner import image_dls
    from fastai.vision.all import Learner, nn
    from companion.announce import PhaseAnnouncer
    model = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 2))
    learn = Learner(image_dls(digits37_path), model, path=tmp_path).announce(log=tmp_path/'log.jsonl')
    assert any(isinstance(c, PhaseAnnouncer) for c in learn.cbs)
    learn.export('export.pkl')
    code = ("import sys; sys.modules['companion'] = None\n"
            "from fastai.learner import load_learner\n"
            "l = load_learner(sys.argv[1]); print(*[type(c).__name__ for c in l.cbs])")
    code += "\nprint(l.predict(sys.argv[2])[0])"      # fastai's bar, pickled in the announcer's place, is attached to the loaded learner
    img = next((digits37_path/'valid'/'7').glob('*.png'))
    r = subprocess.run([sys.executable, '-c', code, str(tmp_path/'export.pkl'), img], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.splitlines()[0].split() == ['TrainEvalCallback', 'Recorder', 'CastToTensor', 'ProgressCallback']
    assert r.stdout.splitlines()[-1] in ('3', '7'), r.stdout
    assert any(isinstance(c, PhaseAnnouncer) for c in learn.cbs)                    # the learner itself keeps its announcer

SCRIPT = textwrap.dedent('''
    import sys
    from fastai.vision.all import *
    from companion.all import *
    dls = ImageDataLoaders.from_folder(sys.argv[1], train='train', valid='valid', num_workers=0)
    learn = vision_learner(dls, small_cnn, pretrained=False, metrics=error_rate)   # fastai's own call: the announcer is there by default
    learn.fit(1)
    img = dls.valid_ds.items[0]
    print('predicted', learn.predict(img)[0])
    learn, report = train(learn, 1, lr=1e-2, show=False)
    print('predicted', learn.predict(img)[0])
''')

def test_script_with_companion_all_writes_lines_only(digits37_path, tmp_path):
    "A script that imports companion.all, fits, predicts, trains and predicts again, its output to a file: ▶/✔ lines, no bar redraw (`\\r`, `█`)."
    (tmp_path/'s.py').write_text(SCRIPT)
    rc, text = run_to_file([sys.executable, tmp_path/'s.py', digits37_path], tmp_path, 'script.log')
    assert rc == 0, text[-3000:]
    assert text.count('▶ epoch 1/1 · TRAIN') == 2 and text.count('predicted ') == 2, text
    assert '\r' not in text and not BAR_CHARS.search(text), repr(text[-1000:])

# Colab's ipywidgets (its front end draws 7.x), with the two halves it was released with: what `pip install companion` must not upgrade
WIDGETS7 = ('ipywidgets==7.7.1', 'widgetsnbextension~=3.6.0', 'jupyterlab_widgets~=1.1', 'ipython_genutils~=0.2.0')

@pytest.fixture(scope='session')
def widgets7() -> Path:
    "ipywidgets 7.7.1 installed once with `pip --target` into ~/.cache/companion (a folder to put first on sys.path, not an environment)."
    d = Path(os.environ.get('XDG_CACHE_HOME', Path.home()/'.cache'))/'companion'/'ipywidgets-7.7.1'
    if not (d/'ipywidgets'/'__init__.py').is_file():
        tmp = d.with_name(d.name + '.part')
        r = subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps', '--target', tmp, *WIDGETS7], capture_output=True, text=True, timeout=300)
        require(r.returncode == 0, f'ipywidgets 7.7.1 from the package index ({r.stderr.strip()[-300:]})')
        tmp.rename(d)
    return d

CLEANER = textwrap.dedent('''
    import sys, hashlib
    from pathlib import Path
    import pandas as pd, ipywidgets
    from companion.clean_widget import ImageCleaner
    root = Path(sys.argv[1])
    snap = lambda: sorted((str(p.relative_to(root)), hashlib.md5(p.read_bytes()).hexdigest()) for p in root.glob('*/*/*.png'))
    before = snap()
    fs = sorted(root.glob('train/3/*.png'))[:3] + sorted(root.glob('train/7/*.png'))[:3]
    df = pd.DataFrame(dict(path=[str(f) for f in fs], label=[f.parent.name for f in fs], loss=[3., 2., 1., 3., 2., 1.],
                           pred=[{'3': '7', '7': '3'}[f.parent.name] for f in fs]))
    w = ImageCleaner(df, root, per_page=4)                                              # build
    assert 'page 1 of 2' in w.info.value and w.prev.disabled and not w.next.disabled, w.info.value
    w.next.click()                                                                      # page
    assert 'page 2 of 2' in w.info.value and w.cards[2].box.layout.display == 'none', w.info.value
    w.prev.click()
    w.cards[0].dd.value = 'delete'                                                      # choose: journaled at once
    w.cards[1].ok.click()                                                               # the one-click relabel to the prediction
    assert w.cards[1].dd.value == 'relabel:7' and 'pending</b>: 1 delete, 1 relabel' in w.counts.value, w.counts.value
    w.apply_btn.click(); assert 'Plan' in w.msg.value and w.confirm.layout.display == ''
    w.confirm.click()                                                                   # apply
    assert 'Applied' in w.msg.value and not fs[0].exists() and (root/'train'/'7'/fs[1].name).exists(), w.msg.value
    assert 'applied</b>: 1 in quarantine, 1 relabelled' in w.counts.value and w.cards[0].dd.disabled
    w.undo_btn.click()                                                                  # undo
    assert 'Undone' in w.msg.value and snap() == before, w.msg.value
    print('ipywidgets', ipywidgets.__version__)
''')

@pytest.mark.parametrize('major', ['7', '8'])
def test_cleaner_state_and_callbacks_under_ipywidgets(major, request, digits37_path, tmp_path):
    "`ImageCleaner` builds, pages, journals a choice and a one-click relabel, applies and undoes under ipywidgets 7.7.1 (Colab's) and 8 (this environment's)."
    import shutil
    root = shutil.copytree(digits37_path, tmp_path/'d37')
    env = {**os.environ, 'PYTHONPATH': str(request.getfixturevalue('widgets7'))} if major == '7' else None
    r = subprocess.run([sys.executable, '-c', CLEANER, root], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.split()[-1].split('.')[0] == major, r.stdout

OFFLINE = textwrap.dedent('''
    import sys
    from IPython.core.interactiveshell import InteractiveShell
    sh = InteractiveShell.instance()
    for cell in ("from fastai.vision.all import *\\nfrom companion.all import *",
                 f"dls = ImageDataLoaders.from_folder({sys.argv[1]!r}, train='train', valid='valid', num_workers=0)",
                 "learn = vision_learner(dls, resnet18)"): sh.run_cell(cell)
''')

def test_offline_vision_learner_explained_in_one_sentence(digits37_path, tmp_path):
    "In IPython after `from companion.all import *`, fastai's own `vision_learner(dls, resnet18)` offline ends in its error's last line and one sentence."
    from companion.env import free_port
    proxy = f'http://127.0.0.1:{free_port()}'          # nothing listens there: every download is refused, as on a machine offline
    env = {**os.environ, 'TORCH_HOME': str(tmp_path/'torch'), 'https_proxy': proxy, 'HTTPS_PROXY': proxy, 'no_proxy': '', 'NO_PROXY': ''}
    r = subprocess.run([sys.executable, '-c', OFFLINE, digits37_path], capture_output=True, text=True, env=env, timeout=300)
    out = re.sub(r'\x1b\[[0-9;]*m', '', r.stdout + r.stderr)
    assert 'companion: Could not download the pretrained weights for resnet18 (URLError: this machine looks offline): pass pretrained=False' in out, out[-3000:]
    assert 'Traceback' not in out and 'urllib' not in out, out[-3000:]   # the error's last line, not 60 frames of urllib
