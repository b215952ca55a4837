"Predictor vs learn.predict on real trained models, export_model's folder with both backends, bad inputs, the CLI, and load_learner_safely's messages."
import json, os, pickle, shutil, subprocess, sys, types, warnings
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from conftest import run_cli
from companion.predict import (Predictor, export_model, load_learner_safely, resize_image, open_image, ImageError, PickleWarning, LoadError)

ATOL = 1e-5

def _train(path, item_tfms=None):
    from fastai.vision.all import ImageDataLoaders
    from companion.learner import learner
    dls = ImageDataLoaders.from_folder(path, train='train', valid='valid', bs=64, num_workers=0, seed=42, item_tfms=item_tfms)
    learn = learner(dls)
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(1, 3e-3)
    return learn

@pytest.fixture(scope='module', params=['none', 'crop', 'pad'])
def learn(request, digits_path):
    "A small_cnn trained on the digits: without Resize (28 px), with Resize crop to 20x36, with Resize pad (reflection) to 40x30."
    from fastai.vision.all import Resize
    tfms = dict(none=None, crop=Resize((20, 36)), pad=Resize((40, 30), method='pad'))[request.param]
    return _train(digits_path, tfms)

@pytest.fixture(scope='module')
def exported(learn, tmp_path_factory):
    return export_model(learn, tmp_path_factory.mktemp('model')/'m')

def _inputs(learn, n=10):
    "Validation files, and odd-shaped random images so that crop and pad really cut and fill."
    rng = np.random.default_rng(1)
    arrays = [rng.integers(0, 256, s, dtype=np.uint8) for s in [(28, 28, 3), (45, 19, 3), (17, 50, 3)]]
    if not any(type(t).__name__ == 'Resize' for t in learn.dls.valid.after_item.fs): arrays = arrays[:1]
    return list(learn.dls.valid_ds.items[:n]) + arrays

def _assert_same(got, want):
    (l2, i2, p2), (lbl, idx, probs) = got, want
    assert (l2, i2) == (str(lbl), int(idx))
    assert np.abs(np.asarray(p2) - probs.numpy()).max() <= ATOL

def test_predictor_matches_learn_predict(learn):
    p = Predictor.from_learner(learn)
    items = _inputs(learn)
    with learn.no_bar(): want = [learn.predict(o) for o in items]
    for o, w in zip(items, want): _assert_same(p.predict(o), w)
    for got, w in zip(p.predict_batch(items, bs=4), want): _assert_same(got, w)
    f = items[0]   # the same file as bytes, PIL image and array
    for o in (f.read_bytes(), Image.open(f), np.asarray(Image.open(f).convert('RGB'))): _assert_same(p.predict(o), want[0])

def test_export_folder_and_backends(learn, exported):
    assert {'model.safetensors', 'preprocess.json', 'model.onnx'} <= {o.name for o in exported.iterdir()}
    r = json.loads((exported/'preprocess.json').read_text())
    assert r['vocab'] == [str(i) for i in range(10)] and len(r['size']) == 2
    assert r['check']['torch_max_abs_diff'] <= ATOL and r['check']['onnx_max_abs_diff'] <= ATOL
    items = _inputs(learn, 6)
    with learn.no_bar(): want = [learn.predict(o) for o in items]
    for backend in ('torch', 'onnx'):
        p = Predictor.load(exported, backend=backend)
        assert p.backend == backend and p.vocab == r['vocab']
        for o, w in zip(items, want): _assert_same(p.predict(o), w)
        for got, w in zip(p.predict_batch(items), want): _assert_same(got, w)
    assert Predictor.load(exported).backend == 'torch'

