"""The course's own pipelines, on folders shaped like the students': each one trains briefly, exports with `export_model`, and
`Predictor.load` must give `learn.predict`'s label on every validation image and on odd-sized pictures, with max |Δprob| ≤ 1e-5
(torch) and ≤ 1e-4 (ONNX)."""
import json, os, subprocess, sys, textwrap
from pathlib import Path
import numpy as np
import pytest
from conftest import run_cli
from standins import unsplit_folder, names_folder

from fastai.vision.all import (DataBlock, ImageBlock, CategoryBlock, RandomSplitter, parent_label, get_image_files, RandomResizedCrop,
                               aug_transforms, Resize, ResizeMethod, RegexLabeller, using_attr, Normalize, imagenet_stats, ImageDataLoaders,
                               Learner, vision_learner, resnet18, nn, F)
from companion.learner import learner
from companion.predict import export_model, Predictor, _learn_probs

TORCH_ATOL, ONNX_ATOL = 1e-5, 1e-4

@pytest.fixture(scope='module')
def unsplit(tmp_path_factory): return unsplit_folder(tmp_path_factory.mktemp('search')/'digits', n_per_class=12)

@pytest.fixture(scope='module')
def names(tmp_path_factory): return names_folder(tmp_path_factory.mktemp('pets')/'images', n_per_class=12)

def is_odd(x): return x[0].isupper()   # lesson 1's is_cat, for digits: defined here, as in a notebook

def bears(unsplit, names):
    "The book's chapter 2: RandomResizedCrop on the items, aug_transforms() on the batch, parent_label, valid_pct."
    db = DataBlock(blocks=(ImageBlock, CategoryBlock), get_items=get_image_files, splitter=RandomSplitter(valid_pct=0.2, seed=42),
                   get_y=parent_label, item_tfms=RandomResizedCrop(32, min_scale=0.5), batch_tfms=aug_transforms())
    return learner(db.dataloaders(unsplit, bs=32, num_workers=0))

def presizing(unsplit, names):
    "The book's chapter 5 (pets): RegexLabeller on the file name, Resize then aug_transforms(size, min_scale), Normalize, resnet18."
    db = DataBlock(blocks=(ImageBlock, CategoryBlock), get_items=get_image_files, splitter=RandomSplitter(seed=42),
                   get_y=using_attr(RegexLabeller(r'(.+)_\d+.png$'), 'name'), item_tfms=Resize(72),
                   batch_tfms=[*aug_transforms(size=32, min_scale=0.75), Normalize.from_stats(*imagenet_stats)])
    return vision_learner(db.dataloaders(names, bs=32, num_workers=0), resnet18, pretrained=False)

def squish(unsplit, names):
    "Lesson 2's `Resize(192, method='squish')` on ImageDataLoaders.from_folder with valid_pct, one unsplit folder."
    return learner(ImageDataLoaders.from_folder(unsplit, valid_pct=0.2, seed=42, bs=32, num_workers=0, item_tfms=Resize(36, method='squish')))

def own_module(unsplit, names):
    "A model the student wrote (chapter 4 style), F.cross_entropy, lesson 1's from_name_func with a label function from the notebook."
    dls = ImageDataLoaders.from_name_func(names, get_image_files(names), is_odd, valid_pct=0.2, seed=42, bs=32, num_workers=0, item_tfms=Resize(28))
    net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
                        nn.Flatten(), nn.Linear(16*7*7, 2))
    return Learner(dls, net, loss_func=F.cross_entropy)

def path_re(unsplit, names):
    "from_path_re (the label from the path by a regex), Resize then aug_transforms(size=...) on the batch, nn.CrossEntropyLoss."
    dls = ImageDataLoaders.from_path_re(names, get_image_files(names), pat=r'/([^/]+)_\d+\.png$', valid_pct=0.2, seed=42, bs=32, num_workers=0,
                                        item_tfms=Resize(40), batch_tfms=aug_transforms(size=28))
    return learner(dls, loss_func=nn.CrossEntropyLoss())

def from_df(unsplit, names):
    "from_df: a DataFrame of file names and labels (columns by name: fastai 2.8.7's default fn_col=0 fails under pandas 3), Resize with padding."
    import pandas as pd
    fs = sorted(get_image_files(unsplit))
    df = pd.DataFrame(dict(fname=[str(f.relative_to(unsplit)) for f in fs], label=[f.parent.name for f in fs]))
    dls = ImageDataLoaders.from_df(df, unsplit, fn_col='fname', label_col='label', valid_pct=0.2, seed=42, bs=32, num_workers=0, item_tfms=Resize((24, 40), method='pad', pad_mode='zeros'))
    return learner(dls)

