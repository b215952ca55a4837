"A student's notebook in a real JupyterLab 4, run with Run > Run All Cells in Chromium: one training display, widgets drawn as widgets, a click that moves a file."
import importlib.util, json, os, re, shutil, socket, subprocess, sys, time, contextlib
from pathlib import Path
import pandas as pd
import pytest
from companion.env import free_port
from conftest import CHROME_ARGS, require, serving, until
from companion.clean import Cleaner, snapshot, STATE
from companion.clean_files import file_sha

BIN = Path(sys.executable).parent

def _cells(*srcs) -> dict:
    "A notebook on the `companion` kernel (as `make lab` registers it) with one code cell per source."
    cell = lambda i, s: dict(cell_type='code', execution_count=None, id=f'cell{i}', metadata={}, outputs=[], source=s)
    return dict(nbformat=4, nbformat_minor=5, cells=[cell(i, s) for i, s in enumerate(srcs)],
                metadata=dict(kernelspec=dict(name='companion', display_name='Python (companion)', language='python')))

@contextlib.contextmanager
def serve_lab(nb_dir: Path, tmp: Path):
    "`jupyter lab` on a free port over `nb_dir`, with its own config, settings and workspaces under `tmp`, and the `companion` kernel; yield its URL."
    lab = BIN/'jupyter-lab'
    require(lab.exists(), 'JupyterLab 4 (pip install jupyterlab)')
    require((Path(sys.prefix)/'share/jupyter/labextensions/@jupyter-widgets/jupyterlab-manager').is_dir(), 'jupyterlab_widgets (pip install jupyterlab_widgets)')
    d = {k: tmp/k for k in ('cfg', 'data', 'runtime', 'settings', 'workspaces', 'kernels', 'ipython')}
    for p in d.values(): p.mkdir(parents=True, exist_ok=True)
    r = subprocess.run([sys.executable, '-m', 'ipykernel', 'install', '--prefix', str(d['kernels']), '--name', 'companion',
                        '--display-name', 'Python (companion)'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    (d['settings']/'@jupyterlab'/'apputils-extension').mkdir(parents=True)     # no "receive Jupyter news?" toast over the page
    (d['settings']/'@jupyterlab'/'apputils-extension'/'notification.jupyterlab-settings').write_text(json.dumps(dict(fetchNews='false', checkForUpdates=False)))
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(d['cfg']), JUPYTER_DATA_DIR=str(d['data']), JUPYTER_RUNTIME_DIR=str(d['runtime']),
               JUPYTERLAB_SETTINGS_DIR=str(d['settings']), JUPYTERLAB_WORKSPACES_DIR=str(d['workspaces']), IPYTHONDIR=str(d['ipython']),
               JUPYTER_PATH=str(d['kernels']/'share'/'jupyter'), PYTHONWARNINGS='ignore')
    port = free_port()
    with serving([lab, '--no-browser', '--IdentityProvider.token=', f'--port={port}', '--ServerApp.ip=127.0.0.1', f'--notebook-dir={nb_dir}',
                  '--LabApp.news_url=', '--LabApp.extension_manager=readonly'] + (['--allow-root'] if os.geteuid() == 0 else []),
                 port, tmp/'lab.log', env): yield f'http://127.0.0.1:{port}'

@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    "One JupyterLab for this module's tests: (its URL, the folder it serves)."
    tmp = tmp_path_factory.mktemp('lab'); nbs = tmp/'nbs'; nbs.mkdir()
    with serve_lab(nbs, tmp) as url: yield url, nbs

def _run_all(pg, url: str, name: str, n_cells: int, kernel: str, timeout=120):
    "Open notebook `name` in Lab, wait for its kernel, Run > Run All Cells, wait until every code cell has run; return the notebook panel."
    pg.goto(f"{url}/lab/workspaces/{name.replace('.', '-')}/tree/{name}?reset", timeout=120_000)   # its own workspace: no tabs restored from another test
    nb = pg.locator('.jp-NotebookPanel:visible')
    nb.locator('.jp-Cell').first.wait_for(timeout=120_000)
    status = pg.locator('.jp-StatusBar-Widget', has_text=kernel)
    until(lambda: 'Idle' in status.first.inner_text(), f'the {kernel} kernel to start', timeout=90)
    pg.locator('.lm-MenuBar-itemLabel', has_text=re.compile(r'^Run$')).click()
    pg.locator('.lm-Menu-itemLabel', has_text=re.compile(r'^Run All Cells$')).click()
    prompts = nb.locator('.jp-CodeCell .jp-InputArea-prompt')
    until(lambda: [s.strip() for s in prompts.all_text_contents()] == [f'[{i}]:' for i in range(1, n_cells+1)], f'Run All of {name} to finish', timeout=timeout)
    return nb

def test_run_all_in_jupyterlab(lab, digits_path, tmp_path, chromium):
    "Run All in Lab after `from companion.all import *`: fastai's table once (no ▶ lines, no second table), the cleaner as widgets, doctor's table left-aligned and its widgets row yes, ✓ + Apply + Confirm moves the file."
    from playwright.sync_api import sync_playwright
    t0 = time.time()
    root = shutil.copytree(digits_path, tmp_path/'digits', ignore=shutil.ignore_patterns(STATE, 'flipped.csv'))
    fns = sorted(root.glob('train/3/*.png'))[:6]
    pd.DataFrame(dict(path=[str(f) for f in fns], split='train', label='3', pred='8', loss=2.0, why='high loss')).to_csv(tmp_path/'cands.csv', index=False)
    before = snapshot(root)
    url, nbs = lab
    nb = _cells(f"from fastai.vision.all import *\nfrom companion.all import *\n"     # the announcer is on for every new Learner
                f"learn = vision_learner(image_dls({str(root)!r}, bs=64), small_cnn, pretrained=False, metrics=[error_rate, accuracy])\nlearn.fit(1)",
                f"import pandas as pd\nfrom companion.clean_widget import ImageCleaner\n"
                f"cands = pd.read_csv({str(tmp_path/'cands.csv')!r}, dtype={{'label': str, 'pred': str}}, keep_default_na=False)\n"
                f"ImageCleaner(cands, root={str(root)!r}, per_page=8)",
                "from companion.env import widgets_status\nprint('widgets:', widgets_status())\ndoctor(timeout=1)")
    (nbs/'student.ipynb').write_text(json.dumps(nb))
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=CHROME_ARGS)
        pg = b.new_page(viewport=dict(width=1400, height=1400))
        nbp = _run_all(pg, url, 'student.ipynb', 3, 'Python (companion)')
        t_run = time.time() - t0
        outs = nbp.locator('.jp-CodeCell .jp-OutputArea')
        train, clean, doc = (outs.nth(i).inner_text() for i in range(3))

        # one training display: fastai's table once, the ● line, no ▶ phase lines, no error
        tables = outs.nth(0).locator('table')
        assert tables.count() == 1, outs.nth(0).inner_html()[:3000]
        heads = tables.first.locator('th').all_inner_texts()
        assert heads[:3] == ['epoch', 'train_loss', 'valid_loss'] and 'accuracy' in heads, heads
        assert tables.first.locator('tbody tr').count() == 1
        assert train.count('train_loss') == 1 and '▶' not in train and '✔' not in train and 'Error' not in train, train
        assert '● fit · 1 epoch' in train, train

        # the cleaner is drawn as widgets, never as their repr
        assert 'VBox(' not in ''.join(nbp.locator('.jp-OutputArea').all_text_contents())
        assert pg.locator('.cw-card:visible').count() == 6 and 'Undone' not in clean and 'Applied' not in clean
        assert 'widgets: yes' in doc and 'jupyterlab_widgets' in doc, doc
        aligns = outs.nth(2).locator('td, th').evaluate_all('cs => cs.map(c => getComputedStyle(c).textAlign)')
        assert len(aligns) > 20 and set(aligns) == {'left'}, aligns          # doctor's table reads from the left in Lab

        # ✓ on a card, Apply (the plan), Confirm: the file moves on disk, the same bytes under the suggested label
        card = pg.locator('.cw-card:visible').first
        rel = card.locator('.cw-path').inner_text()
        assert card.locator('.cw-accept').inner_text().strip() == '✓ 8'
        card.locator('.cw-accept').click()
        until(lambda: {k: (v['action'], v.get('to')) for k,v in Cleaner(root).marks.items()} == {rel: ('relabel', '8')}, 'the mark in the journal')
        assert snapshot(root) == before
        pg.locator('.cw-apply').click(); pg.wait_for_selector('.cw-plan')
        assert snapshot(root) == before
        pg.locator('.cw-confirm').click()
        until(lambda: not (root/rel).exists() and rel in Cleaner(root).moved, 'the file to move and its batch to be journaled')
        dst = Cleaner(root).moved[rel].dst
        assert dst.startswith('train/8/') and file_sha(root/dst) == before[rel]
        until(lambda: 'Applied' in pg.locator('.cw-msg').inner_text(), 'the Applied message')
        b.close()
    print(f'\nLab, student notebook: Run All done {t_run:.1f}s, total {time.time()-t0:.1f}s')