def test_onnx_file_alone_without_torch(learn, exported, tmp_path):
    "A Space copies runtime.py and images.py as companion_runtime.py and companion_images.py, and runs the ONNX model where torch and fastai can't be imported."
    from companion.deploy import space_modules
    for name, src in space_modules().items(): shutil.copy(src, tmp_path/name)
    img = learn.dls.valid_ds.items[0]
    code = ("import sys, json; sys.path.insert(0, '.'); sys.modules['torch'] = sys.modules['fastai'] = sys.modules['companion'] = None\n"
            "from companion_runtime import Predictor\n"
            f"p = Predictor.load({str(exported)!r})\n"
            f"l, i, pr = p.predict({str(img)!r}); print(json.dumps([p.backend, l, i, pr.tolist()]))")
    res = subprocess.run([sys.executable, '-I', '-c', code], cwd=tmp_path, capture_output=True, text=True)   # isolated: no companion package, only the two files
    assert res.returncode == 0, res.stderr
    backend, l, i, pr = json.loads(res.stdout)
    with learn.no_bar(): want = learn.predict(img)
    assert backend == 'onnx'
    _assert_same((l, i, np.array(pr, np.float32)), want)

@pytest.mark.parametrize('method', ['crop', 'pad', 'squish'])
@pytest.mark.parametrize('pad_mode', ['reflection', 'zeros', 'border'])
def test_resize_image_matches_fastai(method, pad_mode):
    from fastai.vision.all import Resize, PILImage
    rng = np.random.default_rng(0)
    for shape in [(30, 50, 3), (47, 21, 3), (28, 28, 3), (5, 90, 3)]:
        im = PILImage.create(rng.integers(0, 256, shape, dtype=np.uint8))
        for size in [(24, 32), (64, 20), (28, 28)]:
            theirs = Resize(size, method=method, pad_mode=pad_mode)(im, split_idx=1)
            assert np.array_equal(np.asarray(resize_image(im, size, method, pad_mode)), np.asarray(theirs))

def test_bad_inputs(exported, tmp_path):
    p = Predictor.load(exported, backend='onnx')
    good = Image.new('RGB', (28, 28), (200, 10, 10)); good.save(tmp_path/'ok.png')
    (tmp_path/'corrupt.jpg').write_bytes(b'\xff\xd8\xff\xe0 this is not really a jpeg')
    (tmp_path/'truncated.png').write_bytes((tmp_path/'ok.png').read_bytes()[:60])
    (tmp_path/'empty.png').write_bytes(b'')
    (tmp_path/'notes.txt').write_text('hello')
    cases = [(tmp_path/'missing.png', FileNotFoundError, 'no image at'), (tmp_path/'corrupt.jpg', ImageError, "can't read"),
             (tmp_path/'truncated.png', ImageError, "can't read"), (tmp_path/'empty.png', ImageError, '0 bytes'),
             (tmp_path/'notes.txt', ImageError, "can't read"), (tmp_path, ImageError, 'is a folder'), (b'', ImageError, '0 bytes'),
             (b'GIF89a-garbage', ImageError, "can't read"), (np.zeros((8, 8), np.float64), ImageError, 'uint8'),
             (np.zeros((2, 8, 8, 3), np.uint8), ImageError, 'shape'), (12, TypeError, "can't open a int")]
    for img, exc, msg in cases:
        with pytest.raises(exc, match=msg): p.predict(img)
    assert p.predict(tmp_path/'ok.png')[0] in p.vocab   # still works after the failures
    with pytest.raises(FileNotFoundError, match='no preprocess.json'): Predictor.load(tmp_path)
    (tmp_path/'m').mkdir(); shutil.copy(exported/'preprocess.json', tmp_path/'m')
    with pytest.raises(FileNotFoundError, match='no model.onnx'): Predictor.load(tmp_path/'m', backend='onnx')
    with pytest.raises(ValueError, match='unknown backend'): Predictor.load(exported, backend='tflite')

