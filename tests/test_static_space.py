"""The static Space: a digits model exported, built with `build_static`, served over http on 127.0.0.1 and run by Chromium
with onnxruntime-web; its answers are compared with the Python Predictor. The page's preprocessing is also checked alone, in node,
against Pillow, numpy and fastai/torch on random images."""
import base64, functools, http.server, json, re, shutil, subprocess, threading
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from conftest import require, CHROMIUM, CHROME_ARGS
from companion.runtime import Predictor, preprocess, resize_image, crop_pad   # the Python side the page must agree with

ROOT = Path(__file__).resolve().parent.parent
NODE = shutil.which('node')

def train_export(data, dest, size=None, epochs=1):
    "The small CNN on the digits, `epochs` fine_tune epochs (0: untrained), exported with companion.predict.export_model."
    from companion.learner import image_dls, learner
    from companion.predict import export_model
    learn = learner(image_dls(data, size=size), 'small_cnn')
    if epochs:
        with learn.no_bar(), learn.no_logging(): learn.fine_tune(epochs)
    return export_model(learn, dest)

class Served:
    "A folder served by a threaded http.server on 127.0.0.1 and a free port; a context manager."
    def __init__(self, folder):
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *a): pass
        self.srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(folder)))
        self.url = f'http://127.0.0.1:{self.srv.server_address[1]}/'
    def __enter__(self):
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        return self
    def __exit__(self, *a): self.srv.shutdown(); self.srv.server_close()

def b64(path) -> str: return base64.b64encode(Path(path).read_bytes()).decode()

@pytest.fixture(scope='module')
def model_dir(digits_path, tmp_path_factory): return train_export(digits_path, tmp_path_factory.mktemp('model')/'digits')

@pytest.fixture(scope='module')
def space(model_dir, digits_path, tmp_path_factory):
    from companion.static import build_static
    return build_static(model_dir, tmp_path_factory.mktemp('static')/'digits', title='Digits', emoji='🔢', examples=digits_path/'valid')

def open_page(browser, url):
    "A page on `url` once the model has loaded; page.errors collects uncaught errors and console errors."
    page = browser.new_page()
    page.errors = []
    page.on('pageerror', lambda e: page.errors.append(str(e)))
    page.on('console', lambda m: page.errors.append(m.text) if m.type == 'error' else None)
    page.on('response', lambda r: page.errors.append(f'HTTP {r.status} {r.url}') if r.status >= 400 else None)
    page.goto(url)
    page.wait_for_function('document.body.dataset.ready', timeout=60_000)
    assert page.evaluate('document.body.dataset.ready') == 'true', page.errors + [page.inner_text('#message')]
    return page

@pytest.fixture(scope='module')
def served(space):
    with Served(space) as s: yield s

@pytest.fixture(scope='module')
def page(browser, served):
    p = open_page(browser, served.url)
    yield p
    p.close()

def test_space_folder(space, model_dir):
    "The folder holds the page, the model, one example per digit, the pinned runtime; the card says sdk: static."
    from huggingface_hub import SpaceCard
    from companion.static import ORT_FILES, ORT_VERSION
    for f in ('index.html', 'app.js', 'preprocess.js', 'style.css', 'config.json', 'examples.json', 'model/model.onnx', 'model/preprocess.json',
              'README.md', '.gitattributes', *(f'ort/{f}' for f in ORT_FILES)):
        assert (space/f).is_file(), f
    card = SpaceCard.load(space/'README.md')
    assert (card.data.sdk, card.data.app_file, card.data.title, card.data.emoji) == ('static', 'index.html', 'Digits', '🔢')
    assert f'onnxruntime-web {ORT_VERSION}' in card.text and 'model/model.onnx' in card.text
    exs = json.loads((space/'examples.json').read_text())
    assert [e['label'] for e in exs] == [str(d) for d in range(10)] and all((space/e['file']).is_file() for e in exs)
    assert '*.wasm filter=lfs' in (space/'.gitattributes').read_text()
    assert 'ort.wasm.min.js' in (space/'index.html').read_text() and '<title>Digits</title>' in (space/'index.html').read_text()
    assert not any('http' in l for l in (space/'index.html').read_text().splitlines() if '<script' in l)   # no CDN

