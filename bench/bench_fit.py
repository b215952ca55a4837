"""Does a model trained without Resize keep its answer when the upload is bigger? The small CNN on the 28-px digits (no Resize, as
lesson 2 trains it), or an exported model folder (`--model`, e.g. lesson2/model): validation digits enlarged to 280 and 900 px and put
in the middle of a 4000×3000 photo. For each, the share that keeps the label the digit gets at 28 px: fastai's own path (`learn.predict`,
which runs the model at the upload's size), and companion's `fit` step with each method (crop, the one export_model writes; pad).

    .venv/bin/python bench/bench_fit.py [--per_class 3] [--model DIR]
"""
import argparse, contextlib, json, os, sys, tempfile, warnings
from pathlib import Path
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tests'))

def main(argv=None):
    p = argparse.ArgumentParser(prog='bench_fit')
    p.add_argument('--per_class', type=int, default=3, help='validation digits per class')
    p.add_argument('--model', default=None, help='an exported model folder with examples of the digits (None: train the small CNN here, 5 epochs)')
    a = p.parse_args(argv)
    warnings.filterwarnings('ignore')
    from PIL import Image
    from companion.data import digits
    from companion.runtime import Predictor
    from test_journeys import sizes_of
    tmp = Path(tempfile.mkdtemp())
    with contextlib.redirect_stdout(open(os.devnull, 'w')): data = digits(tmp/'digits')
    learn = None
    if a.model: model = Path(a.model)
    else:
        from fastai.vision.all import set_seed
        from companion.learner import image_dls, learner
        from companion.predict import export_model
        set_seed(42, reproducible=True)
        learn = learner(image_dls(data))
        with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(5, 3e-3)
        model = export_model(learn, tmp/'model')
    files = [f for d in range(10) for f in sorted((data/'valid'/str(d)).glob('*.png'))[:a.per_class]]
    (tmp/'up').mkdir()
    sets = [sizes_of(f, tmp/'up') for f in files]   # 28, 280, 900 px, 4000×3000
    pred = Predictor.load(model, backend='onnx')
    base = json.loads((model/'preprocess.json').read_text())
    fit = next(s for s in base['item'] if s['op'] == 'fit')
    rows = {}
    for method in ('crop', 'pad'):
        pred.preprocess = {**base, 'item': [{**fit, 'method': method}]}
        labels = [[pred.predict(str(p))[0] for p in s] for s in sets]
        rows[f'fit, {method}'] = [np.mean([l[j] == l[0] for l in labels]) for j in (1, 2, 3)]
    if learn is not None:
        with learn.no_bar():
            labels = [[str(learn.predict(str(p))[0]) for p in s] for s in sets]
        rows['fastai learn.predict'] = [np.mean([l[j] == l[0] for l in labels]) for j in (1, 2, 3)]
    print(f'{len(files)} validation digits ({a.per_class} per class), model {"trained here" if learn else model}: share keeping the 28-px label')
    print(f"{'path':<22}{'280 px':>8}{'900 px':>8}{'4000×3000':>11}")
    for k, v in rows.items(): print(f'{k:<22}' + ''.join(f'{x:>8.0%}' for x in v[:2]) + f'{v[2]:>11.0%}')

if __name__ == '__main__': main()