PIPELINES = [bears, presizing, squish, own_module, path_re, from_df]

def _odd_images(n=3, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (int(rng.integers(17, 90)), int(rng.integers(17, 90)), 3), dtype=np.uint8) for _ in range(n)]

def _assert_parity(learn, folder, items):
    want = _learn_probs(learn, items)
    for backend, atol in (('torch', TORCH_ATOL), ('onnx', ONNX_ATOL)):
        p = Predictor.load(folder, backend=backend)
        got = p.predict_batch(items)
        assert [g[0] for g in got] == [w[0] for w in want], backend
        diff = max(float(np.abs(g[2] - w[1]).max()) for g, w in zip(got, want))
        assert diff <= atol, (backend, diff)

@pytest.mark.parametrize('make', PIPELINES, ids=[f.__name__ for f in PIPELINES])
def test_course_pipeline_exports_and_predicts_like_learn_predict(make, unsplit, names, tmp_path):
    learn = make(unsplit, names)
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(1, 3e-3)   # training ends with a validation pass (Flip's split_idx is now 1)
    out = export_model(learn, tmp_path/'model')
    r = json.loads((out/'preprocess.json').read_text())
    assert r['format'] == 'companion.predict/2' and r['vocab'] == [str(v) for v in learn.dls.vocab]
    files = {f.name for f in out.iterdir()}
    assert 'model.onnx' in files and ('model.safetensors' in files if r['arch'] else 'model.pt2' in files)
    items = [learn.dls.valid_ds[i][0] for i in range(len(learn.dls.valid_ds))] + _odd_images()
    _assert_parity(learn, out, items)

def test_steps_do_not_depend_on_split_idx(unsplit, names):
    "fastai's Flip rewrites its split_idx on every call: the preprocessing steps are the same right after a training batch and after a validation pass."
    from companion.predict import learner_preprocess
    learn = bears(unsplit, names)
    learn.dls.train.one_batch()
    before = learner_preprocess(learn, stats=0)
    learn.dls.valid.one_batch()
    assert learner_preprocess(learn, stats=0)['batch'] == before['batch']
    assert [s['op'] for s in before['item']] == ['resize', 'crop_pad'] and [s['op'] for s in before['batch']] == ['div', 'resample']

def test_unsupported_transform_gets_one_sentence(unsplit, names):
    from fastai.vision.all import DihedralItem, Transform
    class Sharpen(Transform):
        order = 5
        def encodes(self, x): return x
    db = DataBlock(blocks=(ImageBlock, CategoryBlock), get_items=get_image_files, splitter=RandomSplitter(seed=42), get_y=parent_label,
                   item_tfms=[Resize(32), Sharpen(), DihedralItem()])
    learn = learner(db.dataloaders(unsplit, bs=32, num_workers=0))
    with pytest.raises(NotImplementedError, match=r"can't reproduce the item transform Sharpen at inference: use item_tfms=Resize"):
        export_model(learn, '/nonexistent/never-written')

NOTEBOOK = '''
import sys
from fastai.vision.all import *
def is_odd(x): return x[0].isupper()          # defined in the notebook, as lesson 1's is_cat
path = Path(sys.argv[1])
dls = ImageDataLoaders.from_name_func(path, get_image_files(path), is_odd, valid_pct=0.2, seed=42, bs=32, num_workers=0, item_tfms=Resize(32))
learn = vision_learner(dls, resnet18, pretrained=False, metrics=error_rate)
learn.fit_one_cycle(1)
learn.export(Path(sys.argv[2]).absolute())
'''

def test_course_export_pkl_with_notebook_label_function(names, tmp_path):
    "A lesson-1 export.pkl whose label function lived in the notebook: `companion export export.pkl DIR` writes the same pickle-free folder."
    (tmp_path/'notebook.py').write_text(NOTEBOOK)
    res = subprocess.run([sys.executable, 'notebook.py', str(names), str(tmp_path/'export.pkl')], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    res = run_cli('export', tmp_path/'export.pkl', tmp_path/'model', '--trust_pickle')
    assert res.returncode == 0, res.stderr
    assert 'is a pickle' in res.stderr and 'check' in res.stdout
    r = json.loads((tmp_path/'model'/'preprocess.json').read_text())
    assert r['vocab'] == ['False', 'True'] and r['arch']['name'] == 'resnet18' and r['item'][0]['size'] == [32, 32]
    import warnings
    from companion.predict import load_learner_safely
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        learn = load_learner_safely(tmp_path/'export.pkl', trust=True)
    _assert_parity(learn, tmp_path/'model', sorted(names.glob('*.png'))[:12] + _odd_images())