def test_cli_export_and_predict(small_learn, tmp_path):
    "`companion export PKL DIR` and `companion predict DIR IMG...`: user errors are one line on stderr, `companion CMD: ...`, exit code 1."
    small_learn.export(tmp_path/'export.pkl')
    res = run_cli('export', tmp_path/'export.pkl', tmp_path/'model')
    assert res.returncode == 1 and res.stderr.startswith('companion export: ') and '--trust_pickle' in res.stderr, res.stderr
    assert not (tmp_path/'model').exists()   # nothing unpickled without consent
    res = run_cli('export', tmp_path/'export.pkl', tmp_path/'model', '--trust_pickle')
    assert res.returncode == 1 and '--size H W' in res.stderr   # an export.pkl without Resize keeps no image size
    res = run_cli('export', tmp_path/'export.pkl', tmp_path/'model', '--size', '28', '--trust_pickle', '--no-onnx')
    assert res.returncode == 0, res.stderr
    assert 'is a pickle' in res.stderr and not (tmp_path/'model'/'model.onnx').exists() and (tmp_path/'model'/'preprocess.json').exists()
    res = run_cli('export', tmp_path/'export.pkl', tmp_path/'model', '--size', '28', '--trust_pickle')
    assert res.returncode == 0 and (tmp_path/'model'/'model.onnx').exists(), res.stderr
    files = list(small_learn.dls.valid_ds.items[:3])
    (tmp_path/'bad.png').write_bytes(b'nope')
    res = run_cli('predict', tmp_path/'model', *files, tmp_path/'bad.png')
    assert res.returncode == 1 and res.stderr == '', res.stderr   # a bad image is a result: its own line says why, the others are predicted
    lines = [l.split('\t') for l in res.stdout.splitlines()]
    assert lines[-1][0].endswith('bad.png') and "can't read" in lines[-1][1], lines[-1]
    p = Predictor.from_learner(small_learn)
    assert [(Path(f).name, lbl) for f, lbl, _ in lines[:-1]] == [(f.name, p.predict(f)[0]) for f in files]
    assert all(0 < float(c) <= 1 for *_, c in lines[:-1])
    res = run_cli('predict', tmp_path/'nowhere', files[0])
    assert res.returncode == 1 and res.stderr.startswith('companion predict: ') and 'no preprocess.json' in res.stderr, res.stderr
    res = run_cli('predict', tmp_path/'model')   # no image: a usage error, one line
    assert res.returncode == 2 and res.stderr.startswith('companion predict: ') and 'images' in res.stderr, res.stderr

# load_learner_safely: the real failures, reproduced with real export files

@pytest.fixture(scope='module')
def small_learn(digits37_path):
    from companion.learner import learner, image_dls
    return learner(image_dls(digits37_path))   # untrained is enough: these tests are about loading