def _sgd_fresh(nbp):
    "The SGD explorer where a student starts: the first curve, lr 1e-5, unscaled."
    info = nbp.locator('.qe-info')
    info.scroll_into_view_if_needed()                    # Lab skips drawing cells out of view: their inner text reads ''
    assert info.count() == 1 and 'a=0.50000 b=-5.0000 c=20.0000' in info.text_content(), info.all_text_contents()
    assert float(nbp.locator('.widget-hslider', has_text='lr').locator('.widget-readout').inner_text()) == 1e-5
    assert not nbp.locator('.widget-checkbox input').is_checked()

def _cleaner_fresh(nbp):
    "The cleaner a student sees: nothing chosen, no Applied or Undone message."
    nbp.locator('.cw-card').first.scroll_into_view_if_needed()
    cards, msg = nbp.locator('.cw-card:visible'), nbp.locator('.cw-msg')
    assert cards.count() == 12 and msg.count() == 1 and msg.text_content().strip() == '', msg.all_text_contents()
    assert set(nbp.locator('.cw-card:visible .cw-choice select').evaluate_all('ss => ss.map(s => s.value)')) == {'undecided'}

@pytest.mark.parametrize('name, fresh', [('10_sgd.ipynb', _sgd_fresh), ('06e_clean_widget.ipynb', _cleaner_fresh)])
def test_run_all_leaves_the_widgets_fresh(lab, chromium, name, fresh):
    "A course notebook as a student runs it: after Run All its checks have passed and the widget on screen is as a student first sees it (the checks drove their own)."
    from playwright.sync_api import sync_playwright
    t0 = time.time()
    url, nbs = lab
    src = Path(__file__).parent.parent/'nbs'/name
    if 'nbdev' in src.read_text() and importlib.util.find_spec('nbdev') is None:   # `make test-latest` installs no dev tools
        pytest.skip(f'{name} imports nbdev (show_doc), which only the dev environment has: `make test` runs this test')
    shutil.copy(src, nbs/name)
    n = sum(c['cell_type'] == 'code' for c in json.loads(src.read_text())['cells'])
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=CHROME_ARGS)
        pg = b.new_page(viewport=dict(width=1400, height=1400))
        nbp = _run_all(pg, url, name, n, 'Python 3')
        outs = ''.join(nbp.locator('.jp-OutputArea').all_text_contents())
        assert 'Traceback' not in outs and 'VBox(' not in outs, outs[-3000:]
        fresh(nbp)
        b.close()
    print(f'\nLab, {name} Run All: {time.time()-t0:.1f}s')