def test_space_files_readable_by_everyone(model_dir, tmp_path):
    "Every file the Space holds is 0644 and every folder 0755, even when the model folder's files were 0600 (a umask of 077)."
    import os, stat
    from companion.static import build_static
    private = tmp_path/'model'
    shutil.copytree(model_dir, private)
    for f in private.rglob('*'): f.chmod(0o700 if f.is_dir() else 0o600)
    old = os.umask(0o077)
    try: out = build_static(private, tmp_path/'space')
    finally: os.umask(old)
    modes = {p.relative_to(out).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in [out, *out.rglob('*')]}
    assert {k: oct(m) for k, m in modes.items() if m != (0o755 if (out/k).is_dir() else 0o644)} == {}
    assert 'model/model.onnx' in modes and len(json.loads((out/'examples.json').read_text())) == 10   # export_model's examples, one per label

def test_title_and_facts_in_words(model_dir, space, page):
    "Without a title preprocess.json's is used; the page says in sentences what the model saw and how uploads are resized, not raw statistics."
    from companion.static import build_static, preprocess_facts
    prep = json.loads((model_dir/'preprocess.json').read_text())
    cfg = json.loads((space/'config.json').read_text())
    assert cfg['facts'] == preprocess_facts(prep)
    assert cfg['facts'][0] == 'It was trained on greyscale images of about 28×28 pixels on a dark background.'
    assert 'resized to 28×28 pixels, the size the model was trained on' in cfg['facts'][1]
    shown = page.locator('#expects li').all_inner_texts()
    assert shown == cfg['facts'] and not any('brightness' in f or 'colour colour' in f for f in shown)
    untitled = build_static(model_dir, space.parent/'untitled')
    assert json.loads((untitled/'config.json').read_text())['title'] == (prep.get('title') or 'Image classifier')

def test_steps_the_page_cannot_run_are_refused(model_dir, tmp_path):
    "A preprocess.json with a step preprocess.js doesn't run stops build_static before it writes anything, saying what to do."
    from companion.runtime import ModelFolderError
    from companion.static import build_static
    bad = tmp_path/'model'
    shutil.copytree(model_dir, bad)
    prep = json.loads((bad/'preprocess.json').read_text())
    (bad/'preprocess.json').write_text(json.dumps({**prep, 'item': prep['item'] + [dict(op='rotate', size=[28, 28])]}))
    with pytest.raises(ModelFolderError, match='unknown item step'): build_static(bad, tmp_path/'space')
    assert not (tmp_path/'space').exists()

