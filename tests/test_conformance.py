"""One preprocessing contract, three runtimes: for the course's own pipelines, exported by `export_model`, every realistic upload
(a 4000×3000 JPEG, a phone photo with EXIF orientation 6, alpha, 16 bits, WEBP, an icon, a 1-pixel strip) gives the same pixels and
the same answer in the Python runtime, in the static page's preprocess.js run by Chromium, and in `learn.predict` where fastai reads
the file as the runtime does."""
import base64, json
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from conftest import figure, require
from standins import photo_uploads, unsplit_folder
from companion.runtime import Predictor, preprocess, steps
from companion.predict import _learn_probs

PIXEL_ATOL, PROB_ATOL = 1e-4, 1e-3
FASTAI_READS_ALIKE = ('photo_4000x3000', 'webp', 'icon', 'strip')   # no EXIF rotation, no alpha, 8 bits: fastai opens these as the runtime does
                                                                     # (and the Spaces' examples, validation images, for every model's preprocessing)

def pipelines():
    "name: (DataBlock keyword arguments, data) for the course's pipelines, at sizes a CPU trains quickly."
    from fastai.vision.all import (RandomResizedCrop, Resize, aug_transforms, Normalize, imagenet_stats, ResizeMethod, PadMode)
    P = {'chapter 2: RandomResizedCrop + aug_transforms()': (dict(item_tfms=RandomResizedCrop(64, min_scale=0.3), batch_tfms=aug_transforms()), 'photos'),
         'presizing: Resize + aug_transforms(size, min_scale)': (dict(item_tfms=Resize(96), batch_tfms=aug_transforms(size=64, min_scale=0.75)), 'photos'),
         "lesson 1: Resize(squish)": (dict(item_tfms=Resize(64, method='squish')), 'photos'),
         'Resize pad zeros, Normalize': (dict(item_tfms=Resize(48, method=ResizeMethod.Pad, pad_mode=PadMode.Zeros),
                                              batch_tfms=Normalize.from_stats(*imagenet_stats)), 'photos'),
         'Resize pad border, not square': (dict(item_tfms=Resize((40, 56), method='pad', pad_mode='border')), 'photos'),
         'Resize pad reflection, bicubic': (dict(item_tfms=Resize(48, method='pad', pad_mode='reflection', resamples=(Image.BICUBIC, Image.NEAREST))), 'photos'),
         'Resize crop + aug_transforms(nearest, zeros)': (dict(item_tfms=Resize(72), batch_tfms=aug_transforms(size=(40, 48), mode='nearest', pad_mode='zeros')), 'photos'),
         'no item transform (one-size digits)': (dict(), 'digits'),
         'no item transform + aug_transforms()': (dict(batch_tfms=aug_transforms()), 'digits')}
    try:
        import timm  # noqa: F401
        P['timm by name'] = (dict(item_tfms=Resize(64)), 'photos', 'resnet10t')
    except ImportError: figure('conformance: timm is not installed, so the timm pipeline is left out')
    return P

def ops_of(prep) -> set:
    "The steps of a preprocess.json, each with the parameter values that change what it computes."
    item, batch = steps(prep)
    out = {f"{s['op']}:{s.get('method', '')}:{s.get('pad_mode', '')}" for s in item}
    out |= {f"resample:{'size' if s.get('size') else 'none'}:{s.get('mode')}" if s['op'] == 'resample' else s['op'] for s in batch}
    return out

@pytest.fixture(scope='module')
def corpus(tmp_path_factory, digits37_path):
    "Each pipeline trained for no epoch (its numbers, not its accuracy, are compared), exported, and built as a static Space."
    from fastai.vision.all import DataBlock, ImageBlock, CategoryBlock, get_image_files, RandomSplitter, GrandparentSplitter, parent_label, set_seed
    from companion.learner import learner
    from companion.predict import export_model
    from companion.deploy import build_space
    d = tmp_path_factory.mktemp('conformance')
    photos = unsplit_folder(d/'photos', n_per_class=8, classes=range(3))
    out = {}
    for i, (name, (kw, data, *arch)) in enumerate(pipelines().items()):
        path, split = (photos, RandomSplitter(0.25, seed=42)) if data == 'photos' else (digits37_path, GrandparentSplitter())
        db = DataBlock(blocks=(ImageBlock, CategoryBlock), get_items=get_image_files, splitter=split, get_y=parent_label, **kw)
        set_seed(i)
        learn = learner(db.dataloaders(path, bs=8, num_workers=0), *(arch or ['small_cnn']), pretrained=False)
        model = export_model(learn, d/f'model{i}')                                    # raises if it disagrees with learn.predict
        out[name] = (learn, model, build_space(model, d/f'space{i}', target='static'))
    return out

@pytest.fixture(scope='module')
def uploads(tmp_path_factory, digits37_path):
    return photo_uploads(tmp_path_factory.mktemp('uploads'), Image.open(sorted((digits37_path/'valid').rglob('*.png'))[0]))

