"The foundation: environment doctor, offline digits, image audit, the companion command."
import os, sys, subprocess, time, signal, json
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from conftest import run_cli, COMPANION

def _platform_in_subprocess(extra_env):
    env = {k: v for k, v in os.environ.items() if not k.startswith(('KAGGLE_', 'COLAB_', 'PAPERSPACE_'))}
    env.update(extra_env)
    code = 'from companion.env import detect_platform; print(detect_platform())'
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, check=True).stdout.strip()

@pytest.mark.parametrize('env,expected', [
    ({}, 'local'),
    ({'KAGGLE_KERNEL_RUN_TYPE': 'Interactive', 'KAGGLE_URL_BASE': 'https://www.kaggle.com'}, 'kaggle'),
    ({'COLAB_RELEASE_TAG': 'release-colab_20261101-060000_RC00', 'COLAB_GPU': ''}, 'colab'),
    ({'PAPERSPACE_NOTEBOOK_REPO_ID': 'r0123', 'PAPERSPACE_CLUSTER_ID': 'clg07azjl'}, 'paperspace'),
])
def test_platform_detected_from_environment(env, expected):
    assert _platform_in_subprocess(env) == expected

def test_doctor_here_says_local_cpu_and_never_hangs():
    r = run_cli('doctor', '--timeout', '2', timeout=120)   # a hang fails here, as subprocess.TimeoutExpired
    assert r.returncode == 0, r.stderr
    lines = dict(l.split(None, 1) for l in r.stdout.splitlines() if l and not l.startswith(('-', ' ', 'companion')) and len(l.split(None, 1)) == 2)
    assert lines['platform'].strip() == 'local'
    assert r.stdout.split('device', 1)[1].split(':', 1)[0].strip() == 'cpu'
    from companion.env import _reachable, WEIGHTS_HOST
    weights = next(l for l in r.stdout.splitlines() if l.startswith('pretrained weights')).split(None, 2)[2]
    assert weights.startswith('online' if _reachable(WEIGHTS_HOST, timeout=2) else 'offline'), weights   # what the host says now

def test_digits_match_sklearn(digits_path):
    from sklearn.datasets import load_digits
    d = load_digits()
    fns = sorted(digits_path.glob('*/*/*.png'))
    assert len(fns) == 1797 == len(d.target)
    assert {int(f.stem) for f in fns} == set(range(1797))
    for f in fns: assert int(f.parent.name) == d.target[int(f.stem)], f
    # the pixels are the scan, upscaled: the brightest 8x8 cell of the scan is bright in the image
    f = fns[0]; i = int(f.stem)
    px = np.asarray(Image.open(f).resize((8, 8), Image.BOX), dtype=float)
    assert np.corrcoef(px.ravel(), d.images[i].ravel())[0, 1] > 0.9

def test_digits_split_is_deterministic(tmp_path):
    from companion.data import digits
    a, b = digits(tmp_path/'a', classes=('3', '7')), digits(tmp_path/'b', classes=('3', '7'))
    names = lambda p: sorted(str(f.relative_to(p)) for f in p.glob('*/*/*.png'))
    from sklearn.datasets import load_digits
    t = load_digits().target
    assert names(a) == names(b) and len(names(a)) == ((t == 3) | (t == 7)).sum()
    assert names(a) != names(digits(tmp_path/'c', classes=('3', '7'), seed=1))

def test_digits_killed_halfway_is_repaired_not_duplicated(tmp_path):
    dest = tmp_path/'half'
    p = subprocess.Popen([COMPANION, 'digits', str(dest), '--size', '64'])
    deadline = time.time() + 60
    while time.time() < deadline and len(list(dest.glob('*/*/*.png'))) < 100: time.sleep(0.05)
    p.send_signal(signal.SIGKILL); p.wait()
    assert not (dest/'digits.json').exists()
    assert 0 < len(list(dest.glob('*/*/*.png'))) < 1797
    r = run_cli('digits', dest, '--size', '64')
    assert r.returncode == 0, r.stderr
    assert len(list(dest.glob('*/*/*.png'))) == 1797 and not list(dest.glob('*/*/.*.tmp'))
    for f in dest.glob('*/*/*.png'): Image.open(f).load()   # every file complete
    assert len(json.loads((dest/'digits.json').read_text())['files']) == 1797

