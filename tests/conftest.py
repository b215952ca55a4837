"Shared fixtures: real digits folders, and parts (like Chromium) that must exist in CI."
import contextlib, os, shutil, socket, subprocess, sys, time
from pathlib import Path
import pytest

os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
os.environ.setdefault('HF_HUB_OFFLINE', '1')

def require(ok: bool, what: str):
    "Skip with a reason on a laptop; fail in CI (CI=true), where every part must be installed."
    if ok: return
    if os.environ.get('CI', '').lower() in ('1', 'true', 'yes'): pytest.fail(f'{what} is missing in CI: the Makefile must install it')
    pytest.skip(f'{what} is missing: run `make test` as root or install it by hand')

from companion.spacecheck import CHROME_ARGS, find_chromium   # the one headless Chromium setup, shared with check_space
CHROMIUM = find_chromium() or '/usr/bin/chromium'

@pytest.fixture
def chromium():
    "Path to Debian's Chromium for Playwright (`executable_path`)."
    require(Path(CHROMIUM).exists(), 'Chromium (apt-get install chromium)')
    return CHROMIUM

@pytest.fixture(scope='module')
def browser():
    "Headless Chromium driven by playwright, one per test module (a playwright session holds the thread's event loop while it lives)."
    require(Path(CHROMIUM).exists(), 'Chromium (apt-get install chromium)')
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        yield b
        b.close()

@pytest.fixture(scope='session')
def digits_path(tmp_path_factory):
    "All ten digits as image folders, written once per test session."
    from companion.data import digits
    return digits(tmp_path_factory.mktemp('data')/'digits')

@pytest.fixture(scope='session')
def digits37_path(tmp_path_factory):
    "The 3s and 7s: the course's MNIST_SAMPLE analogue."
    from companion.data import digits
    return digits(tmp_path_factory.mktemp('data')/'digits37', classes=('3', '7'))

def run_cli(*args, env=None, **kw):
    "Run the `companion` command in a subprocess with this interpreter."
    import subprocess
    e = {**os.environ, **(env or {})}
    return subprocess.run([COMPANION, *map(str, args)], capture_output=True, text=True, env=e, **kw)

COMPANION = str(Path(sys.executable).parent/'companion')   # the console script installed with the package

def until(cond, what: str, timeout: float=30):
    "Wait until `cond()` holds (a page re-renders, a kernel writes a file a moment after a click); fail naming `what` after `timeout` s."
    import time
    t = time.time()
    while time.time() - t < timeout:
        try:
            if cond(): return
        except Exception: pass   # the page is re-rendering: look again
        time.sleep(0.1)
    raise AssertionError(f'timed out waiting for {what}')

def run_in_kernel(code: str, timeout: float=240) -> tuple:
    "Run `code` in a fresh Jupyter kernel: (its display messages' contents, in order; its stream and error text)."
    from jupyter_client.manager import start_new_kernel
    km, kc = start_new_kernel(kernel_name='python3')
    shown, stream = [], []
    def hook(msg):
        t, c = msg['msg_type'], msg['content']
        if t in ('display_data', 'update_display_data'): shown.append(c)
        elif t == 'stream': stream.append(c['text'])
        elif t == 'error': stream.append('\n'.join(c['traceback']))
    try: reply = kc.execute_interactive(code, output_hook=hook, timeout=timeout)
    finally: kc.stop_channels(); km.shutdown_kernel(now=True)
    assert reply['content']['status'] == 'ok', ''.join(stream)
    return shown, ''.join(stream)

@contextlib.contextmanager
def serving(cmd: list, port: int, log: Path, env=None, timeout: float=60):
    "Start a server (`cmd`, listening on `port`, its output in `log`), wait until it listens, yield the process, then stop it."
    out = open(log, 'w')
    p = subprocess.Popen(list(map(str, cmd)), env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        t = time.time()
        while True:
            if p.poll() is not None: raise AssertionError(f'{Path(cmd[0]).name} exited: {Path(log).read_text()[-2000:]}')
            with contextlib.suppress(OSError): socket.create_connection(('127.0.0.1', port), timeout=1).close(); break
            if time.time() - t > timeout: raise AssertionError(f'{Path(cmd[0]).name} did not listen on port {port} within {timeout} s: see {log}')
            time.sleep(0.1)
        yield p
    finally:
        p.terminate()
        try: p.wait(15)
        except subprocess.TimeoutExpired: p.kill(); p.wait()
        out.close()

FIGURES = []
def figure(line: str):
    "A measured figure (a count, a rate) to print at the end of the run, where `pytest -q` shows it."
    FIGURES.append(line)

def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section('figures')
        for l in FIGURES: terminalreporter.write_line(l)
