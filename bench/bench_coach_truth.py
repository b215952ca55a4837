"""Benchmark: the coach's verdicts against what more training does (issue 21).
Each run trains a course pipeline N epochs from a fixed seed and lets `learn.coach()` speak; then the same recipe and seed
trains 1.5x N epochs from scratch, and `verdict_holds` says whether that bore the verdict out (underfitting: a real gain;
good: none; overfitting: the valid loss rose; diverged, not_learning: no recovery at the same lr). Goal: >= 90 % agree.
Run: .venv/bin/python bench/bench_coach_truth.py [--quick] [--save] [--replay]
  --quick   the cheaper half of the runs (no resnet18, no 8-epoch runs)
  --save    write each run's curves and outcome to tests/fixtures/coach/ (what tests/test_coach.py replays)
  --replay  train nothing: read the verdicts again from tests/fixtures/coach/ (to tune the rules)"""
import argparse, contextlib, io, json, math, sys, tempfile, time, warnings
from pathlib import Path
import matplotlib; matplotlib.use('Agg')
import torch
from fastai.vision.all import set_seed, aug_transforms
from companion.data import digits, flip_labels
from companion.learner import learner, image_dls, folder_dls
from companion.foundations.mnist import load_37, mnist_dls, mnist_learner, simple_net
from companion.train import LossHistory, random_guess, inflated_train_loss, replay, _jsonable
sys.path.insert(0, str(Path(__file__).parents[1]/'tests'))
from standins import unsplit_folder

FIXTURES = Path(__file__).parents[1]/'tests'/'fixtures'/'coach'
SEED, LR = 42, 1e-2            # LR: a sound learning rate for the small CNN on the digits (lr_report picks near it)
tmp = Path(tempfile.mkdtemp())
torch.set_num_threads(1)       # on a shared 2-core machine two threads each in two processes run several times slower than one

def _data():
    "The folders the runs read, made once: digits, digits with 10 % wrong labels everywhere and 20 % in train, stand-in photos, 3s and 7s."
    d = dict(digits=digits(tmp/'digits'), d37=digits(tmp/'d37', classes=('3', '7')))
    d['noisy10'] = digits(tmp/'noisy10'); flip_labels(d['noisy10'], 0.10, splits=('train', 'valid'))   # lesson 2 before cleaning
    d['noisy20'] = digits(tmp/'noisy20'); flip_labels(d['noisy20'], 0.20)
    d['photos'] = unsplit_folder(tmp/'photos', n_per_class=50)
    d['tiny'] = tmp/'tiny'                                    # 10 training images of each of 3 and 7, 50 to validate
    for split, n in (('train', 10), ('valid', 50)):
        for lab in ('3', '7'):
            (d['tiny']/split/lab).mkdir(parents=True)
            for f in sorted((d['d37']/split/lab).iterdir())[:n]: (d['tiny']/split/lab/f.name).write_bytes(f.read_bytes())
    return d

def cnn(key, **kw):  return lambda d: learner(image_dls(d[key], **kw.pop('dls', {})), **kw)
def aug(key):        return lambda d: learner(image_dls(d[key], batch_tfms=aug_transforms(do_flip=False, max_rotate=10.)))
def photos():        return lambda d: learner(folder_dls(d['photos'], size=64, bs=32, quiet=True), 'resnet18', pretrained=False)
def book(model=None):
    "Chapter 4: plain DataLoaders of (pixels, 0/1) pairs, SGD, mnist_loss, batch_accuracy."
    return lambda d: mnist_learner(mnist_dls(*load_37(d['d37'])), model() if model else None)

# name, learner maker, epochs, lr, fit method, in --quick
RUNS = [
    ('digits cnn 1 ep',              cnn('digits'), 1, LR, 'one_cycle', True),
    ('digits cnn 3 ep',              cnn('digits'), 3, LR, 'one_cycle', True),
    ('digits cnn 8 ep',              cnn('digits'), 8, LR, 'one_cycle', False),
    ('resnet18 64px photos 1 ep',    photos(), 1, 1e-3, 'one_cycle', False),
    ('resnet18 64px photos 3 ep',    photos(), 3, 1e-3, 'one_cycle', False),
    ('resnet18 64px photos 8 ep',    photos(), 8, 1e-3, 'one_cycle', False),
    ('lesson 2 before cleaning',     aug('noisy10'), 4, LR, 'one_cycle', True),
    ('lesson 2 after cleaning',      aug('digits'), 4, LR, 'one_cycle', True),
    ('lr 10x too high',              cnn('digits'), 3, 10*LR, 'one_cycle', True),
    ('lr 100x too low',              cnn('digits'), 3, LR/100, 'one_cycle', True),
    ('lr 100x too high',             cnn('digits'), 3, 100*LR, 'one_cycle', True),
    ('lr 1000x too low',             cnn('digits'), 3, LR/1000, 'one_cycle', True),
    ('20 % wrong labels 8 ep',       cnn('noisy20'), 8, LR, 'one_cycle', False),
    ('tiny set, no dropout, 10 ep',  cnn('tiny', dls=dict(bs=5), ps=0), 10, 3e-3, 'fit', True),
    ('ch4 linear 2 ep',              book(), 2, 1., 'fit', True),
    ('ch4 linear 10 ep',             book(), 10, 1., 'fit', True),
    ('ch4 simple_net 3 ep',          book(simple_net), 3, .1, 'fit', True),
    ('ch4 simple_net 20 ep',         book(simple_net), 20, .1, 'fit', False),
]