def test_page_ops_are_the_ones_build_static_allows():
    "The op tables preprocess.js exports (`ops`) are exactly static.PAGE_STEPS: a step added to one and not the other fails here."
    require(NODE is not None, 'node (apt-get install nodejs)')
    from companion.static import PAGE_STEPS
    js = ROOT/'companion'/'templates'/'static'/'preprocess.js'
    r = subprocess.run([NODE, '-e', f'process.stdout.write(JSON.stringify(require({json.dumps(str(js))}).ops || null))'], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {k: list(v) for k, v in PAGE_STEPS.items()}

ODD = {'50%': '0', 'c#': '1', 'what?': '2'}   # labels that break a URL unless it is escaped

@pytest.fixture(scope='module')
def odd_space(digits_path, tmp_path_factory):
    "An untrained model whose labels are 50%, c# and what?, built with its own examples (export_model keeps them)."
    from companion.static import build_static
    data = tmp_path_factory.mktemp('odd')/'odd labels'
    for split in ('train', 'valid'):
        for lab, d in ODD.items(): shutil.copytree(digits_path/split/d, data/split/lab)
    model = train_export(data, tmp_path_factory.mktemp('model')/'odd', epochs=0)
    return build_static(model, tmp_path_factory.mktemp('static')/'odd')

def test_odd_labels_thumbnails_load_and_clicks_predict(odd_space, browser):
    "Example files get URL-safe names; thumbnails of labels 50%, c#, what? load and a click on each gives the Python runtime's label."
    exs = json.loads((odd_space/'examples.json').read_text())
    assert [e['label'] for e in exs] == list(ODD)
    assert all(re.fullmatch(r'examples/[A-Za-z0-9._-]+', e['file']) for e in exs) and len({e['file'] for e in exs}) == 3
    local = Predictor.load(odd_space/'model', backend='onnx')
    with Served(odd_space) as s:
        page = open_page(browser, s.url)
        page.wait_for_function('[...document.querySelectorAll(".example img")].every(i => i.complete)')
        assert page.evaluate('[...document.querySelectorAll(".example img")].map(i => i.naturalWidth)') == [28, 28, 28]
        for i, e in enumerate(exs):
            page.evaluate('() => { document.getElementById("top-label").textContent = "" }')
            page.locator('.example').nth(i).click()
            page.wait_for_function('document.getElementById("top-label").textContent != ""')
            assert page.inner_text('#top-label') == local.predict(str(odd_space/e['file']))[0], e
        assert page.is_hidden('#message') and not page.errors, page.errors
        page.close()

def test_page_escapes_file_names(odd_space, browser, tmp_path):
    "app.js URL-encodes each path segment: examples named 50%.png, c#.png and what?.png (a hand-edited Space) still show and predict."
    space = shutil.copytree(odd_space, tmp_path/'space')
    exs = json.loads((space/'examples.json').read_text())
    for e in exs:
        (space/e['file']).rename(space/'examples'/f"{e['label']}.png")
        e['file'] = f"examples/{e['label']}.png"
    (space/'examples.json').write_text(json.dumps(exs))
    with Served(space) as s:
        page = open_page(browser, s.url)
        page.wait_for_function('[...document.querySelectorAll(".example img")].every(i => i.complete)')
        assert page.evaluate('[...document.querySelectorAll(".example img")].map(i => i.naturalWidth)') == [28, 28, 28]
        got = page.evaluate('files => Promise.all(files.map(f => companion.predictURL(f)))', [e['file'] for e in exs])
        assert all(g['label'] in ODD for g in got) and not page.errors, page.errors
        page.close()

def test_every_valid_digit_matches_python(page, model_dir, digits_path):
    "All ~360 valid images, predicted in the page, give the Python ONNX Predictor's labels, probabilities within 1e-3."
    files = sorted((digits_path/'valid').rglob('*.png'))
    assert len(files) > 300
    got = page.evaluate('items => companion.predictBase64(items)', [b64(f) for f in files])
    want = Predictor.load(model_dir, backend='onnx').probs([str(f) for f in files])
    assert not [g for g in got if 'error' in g]
    probs = np.array([g['probs'] for g in got])
    vocab = json.loads((model_dir/'preprocess.json').read_text())['vocab']
    assert [g['label'] for g in got] == [vocab[i] for i in want.argmax(1)]
    assert np.abs(probs - want).max() <= 1e-3, np.abs(probs - want).max()
    assert not page.errors, page.errors

def test_click_example_shows_prediction(page, space, model_dir):
    "Clicking an example shows its label, the top 3 bars and an empty note, as the Python Predictor says."
    ex = json.loads((space/'examples.json').read_text())[3]
    page.click(f'.example[data-file="{ex["file"]}"]')
    page.wait_for_function('document.querySelectorAll("#bars .bar").length == 3')
    label, *_ = Predictor.load(model_dir, backend='onnx').predict(str(space/ex['file']))
    assert page.inner_text('#top-label') == label
    assert page.locator('#bars .bar').first.get_attribute('data-label') == label
    assert page.is_visible('#preview') and page.is_hidden('#message') and page.input_value('#note') == ''
    box = page.locator('#drop').bounding_box()
    assert 200 <= box['width'] <= 400 and abs(box['width'] - box['height']) < 2   # a 8 px digit keeps the box's size

REFUSED = {'not_image': ('Not an image', 'not an image'), 'empty': ('Empty file', 'empty (0 bytes)'),
           'huge': ('Image too long', 'longer than'), 'bomb': ('Too many pixels', 'decompression bomb'),
           'truncated': ('Damaged image', 'truncated')}

def test_bad_uploads_show_messages_and_page_keeps_working(page, tmp_path, digits_path, model_dir):
    "Each bad upload shows its message in the page (no prediction left on screen); odd-but-valid images are predicted; good uploads still work."
    from companion.spacecheck import bad_uploads
    good = sorted((digits_path/'valid').rglob('*.png'))[0]
    files = bad_uploads(tmp_path, img=good)
    for kind, (title, words) in REFUSED.items():
        page.set_input_files('#file', str(files[kind]))
        page.wait_for_selector('#message:not([hidden])')
        assert page.inner_text('#message .title') == title, kind
        assert words in page.inner_text('#message .text').lower(), (kind, page.inner_text('#message'))
        assert page.inner_text('#top-label') == '' and page.is_hidden('#preview')
        page.set_input_files('#file', str(good))
        page.wait_for_selector('#message', state='hidden')
        page.wait_for_function('document.querySelectorAll("#bars .bar").length == 3')
    pred = Predictor.load(model_dir, backend='onnx')
    for kind in ('rgba', 'palette', 'cmyk', '16bit', 'animated'):   # converted in the browser, noted as the app notes them (test_static_notes.py)
        page.evaluate('() => { document.getElementById("top-label").textContent = "" }')
        page.set_input_files('#file', str(files[kind]))
        page.wait_for_function('document.getElementById("top-label").textContent != "" || !document.getElementById("message").hidden')
        assert page.is_hidden('#message'), (kind, page.inner_text('#message'))
        note = page.input_value('#note')
        assert ('transparent' in note) == (kind == 'rgba'), (kind, note)
        p = np.sort(pred.probs([str(files[kind])])[0])
        if p[-1] - p[-2] > 1e-3: assert page.inner_text('#top-label') == pred.predict(str(files[kind]))[0], kind   # as Python reads it
    assert page.evaluate('() => typeof window.alert') == 'function' and not page.errors, page.errors

def test_nonsquare_resize_runs_in_js(digits_path, tmp_path, browser):
    "A model with Resize((20, 36)) (crop): on odd-size images the page's input tensor equals Python's, and its probabilities agree."
    from companion.static import build_static
    model = train_export(digits_path, tmp_path/'model', size=(20, 36), epochs=0)   # untrained: the numbers, not the accuracy, are compared
    prep = json.loads((model/'preprocess.json').read_text())
    assert prep['size'] == [20, 36] or prep['size'] == [36, 20]
    space = build_static(model, tmp_path/'space', examples=[])
    rng, files = np.random.default_rng(0), []
    for i, (w, h) in enumerate([(31, 17), (45, 61), (13, 9), (97, 23), (7, 50), (64, 64), (121, 77), (20, 36)]):
        if i % 2: a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)                             # noise
        else: a = np.asarray(Image.open(sorted((digits_path/'valid').rglob('*.png'))[i]).convert('RGB').resize((w, h)))   # a digit, stretched
        Image.fromarray(a).save(tmp_path/f'{i}.png'); files.append(tmp_path/f'{i}.png')
    with Served(space) as s:
        page = open_page(browser, s.url)
        xs = page.evaluate('items => companion.preprocessBase64(items)', [b64(f) for f in files])
        got = page.evaluate('items => companion.predictBase64(items)', [b64(f) for f in files])
        page.close()
    for f, x in zip(files, xs):
        want = preprocess(str(f), prep)
        assert (x['c'], x['h'], x['w']) == want.shape, (f, x['c'], x['h'], x['w'])
        assert np.abs(np.array(x['data'], np.float32).reshape(want.shape) - want).max() <= 1e-6, f
    want = Predictor.load(model, backend='onnx').probs([str(f) for f in files])
    assert np.abs(np.array([g['probs'] for g in got]) - want).max() <= 1e-3