def _seed_bad_folder(d: Path):
    d.mkdir(parents=True)
    rgb = Image.fromarray(np.random.RandomState(1).randint(0, 255, (64, 64, 3), dtype=np.uint8))
    rgb.save(d/'good.jpg'); rgb.save(d/'good_again.jpg')
    (d/'notes.png').write_bytes(b'just some text, named like an image\n')
    raw = (d/'good.jpg').read_bytes(); (d/'half.jpg').write_bytes(raw[:len(raw)//2])
    (d/'broken.png').write_bytes(b'\x89PNG\r\n\x1a\n' + os.urandom(200))
    Image.new('CMYK', (48, 48)).save(d/'print.jpg')
    Image.new('I;16', (48, 48)).save(d/'scan16.png')
    rgb.convert('P').save(d/'pal.png')
    Image.new('RGBA', (48, 48)).save(d/'logo.png')
    rgb.save(d/'moving.gif', save_all=True, append_images=[Image.new('RGB', (48, 48), 'blue')])
    Image.new('RGB', (5, 9)).save(d/'thumb.png')
    return {'notes.png': 'not_image', 'half.jpg': 'truncated', 'broken.png': 'corrupt', 'print.jpg': 'cmyk',
            'scan16.png': '16bit', 'pal.png': 'palette', 'logo.png': 'rgba', 'moving.gif': 'animated',
            'thumb.png': 'tiny', 'good_again.jpg': 'duplicate'}

def test_audit_finds_every_kind_of_bad_file(tmp_path):
    from companion.data import audit_images
    expected = _seed_bad_folder(tmp_path/'bad')
    df = audit_images(tmp_path/'bad')
    assert dict(zip(df.path.map(lambda p: Path(p).name), df.problem)) == expected
    assert df.fix.str.len().gt(10).all()

def test_audit_clean_folder_is_clean(digits_path):
    from companion.data import audit_images
    assert len(audit_images(digits_path)) == 0

def test_audit_cli_exit_code_and_csv(tmp_path):
    _seed_bad_folder(tmp_path/'bad')
    r = run_cli('audit', tmp_path/'bad', '--csv', tmp_path/'audit.csv')
    assert r.returncode == 1 and 'truncated' in r.stdout and (tmp_path/'audit.csv').exists()
    r = run_cli('audit', tmp_path/'missing')                 # a user error: one line on stderr, exit 1
    assert r.returncode == 1 and r.stderr.strip() == f"companion audit: {tmp_path/'missing'} is not a folder: pass the folder that holds your images"
    r = run_cli('audit', tmp_path/'bad', '--no-such-option')  # a usage error: one line too, exit 2
    assert r.returncode == 2 and r.stderr.startswith('companion audit: unknown option --no-such-option;') and r.stderr.count('\n') == 1, r.stderr

def test_cli_help_lists_commands():
    r = run_cli('--help')
    assert r.returncode == 0
    for c in ('doctor', 'digits', 'audit', 'train', 'lesson2'): assert c in r.stdout
    assert run_cli('no-such-command').returncode == 2

def test_cli_options_read_the_same_on_fastcore_1_and_2():
    "The commands' options come from their signatures whichever fastcore is installed (fastcore 2 dropped `Param`): defaults shown, switches, several values, choices."
    import fastcore
    h = ' '.join(run_cli('lesson2', '--help', env={'COLUMNS': '200'}).stdout.split())
    assert '[folder]' in h and '--valid_pct VALID_PCT share of an unsplit folder kept for validation (default: 0.2)' in h, (fastcore.__version__, h)
    assert '--no-check' in h and '--apply_suggested' in h and '(default: None)' not in h
    h = ' '.join(run_cli('predict', '--help', env={'COLUMNS': '200'}).stdout.split())
    assert 'model images [images ...]' in h and '--backend {auto,torch,onnx}' in h and '(default: auto)' in h, h
    r = run_cli('predict', 'no-model', 'a.png', '--backend', 'tf')
    assert r.returncode == 2 and "invalid choice: 'tf'" in r.stderr

def test_offline_pretrained_says_what_to_do(digits37_path):
    from companion.env import weights_status, cached_weights, WeightsUnavailable
    from companion.learner import image_dls, learner
    if not weights_status(2).startswith('offline') or any(c.startswith('resnet18') for c in cached_weights()):
        pytest.skip('this machine can fetch resnet18 weights')
    with pytest.raises(WeightsUnavailable, match='pretrained=False'):
        learner(image_dls(digits37_path), 'resnet18', pretrained=True)

def test_audit_follows_no_link_loop_and_writes_nothing(tmp_path):
    "Two symlink loops in a data folder: the audit ends, counts each real file once (no false duplicates) and leaves the folder as it was."
    d = tmp_path/'bears'
    for lbl in ('grizzly', 'black'):
        (d/lbl).mkdir(parents=True)
        for i in range(3): Image.fromarray(np.random.RandomState(10*i + len(lbl)).randint(0, 255, (32, 32, 3), dtype=np.uint8)).save(d/lbl/f'{i}.png')
    os.symlink(d, d/'grizzly'/'up'); os.symlink(d/'black', d/'black'/'self')
    before = sorted(str(p) for p in d.rglob('*') if not p.is_symlink())
    r = run_cli('audit', d, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(str(p) for p in d.rglob('*') if not p.is_symlink()) == before