def longer(n: int) -> int: return math.ceil(1.5*n)

def fit(make, data, epochs, lr, method):
    "A fresh learner from the seed, trained `epochs`: the learner and every batch loss and epoch row (`LossHistory`)."
    set_seed(SEED, reproducible=True)
    learn = make(data); learn.unfreeze()
    hist = LossHistory()
    with learn.no_bar(), learn.no_logging(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        (learn.fit_one_cycle if method == 'one_cycle' else learn.fit)(epochs, lr, cbs=[hist])
    return learn, hist.history()

def run(name, make, epochs, lr, method, data) -> dict:
    "Train N epochs and coach; train the same recipe 1.5x N epochs; the record a fixture keeps."
    t = time.perf_counter()
    learn, h = fit(make, data, epochs, lr, method)
    c = getattr(learn.dls, 'c', None); c = c if isinstance(c, int) else None    # the book's 3-vs-7 DataLoaders have no .c
    guess, inflated = random_guess(learn.loss_func, c), inflated_train_loss(learn)
    said = learn.coach(history=h, show_plot=False)
    _, after = fit(make, data, longer(epochs), lr, method)
    return dict(name=name, epochs=epochs, longer=longer(epochs), lr=lr, method=method, n_classes=c or 2, guess=list(guess), inflated=inflated,
                verdict=said.verdict, reason=said.reason, history=h, after=dict(names=after['names'], rows=after['rows']),
                seconds=time.perf_counter() - t)

def _fname(name: str) -> str: return ''.join(ch if ch.isalnum() else '_' for ch in name).strip('_') + '.json'

def table(recs: list) -> float:
    "Print one row per run and the agreement share; return it."
    print(f"{'run':30} {'ep':>6} {'verdict':13} {'acc':>6} {'more training did':40} agree")
    ok = 0
    for rec in recs:
        c, did, holds = replay(rec); ok += holds
        what = (f"{did['points']:+5.1f} pts, valid loss {did['valid_change']:+.0%}" if math.isfinite(did['valid_change']) else f"{did['points']:+5.1f} pts, valid loss not finite") + \
               (' (gain)' if did['gain'] else '') + (' (recovered)' if did['recovered'] and c.verdict in ('diverged', 'not_learning') else '')
        acc = c.evidence.get('final_accuracy', c.evidence.get('final_batch_accuracy', float('nan')))
        print(f"{rec['name']:30} {rec['epochs']:>2}→{rec['longer']:<3} {c.verdict:13} {acc:6.3f} {what:40} {'yes' if holds else 'NO'}")
    share = ok/len(recs)
    print(f'agreement: {ok}/{len(recs)} = {share:.0%}  [goal >= 90 %: {"met" if share >= 0.9 else "NOT met"}]')
    return share

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--quick', action='store_true'); ap.add_argument('--save', action='store_true'); ap.add_argument('--replay', action='store_true')
    a = ap.parse_args()
    if a.replay:
        order = {_fname(r[0]): i for i, r in enumerate(RUNS)}
        recs = [json.loads(f.read_text()) for f in sorted(FIXTURES.glob('*.json'), key=lambda f: order.get(f.name, len(order)))]
        if not recs: sys.exit(f'no fixtures in {FIXTURES}: run this bench with --save first')
        return table(recs)
    t0, data, recs = time.perf_counter(), _data(), []
    for name, make, epochs, lr, method, quick in RUNS:
        if a.quick and not quick: continue
        with contextlib.redirect_stdout(io.StringIO()): rec = run(name, make, epochs, lr, method, data)
        recs.append(rec); print(f"  trained {name}: {rec['epochs']} and {rec['longer']} epochs in {rec['seconds']:.0f} s", flush=True)
        if a.save:
            FIXTURES.mkdir(parents=True, exist_ok=True)
            (FIXTURES/_fname(name)).write_text(json.dumps(_jsonable(rec), separators=(',', ':')) + '\n')
    table(recs)
    print(f'{len(recs)} runs, each at N and 1.5x N epochs from seed {SEED}, in {time.perf_counter()-t0:.0f} s')

if __name__ == '__main__': main()