def _load_quiet(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', PickleWarning)
        return load_learner_safely(*args, trust=True, **kw)

def test_safe_load_roundtrip_warns(small_learn, tmp_path):
    small_learn.export(tmp_path/'export.pkl')
    with pytest.warns(PickleWarning, match='runs code'): learn2 = load_learner_safely(tmp_path/'export.pkl', trust=True)
    assert list(learn2.dls.vocab) == ['3', '7']
    with pytest.raises(FileNotFoundError, match='export.pkl written by learn.export'): load_learner_safely(tmp_path/'nope.pkl')
    (tmp_path/'cut.pkl').write_bytes((tmp_path/'export.pkl').read_bytes()[:500])
    with pytest.raises(LoadError, match='not a readable fastai export'): _load_quiet(tmp_path/'cut.pkl')

def test_safe_load_missing_module(small_learn, tmp_path):
    "A Learner that used a function from a package this machine lacks (as with timm): fastai says UnboundLocalError."
    name = 'student_extras_for_test'
    (tmp_path/'lib').mkdir(); (tmp_path/'lib'/f'{name}.py').write_text('def my_metric(inp, targ): return (inp.argmax(-1) == targ).float().mean()\n')
    sys.path.insert(0, str(tmp_path/'lib'))
    try:
        import importlib; mod = importlib.import_module(name)
        from fastai.learner import AvgMetric
        old = small_learn.metrics
        small_learn.metrics = [AvgMetric(mod.my_metric)]
        small_learn.export(tmp_path/'export.pkl')
        small_learn.metrics = old
    finally:
        sys.path.remove(str(tmp_path/'lib')); sys.modules.pop(name, None); importlib.invalidate_caches()
    with pytest.raises(LoadError, match=f'needs the module .{name}.*pip install {name}'): _load_quiet(tmp_path/'export.pkl')
    from fastai.learner import load_learner
    with warnings.catch_warnings(), pytest.raises(UnboundLocalError):   # what students see today
        warnings.simplefilter('ignore'); load_learner(tmp_path/'export.pkl')

def test_safe_load_windows_paths(small_learn, tmp_path):
    import pathlib
    class FromWindows(type(Path())):
        def __reduce__(self): return (pathlib.WindowsPath, ('C:\\Users\\student\\course',))
    old = small_learn.path
    small_learn.path = FromWindows(tmp_path)
    try: small_learn.export(tmp_path/'export.pkl')
    finally: small_learn.path = old
    with pytest.raises(LoadError, match='exported on Windows.*fix_paths=True'): _load_quiet(tmp_path/'export.pkl', fix_paths=False)
    assert str(_load_quiet(tmp_path/'export.pkl').path).replace('\\', '/') == 'C:/Users/student/course'

def test_safe_load_notebook_function(small_learn, tmp_path):
    "fastai < 2.8 pickled notebook functions by name: loading elsewhere can't find them in __main__."
    main = sys.modules['__main__']
    def is_three(x): return x == '3'
    is_three.__module__, is_three.__qualname__ = '__main__', 'is_three'
    main.is_three = is_three
    small_learn.label_func = is_three
    try: small_learn.export(tmp_path/'export.pkl', pickle_module=pickle)
    finally: del main.is_three, small_learn.label_func
    with pytest.raises(LoadError, match='refers to `is_three`.*define or import'): _load_quiet(tmp_path/'export.pkl')

def test_safe_load_other_python_version(small_learn, tmp_path):
    "cloudpickle stores notebook functions as bytecode; a Python 3.10 code object has 16 fields, which this Python refuses."
    def f(x): return x
    c = f.__code__
    py310 = (c.co_argcount, c.co_posonlyargcount, c.co_kwonlyargcount, c.co_nlocals, c.co_stacksize, c.co_flags, c.co_code, c.co_consts,
             c.co_names, c.co_varnames, c.co_filename, c.co_name, c.co_firstlineno, c.co_linetable, c.co_freevars, c.co_cellvars)
    class Code310:
        def __reduce__(self): return (types.CodeType, py310)
    small_learn.label_code = Code310()
    try: small_learn.export(tmp_path/'export.pkl')
    finally: del small_learn.label_code
    with pytest.raises(LoadError, match='another Python version.*python_version'): _load_quiet(tmp_path/'export.pkl')

def test_safe_load_fastai_before_2_8(small_learn, tmp_path):
    "Exports from fastai < 2.8 name classes in fastcore.transform, which fastcore now keeps only as a stub that raises ImportError."
    import fastcore.transform
    class Pipeline: pass   # stands for the old class, so that the pickle names fastcore.transform.Pipeline as an old export does
    Pipeline.__module__, Pipeline.__qualname__ = 'fastcore.transform', 'Pipeline'
    fastcore.transform.Pipeline = Pipeline
    small_learn.old_pipeline = Pipeline
    try: small_learn.export(tmp_path/'export.pkl')
    finally: del small_learn.old_pipeline, fastcore.transform.Pipeline
    with pytest.raises(LoadError, match=r"fastai < 2.8.*pip install 'fastai<2.8'"): _load_quiet(tmp_path/'export.pkl')

# A model folder is checked before anything in it is used

def _copy_model(exported, dest):
    shutil.copytree(exported, dest)
    return dest

def test_folder_written_before_preprocess_json_loads(learn, exported, tmp_path):
    "A model folder exported before the file was renamed holds recipe.json: it loads with both backends and predicts the same."
    old = _copy_model(exported, tmp_path/'old')
    (old/'preprocess.json').rename(old/'recipe.json')
    f = _inputs(learn, 1)[0]
    for backend in ('torch', 'onnx'):
        got, want = (Predictor.load(d, backend=backend).predict(f) for d in (old, exported))
        assert got[:2] == want[:2] and np.array_equal(got[2], want[2])

def test_damaged_model_folders_explain_themselves(exported, tmp_path):
    import companion.runtime as rt
    r = json.loads((exported/'preprocess.json').read_text())
    cases = {
        'bad_json': (lambda d: (d/'preprocess.json').write_text('{"vocab": ['), 'not valid JSON'),
        'no_vocab': (lambda d: (d/'preprocess.json').write_text(json.dumps({**r, 'vocab': []})), 'vocab'),
        'div_zero': (lambda d: (d/'preprocess.json').write_text(json.dumps({**r, 'batch': [{'op': 'div', 'div': 0}]})), 'div 0 is out of range'),
        'huge_resize': (lambda d: (d/'preprocess.json').write_text(json.dumps({**r, 'item': [dict(op='resize', size=[30000, 30000], method='crop', pad_mode='zeros')]})), 'between 1 and 2048'),
        'short_mean': (lambda d: (d/'preprocess.json').write_text(json.dumps({**r, 'batch': [{'op': 'normalize', 'mean': [0.5], 'std': [0.2]}]})), '3 means'),
        'truncated_onnx': (lambda d: (d/'model.onnx').write_bytes((d/'model.onnx').read_bytes()[:2000]), 'model.onnx'),
        'vocab_mismatch': (lambda d: (d/'preprocess.json').write_text(json.dumps({**r, 'vocab': ['a', 'b', 'c'], 'arch': None})), 'different models'),
    }
    for name, (damage, words) in cases.items():
        d = _copy_model(exported, tmp_path/name); damage(d)
        with pytest.raises(rt.ModelFolderError, match=words): Predictor.load(d, backend='onnx')
    d = _copy_model(exported, tmp_path/'truncated_weights')
    (d/'model.safetensors').write_bytes((d/'model.safetensors').read_bytes()[:1000])
    with pytest.raises(rt.ModelFolderError, match='model.safetensors'): Predictor.load(d, backend='torch')

def test_preprocess_cannot_import_code_from_the_model_folder(exported, tmp_path, monkeypatch):
    "A preprocess.json naming a module shipped in the folder (model/evil.py) runs nothing, even from the folder's parent as working directory."
    d = _copy_model(exported, tmp_path/'model')
    marker = tmp_path/'pwned'
    (d/'evil.py').write_text(f"open({str(marker)!r}, 'w').write('ran')\ndef arch(*a, **k): raise SystemExit\n")
    (d/'__init__.py').write_text('')
    r = json.loads((d/'preprocess.json').read_text())
    (d/'preprocess.json').write_text(json.dumps({**r, 'arch': {**r['arch'], 'module': 'model.evil', 'name': 'arch'}}))
    monkeypatch.chdir(tmp_path); monkeypatch.syspath_prepend(str(tmp_path))
    import companion.runtime as rt
    for backend in ('torch', 'auto', 'onnx'):
        with pytest.raises(rt.ModelFolderError, match='installed library'): Predictor.load(d, backend=backend)
    assert not marker.exists()

class _Evil:
    "A pickle payload: unpickling it runs a shell command that writes a marker file."
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (os.system, (f'touch {self.marker}',))

def test_malicious_pickle_runs_nothing_unless_trusted(tmp_path):
    import torch
    from companion.predict import PickleTrustError, pickle_imports
    marker = tmp_path/'ran'
    torch.save({'learner': _Evil(marker)}, tmp_path/'evil.pkl')
    assert any(n.endswith('.system') for n in pickle_imports(tmp_path/'evil.pkl'))
    with pytest.raises(PickleTrustError, match=r'system, which can run commands.*trust=True.*pickle-free'): load_learner_safely(tmp_path/'evil.pkl')
    res = run_cli('export', tmp_path/'evil.pkl', tmp_path/'model')
    assert res.returncode == 1 and 'can run commands' in res.stderr and 'Traceback' not in res.stderr
    assert not marker.exists() and not (tmp_path/'model').exists()
    with pytest.raises(LoadError, match='not a fastai Learner'): _load_quiet(tmp_path/'evil.pkl')   # trusted: the caller's explicit choice
    assert marker.exists()

def test_export_without_the_onnx_package(digits37_path, tmp_path):
    "Where the deploy extra isn't installed, export_model writes the torch files, checks them, and says in one line how to add model.onnx."
    code = f"""import sys
sys.modules['onnx'] = None   # as if `pip install companion` had been run without [deploy]
from companion.learner import image_dls, learner
from companion.predict import export_model
out = export_model(learner(image_dls({str(digits37_path)!r}, bs=16)), {str(tmp_path/'m')!r}, n_check=2)
print(sorted(p.name for p in out.iterdir()))"""
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert r.returncode == 0, r.stderr[-2000:]
    assert "['examples', 'model.safetensors', 'preprocess.json']" in r.stdout
    assert 'model.onnx left out' in r.stdout and 'pip install "companion[deploy]"' in r.stdout
    assert json.loads((tmp_path/'m'/'preprocess.json').read_text())['check']['torch_max_abs_diff'] < 1e-5

def test_export_check_names_images_read_differently(digits37_path, tmp_path, capsys):
    "Phone photos stored sideways (EXIF orientation 6), named alike in two label folders: the export check says how many it found and how many it predicted both ways, names each by its label folder, with its |Δp|."
    from companion.learner import image_dls, learner
    from companion.predict import check_export
    root = shutil.copytree(digits37_path, tmp_path/'d')
    for lab in '37':
        f = sorted((root/'valid'/lab).glob('*.png'))[0]
        im = Image.open(f).convert('RGB'); ex = im.getexif(); ex[0x0112] = 6
        im.save(f.with_name('phone.jpg'), exif=ex, quality=95); f.unlink()
    learn = learner(image_dls(root, bs=16))
    out = export_model(learn, tmp_path/'m', n_check=2)
    said = capsys.readouterr().out
    check = json.loads((out/'preprocess.json').read_text())['check']
    rows = check['read_differently']
    assert sorted((r['file'], r['read']) for r in rows) == [('3/phone.jpg', 'EXIF orientation 6'), ('7/phone.jpg', 'EXIF orientation 6')]
    assert check['read_differently_found'] == 2
    assert all(r['max_abs_diff'] > 0 for r in rows)        # fastai reads them sideways, the Space upright: not the same pixels
    looked = sum(min(len(ds.items), 400) for ds in (learn.dls.valid_ds, learn.dls.train_ds))
    assert f"read 2 of the learner's images differently ({looked} looked at); each predicted both ways" in said, said
    for r in rows: assert f"{r['file']} (EXIF orientation 6): " in said and f"max |Δp| {r['max_abs_diff']:.2g}" in said, said
    d = root.resolve()
    assert 'the Space turns it upright' in said and f'fix_images({str(d)!r}) (in a terminal: companion audit {d} --fix)' in said, said
    res = check_export(learn, out, n=2, n_reader=1)         # more found than checked: both counts said
    assert len(res['read_differently']) == 1 and res['read_differently_found'] == 2
    said = capsys.readouterr().out
    assert "read 2 of the learner's images differently" in said and '; 1 of them predicted both ways' in said, said