# ---- the preprocessing alone, in node, against Pillow / numpy / fastai ----
def _cases(rng):
    from companion.static import ORT_VERSION  # noqa: F401  (the module must import)
    enc = lambda a: base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()
    cases = []
    def img(c, w, h): return rng.integers(0, 256, (h, w, c) if c == 3 else (h, w), dtype=np.uint8)
    for i in range(240):                                         # PIL resize, every filter, small and large sizes
        c, big = int(rng.choice([1, 3])), i % 8 == 0
        w, h = (int(rng.integers(1, 400)), int(rng.integers(1, 400))) if big else (int(rng.integers(1, 70)), int(rng.integers(1, 70)))
        ow, oh = int(rng.integers(1, 70)), int(rng.integers(1, 70))
        if i % 5 == 0: oh = h
        if i % 7 == 0: ow = w
        rs = int(rng.choice([0, 2, 2, 2, 3, 1, 4, 5]))
        a = img(c, w, h)
        cases.append(dict(id=f'resize {w}x{h}->{ow}x{oh} c{c} r{rs}', kind='resize', input=enc(a), w=w, h=h, c=c, ow=ow, oh=oh, resample=rs,
                          expected=enc(np.asarray(Image.fromarray(a).resize((ow, oh), rs)))))
    for i in range(80):                                          # fastai Resize (crop / pad / squish) and CropPad, with 'L' conversion
        w, h, oh, ow = (int(o) for o in rng.integers(1, 60, 4))
        method, pad_mode, mode = rng.choice(['crop', 'pad', 'squish']), rng.choice(['zeros', 'border', 'reflection']), rng.choice(['RGB', 'L'])
        a = img(3, w, h)
        im = Image.fromarray(a).convert(mode)
        if i % 4 == 0:
            step, out = dict(op='crop_pad', size=[oh, ow], pad_mode=str(pad_mode)), crop_pad(im, (oh, ow), str(pad_mode))
        else:
            step, out = dict(op='resize', size=[oh, ow], method=str(method), pad_mode=str(pad_mode), resample=2), resize_image(im, (oh, ow), str(method), str(pad_mode))
        cases.append(dict(id=f'item {step} {w}x{h} {mode}', kind='item', input=enc(a), w=w, h=h, c=3, mode=str(mode), steps=[step], expected=enc(np.asarray(out))))
    for i in range(10):                                          # transparency on white, as Image.alpha_composite
        w, h = (int(o) for o in rng.integers(1, 40, 2))
        a = rng.integers(0, 256, (h, w, 4), dtype=np.uint8); a[0, 0, 3], a[-1, -1, 3] = 0, 255
        bg = Image.new('RGBA', (w, h), (255, 255, 255, 255)); bg.alpha_composite(Image.fromarray(a, 'RGBA'))
        cases.append(dict(id=f'composite {w}x{h}', kind='composite', input=enc(a), w=w, h=h, c=4, expected=enc(np.asarray(bg.convert('RGB')))))
    import torch
    from fastai.torch_core import TensorImage
    import fastai.vision.augment  # noqa: F401  (patches TensorImage.affine_coord)
    for i in range(30):                                          # batch steps: fastai's GPU resize (affine_coord), crop_ratio, div, normalize
        c, H, W = int(rng.choice([1, 3])), int(rng.integers(2, 90)), int(rng.integers(2, 90))
        h, w = int(rng.integers(2, 40)), int(rng.integers(2, 40))
        mode, pad_mode, ac = str(rng.choice(['bilinear', 'bilinear', 'nearest'])), str(rng.choice(['reflection', 'border', 'zeros'])), bool(i % 2)
        x = rng.random((c, H, W), dtype=np.float32)*255
        want = TensorImage(torch.from_numpy(x)[None]).affine_coord(sz=(h, w), mode=mode, pad_mode=pad_mode, align_corners=ac)[0].as_subclass(torch.Tensor).numpy()
        want = (want/np.float32(255) - np.float32(0.5))/np.float32(0.25)
        steps = [dict(op='resample', size=[h, w], mode=mode, align_corners=ac, pad_mode=pad_mode), dict(op='div', div=255.0),
                 dict(op='normalize', mean=[0.5]*c, std=[0.25]*c)]
        cases.append(dict(id=f'batch {c}x{H}x{W}->{h}x{w} {mode} {pad_mode} ac={ac}', kind='batch', input=enc(x), c=c, h=H, w=W, steps=steps,
                          expected=enc(want.astype(np.float32)), atol=1e-4))
    for i in range(10):
        H, W, r0, r1, s = int(rng.integers(5, 60)), int(rng.integers(5, 60)), 0.75, 4/3, float(rng.choice([1.0, 0.9]))
        x = rng.random((3, H, W), dtype=np.float32)
        hh, ww = (int(W/r0), W) if W/H < r0 else (H, int(H*r1)) if W/H > r1 else (H, W)
        hh, ww = int(hh*s), int(ww*s)
        t, l = (H-hh)//2, (W-ww)//2
        cases.append(dict(id=f'crop_ratio {H}x{W}', kind='batch', input=enc(x), c=3, h=H, w=W, steps=[dict(op='crop_ratio', ratio=[r0, r1], scale=s)],
                          expected=enc(x[:, t:t+hh, l:l+ww])))
    for i, (h, w) in enumerate([(150, 90), (31, 400), (112, 113), (60, 60)]):   # no Resize in the preprocessing: big uploads are bounded as in runtime.bound_size
        a, prep = img(3, w, h), dict(mode=['RGB', 'L'][i % 2], size=[28, 28], item=[], batch=[dict(op='div', div=255.0)])
        cases.append(dict(id=f'bound {w}x{h}', kind='preprocess', input=enc(a), w=w, h=h, c=3, prep=prep, expected=enc(preprocess(a, prep)), atol=1e-6))
    return cases