def test_corpus_covers_every_step_export_writes(corpus):
    "The pipelines reach every step and parameter value the page and the runtime must agree on."
    seen = set().union(*(ops_of(json.loads((m/'preprocess.json').read_text())) for _, m, _ in corpus.values()))
    want = {'resize:squish:zeros', 'crop_pad::zeros', 'resize:crop:reflection', 'resize:squish:reflection', 'resize:pad:zeros',
            'resize:pad:border', 'resize:pad:reflection', 'fit:crop:border', 'div', 'normalize', 'crop_ratio',
            'resample:size:bilinear', 'resample:none:bilinear', 'resample:size:nearest'}
    assert want <= seen, want - seen

def b64(f) -> str: return base64.b64encode(Path(f).read_bytes()).decode()

def test_python_page_and_fastai_agree_on_realistic_uploads(corpus, uploads, browser):
    "Every model's preprocessing × every upload (and each Space's examples): the page's pixels within 1e-4 of the runtime's, labels equal, |Δp| ≤ 1e-3; learn.predict too where fastai reads the file alike."
    from companion.spacecheck import StaticServer
    n, worst_px, worst_p, worst_fastai, rows = 0, 0., 0., 0., []
    for name, (learn, model, space) in corpus.items():
        prep = json.loads((model/'preprocess.json').read_text())
        files = {**uploads, **{f'example {f.name}': f for f in sorted((space/'examples').iterdir())}}
        pred = Predictor.load(model, backend='onnx')
        fitted = any(s['op'] == 'fit' for s in steps(prep)[0])   # learn.predict runs such a model at any size; the runtime fits uploads to its own
        alike = [k for k in files if k.startswith('example') or (k in FASTAI_READS_ALIKE and not fitted)]
        with StaticServer(space) as s:
            page = browser.new_page()
            page.goto(s.url)
            page.wait_for_function('document.body.dataset.ready', timeout=60_000)
            assert page.evaluate('document.body.dataset.ready') == 'true', (name, page.inner_text('#message'))
            items = [b64(f) for f in files.values()]
            xs = page.evaluate('items => companion.preprocessBase64(items)', items)
            got = page.evaluate('items => companion.predictBase64(items)', items)
            page.close()
        want_p = pred.probs([str(f) for f in files.values()])
        for (kind, f), x, g, wp in zip(files.items(), xs, got, want_p):
            want = preprocess(str(f), prep)
            assert 'error' not in g, (name, kind, g)
            assert (x['c'], x['h'], x['w']) == want.shape, (name, kind, (x['c'], x['h'], x['w']), want.shape)
            px = float(np.abs(np.array(x['data'], np.float32).reshape(want.shape) - want).max())
            dp = float(np.abs(np.array(g['probs']) - wp).max())
            assert px <= PIXEL_ATOL and dp <= PROB_ATOL, (name, kind, px, dp)
            top2 = np.sort(wp)[-2:]
            if top2[1] - top2[0] > 2*PROB_ATOL: assert g['label'] == pred.vocab[int(wp.argmax())], (name, kind)   # a near-tie may go either way
            worst_px, worst_p, n = max(worst_px, px), max(worst_p, dp), n + 1
            if kind in alike:
                (lbl, probs), = _learn_probs(learn, [str(f)])   # learn.predict's, as export_model's own check reads them
                df = float(np.abs(probs - wp).max())
                assert df <= PROB_ATOL, (name, kind, df)
                if top2[1] - top2[0] > 2*PROB_ATOL: assert str(lbl) == pred.vocab[int(wp.argmax())], (name, kind)
                worst_fastai = max(worst_fastai, df)
        rows.append(name)
    figure(f'conformance: {len(rows)} models × {len(uploads)} uploads + their examples = {n} images; page vs runtime: pixels max |Δ| {worst_px:.1e}, '
          f'max |Δp| {worst_p:.1e}; runtime vs learn.predict (on {", ".join(FASTAI_READS_ALIKE)} and the examples): max |Δp| {worst_fastai:.1e}')

def test_a_step_the_page_cannot_run_is_refused_at_build(corpus, tmp_path):
    "A preprocessing step the page has no code for stops build_space before any file is written."
    from companion.deploy import build_space
    _, model, _ = next(iter(corpus.values()))
    bad = tmp_path/'model'
    bad.mkdir()
    for f in model.iterdir():
        if f.is_file(): (bad/f.name).write_bytes(f.read_bytes())
    r = json.loads((bad/'preprocess.json').read_text()); r['batch'].append(dict(op='rotate', angle=90)); (bad/'preprocess.json').write_text(json.dumps(r))
    with pytest.raises(ValueError, match='rotate'): build_space(bad, tmp_path/'space', target='static')
    assert not (tmp_path/'space').exists() or not any((tmp_path/'space').iterdir())
