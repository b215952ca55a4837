"""`check_space` and `serve` on a static Space: a real http server, real headless Chromium, and the Python runtime to compare with.
Each way a page can break (numbers, labels, refusals, a missing file, a runtime that won't load) must turn the check red."""
import json, shutil, signal, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest
from conftest import require, CHROMIUM, COMPANION
from test_static_space import train_export, open_page
from companion.spacecheck import check_space, STATIC_UPLOAD_CASES

@pytest.fixture(scope='module')
def space(digits_path, tmp_path_factory):
    "An untrained digits model (the numbers are compared, not the accuracy) in a static Space, with export_model's examples."
    from companion.static import build_static
    model = train_export(digits_path, tmp_path_factory.mktemp('model')/'digits', epochs=0)
    return build_static(model, tmp_path_factory.mktemp('static')/'digits')

@pytest.fixture
def chromium_here(): require(Path(CHROMIUM).exists(), 'Chromium (apt-get install chromium)')

def test_check_space_passes_a_good_page(space, chromium_here):
    "Every example agrees with the Python runtime (label, |Δp| <= 1e-3, thumbnail, click); each bad upload is refused or answered as the table says."
    r = check_space(space)
    assert r.ok is True, r
    exs = json.loads((space/'examples.json').read_text())
    assert [e['example'] for e in r.examples] == [Path(e['file']).name for e in exs] and len(exs) == 10
    assert all(e['max_abs_diff'] <= 1e-3 and e['app'] == e['local'] for e in r.examples)
    assert {u['kind']: u['result'] for u in r.uploads} == {k: 'refused' if a == 'refuse' else 'answered' for k, (a, _) in STATIC_UPLOAD_CASES.items()}
    assert repr(r).startswith('check_space: OK at http://127.0.0.1:') and 'static page in Chromium: Model loaded' in repr(r)

def sabotaged(space, dest, file, old, new) -> Path:
    "A copy of `space` in `dest` with `old` replaced by `new` in `file` (None: `file` deleted)."
    s = shutil.copytree(space, dest/'space')
    if old is None: (s/file).unlink(); return s
    text = (s/file).read_text()
    assert old in text, (file, old)
    (s/file).write_text(text.replace(old, new))
    return s

BROKEN = {   # what breaks: (file, text, replaced by, uploads?, what the report then shows)
    'numbers': ('preprocess.js', 'o[i] = x.data[i] / d;', 'o[i] = 1 - x.data[i] / d;', False, 'MISMATCH'),
    'labels': ('app.js', 'label: state.vocab[index]', 'label: state.vocab[(index + 1) % state.vocab.length]', False, 'MISMATCH'),
    'refusal': ('app.js', 'if (n === 0) throw', 'if (n < 0) throw', True, 'upload empty     refused  WRONG: Not an image'),
    'thumbnail': (None, None, None, False, "'thumbnail did not load; Example missing"),
    'runtime': ('ort/ort-wasm-simd-threaded.wasm', None, None, False, 'The model did not load'),
}

@pytest.mark.parametrize('what', BROKEN)
def test_check_space_finds_a_broken_page(space, tmp_path, chromium_here, what):
    "A page that computes other numbers, shows other labels, answers what it should refuse, lacks a file or can't load its runtime fails the check."
    file, old, new, uploads, shows = BROKEN[what]
    file = file or json.loads((space/'examples.json').read_text())[3]['file']   # None: an example's image
    r = check_space(sabotaged(space, tmp_path, file, old, new), uploads=uploads)
    assert r.ok is False and (shows in repr(r) or shows in r.startup), r

def test_check_space_without_chromium_says_how_to_check_by_hand(space, tmp_path):
    "No Chromium: ok is None (neither pass nor fail) and one line says how to open the page in a browser."
    r = check_space(space, browser=str(tmp_path/'no-chromium'))
    assert r.ok is None and not r.examples
    assert repr(r) == ('check_space: NOT CHECKED: Chromium (apt-get install chromium) not installed here; check the page in a browser: '
                       f'`python -m http.server 8000` in {space}, then open http://127.0.0.1:8000')

def test_check_space_without_playwright(space):
    "No playwright (a Python without it, as here where its import is blocked): the same one line, naming playwright."
    code = "import sys; sys.modules['playwright'] = None\nfrom companion.spacecheck import check_space\nr = check_space(sys.argv[1]); print(r.ok); print(r)"
    p = subprocess.run([sys.executable, '-c', code, str(space)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    ok, line = p.stdout.splitlines()
    assert ok == 'None' and line.startswith('check_space: NOT CHECKED: playwright (pip install playwright)') and 'python -m http.server 8000' in line

def test_cli_checks_a_static_space(space, chromium_here):
    "`companion space check SPACE` on a static folder runs the browser check, prints the report and exits 0."
    p = subprocess.run([COMPANION, 'space', 'check', str(space), '--no-uploads'], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and p.stdout.startswith('check_space: OK'), p.stdout + p.stderr

def test_serve_static_until_ctrl_c(space, browser):
    "`companion space serve SPACE` serves the files (no caching) to a browser that runs the model, and stops on Ctrl-C with exit code 0."
    from companion.env import free_port
    port = free_port()
    p = subprocess.Popen([COMPANION, 'space', 'serve', str(space), '--port', str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f'http://127.0.0.1:{port}/'
    try:
        for _ in range(150):
            try:
                with urllib.request.urlopen(url, timeout=2) as r: page, headers = r.read().decode(), r.headers; break
            except OSError: time.sleep(0.1)
        else: pytest.fail(f'nothing listened on {url}')
        assert '<title>Digits</title>' in page and headers['Cache-Control'] == 'no-cache'
        tab = open_page(browser, url)
        got = tab.evaluate('f => companion.predictURL(f)', json.loads((space/'examples.json').read_text())[0]['file'])
        assert 'label' in got and not tab.errors, tab.errors
        tab.close()
    finally:
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=20)
    assert p.returncode == 0, out
    assert f'serving the static Space {space} on {url}' in out and '"GET /model/model.onnx HTTP/1.1" 200' in out

def test_check_space_in_a_notebook_kernel(space, chromium_here):
    "In a Jupyter kernel, whose asyncio loop makes playwright's sync API refuse to start, check_space still checks a static page (lesson2 in a notebook does this)."
    from conftest import run_in_kernel
    _, out = run_in_kernel(f"from companion.spacecheck import check_space\nr = check_space({str(space)!r}, uploads=False)\nprint('OK' if r.ok else repr(r))")
    assert out.strip().endswith('OK'), out[-2000:]