def test_js_preprocessing_matches_pillow_numpy_fastai(tmp_path):
    "In node: Pillow's resize bit for bit (240 random size pairs, every filter), fastai Resize/CropPad, alpha on white, fastai's GPU resize within 1e-4."
    require(NODE is not None, 'node (apt-get install nodejs)')
    cases = _cases(np.random.default_rng(0))
    (tmp_path/'cases.json').write_text(json.dumps(cases))
    r = subprocess.run([NODE, str(ROOT/'tests'/'js'/'check_preprocess.js'), str(tmp_path/'cases.json')], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report['n'] == len(cases) and not report['failures'], report['failures'][:5]

def test_page_limits_come_from_the_package(space, browser, tmp_path):
    "The page refuses what the Python runtime refuses: config.json carries companion.images.LIMITS, the card states them, and the page reads them."
    from companion.images import LIMITS, MAX_SIDE, MAX_MODEL_SIDE
    cfg = json.loads((space/'config.json').read_text())
    assert cfg['limits'] == LIMITS
    assert f'{MAX_SIDE} px on a side' in (space/'README.md').read_text()
    small = tmp_path/'space'; shutil.copytree(space, small)
    (small/'config.json').write_text(json.dumps({**cfg, 'limits': {**LIMITS, 'max_side': 50, 'max_model_side': 64}}))
    Image.new('RGB', (60, 20)).save(tmp_path/'wide.png')
    with Served(space) as s:   # preprocess.js bounds a model's input by config.json's max_model_side, not a number of its own
        page = open_page(browser, s.url)
        assert page.evaluate('companion.state.steps.max_model_side') == MAX_MODEL_SIDE
        page.close()
    with Served(small) as s:
        page = open_page(browser, s.url)
        got = page.evaluate('items => companion.predictBase64(items)', [b64(tmp_path/'wide.png')])
        assert page.evaluate('companion.state.steps.max_model_side') == 64
        page.close()
    assert got[0].get('title') == 'Image too long' and 'longer than 50 px' in got[0]['error'], got
