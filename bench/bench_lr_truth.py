"""Is the learning rate lr_report picks a good one? Ground truth for each course pipeline: the same short training (a fixed budget
of batches, same seed) at 9 log-spaced learning rates, and at every suggestion (companion's pick, fastai's valley, minimum, steep,
slide). Each suggestion's score is the valid loss it reaches divided by the best valid loss of all those runs (1.00 = the best).
Goals: companion's pick within 1.15x of the best on every pipeline and never more than 5 % worse than fastai's valley.

Pipelines: the digits small_cnn; the book's chapter-2 resnet18 (RandomResizedCrop + aug_transforms) on stand-in photos at 64 and
128 px; presizing; chapter-2 with a body pretrained here on the digits (frozen, as fine_tune starts); lesson 3's MLP and the
chapter-4 linear model on the 3s and 7s (SGD, mnist_loss, fit); a hand-written nn.Sequential; a timm model where timm is installed.
It also times lr_report against one epoch of each pipeline.

    .venv/bin/python bench/bench_lr_truth.py [--only NAME ...] [--save]   # --save: write the curves and runs to tests/fixtures/lr_curves/
"""
import argparse, contextlib, io, json, math, os, sys, tempfile, time, warnings
from pathlib import Path
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tests'))
FIXTURES = ROOT/'tests'/'fixtures'/'lr_curves'
SWEEP = np.logspace(-5, 0.5, 9)   # the ground-truth grid: 1e-5 to 3.2, 0.69 decades apart
SEED = 0
SEEDS = (0, 1)   # every run is trained with each, and scored by the mean: one seed alone moves a valid loss up to 2x

def quiet(): return contextlib.redirect_stdout(io.StringIO())

class Data:
    "The folders every pipeline trains on, made once: the 28-px digits, the 3s and 7s, stand-in photos of three labels."
    def __init__(self, tmp: Path):
        from companion.data import digits
        from test_journeys import photo_folder
        with quiet(), contextlib.redirect_stderr(io.StringIO()):
            self.digits = digits(tmp/'digits')
            self.d37 = digits(tmp/'digits37', classes=('3', '7'))
        self.photos = photo_folder(tmp/'photos', n_per_class=36)
        self.tmp = tmp

def chapter2(data, size, bs=16, presize=False, pretrained=False):
    "The book's chapter-2 DataBlock and `vision_learner(resnet18)`, on the stand-in photos."
    from fastai.vision.all import DataBlock, ImageBlock, CategoryBlock, get_image_files, RandomSplitter, parent_label, \
        RandomResizedCrop, Resize, aug_transforms, vision_learner, resnet18, error_rate
    item, batch = (Resize(int(size*1.5)), aug_transforms(size=size, min_scale=0.75)) if presize else \
                  (RandomResizedCrop(size, min_scale=0.5), aug_transforms())
    db = DataBlock(blocks=(ImageBlock, CategoryBlock), get_items=get_image_files, splitter=RandomSplitter(valid_pct=0.2, seed=42),
                   get_y=parent_label, item_tfms=item, batch_tfms=batch)
    return vision_learner(db.dataloaders(data.photos, bs=bs, num_workers=0), resnet18, metrics=error_rate, pretrained=pretrained)

def pretrain_body(data, size=64):
    "A resnet18 trained here on the ten digits, put where torchvision looks for resnet18's weights: a pretrained-shaped body, offline."
    import torch
    from torchvision.models import ResNet18_Weights
    from fastai.vision.all import set_seed, vision_learner, resnet18
    from companion.learner import image_dls
    home = data.tmp/'torch_home'; os.environ['TORCH_HOME'] = str(home)
    f = home/'hub'/'checkpoints'/Path(ResNet18_Weights.DEFAULT.url).name
    if f.exists(): return
    set_seed(SEED, reproducible=True)
    learn = vision_learner(image_dls(data.digits, size=size, bs=64), resnet18, pretrained=False)
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(2, 3e-3)
    body = learn.model[0]
    import torchvision
    net = torchvision.models.resnet18()
    names = [k for k in net.state_dict() if not k.startswith('fc.')]
    sd = dict(zip(names, body.state_dict().values()))
    sd.update({k: v for k,v in net.state_dict().items() if k.startswith('fc.')})
    f.parent.mkdir(parents=True, exist_ok=True); torch.save(sd, f)

def mnist37(data, model):
    "The book's chapter-4 Learner on the 3s and 7s: `DataLoaders(dl, valid_dl)`, SGD, mnist_loss, batch_accuracy."
    from companion.foundations.mnist import load_37, mnist_dls, mnist_learner
    return mnist_learner(mnist_dls(*load_37(data.d37), bs=32), model)

def sequential(data):
    "A hand-written `nn.Sequential` on the ten digits, with fastai's defaults (Adam, cross-entropy)."
    from torch import nn
    from fastai.vision.all import Learner, CrossEntropyLossFlat, accuracy
    from companion.learner import image_dls
    net = nn.Sequential(nn.Flatten(), nn.Linear(3*28*28, 64), nn.ReLU(), nn.Linear(64, 10))
    return Learner(image_dls(data.digits, bs=64), net, loss_func=CrossEntropyLossFlat(), metrics=accuracy)

def timm_learner(data):
    from fastai.vision.all import vision_learner, error_rate
    return vision_learner(chapter2(data, 64).dls, 'resnet18', metrics=error_rate, pretrained=False)

# name: (make a learner from Data, how it trains for the truth: 'one_cycle', 'fit' (the book's chapter 4) or 'fine_tune', epochs)
def pipelines():
    from torch import nn
    from companion.learner import learner, image_dls
    from companion.foundations.mnist import simple_net
    p = {
        'readme_digits37':        (lambda d: learner(image_dls(d.d37)), 'one_cycle', 3),   # the README's first cell: train(image_dls(path), epochs=3)
        'digits_small_cnn':       (lambda d: learner(image_dls(d.digits)), 'one_cycle', 3),
        'ch2_resnet18_64':        (lambda d: chapter2(d, 64), 'one_cycle', 4),
        'ch2_resnet18_128':       (lambda d: chapter2(d, 128), 'one_cycle', 4),
        'presizing_resnet18_64':  (lambda d: chapter2(d, 64, presize=True), 'one_cycle', 4),
        'ch2_resnet18_64_pretrained': (lambda d: (pretrain_body(d), chapter2(d, 64, pretrained=True))[1], 'fine_tune', 4),
        'lesson3_mlp_37':         (lambda d: mnist37(d, simple_net()), 'fit', 10),
        'ch4_linear_37':          (lambda d: mnist37(d, nn.Linear(28*28, 1)), 'fit', 10),
        'sequential_digits':      (lambda d: sequential(d), 'one_cycle', 3),
    }
    try:
        import timm  # noqa: F401
        p['timm_resnet18_64'] = (timm_learner, 'one_cycle', 4)
    except ImportError: pass
    return p

def fresh(make, data, seed=SEED):
    from fastai.vision.all import set_seed
    set_seed(seed, reproducible=True)
    with quiet(): return make(data)

def valid_loss(make, how, epochs, lr, data, seed=SEED) -> float:
    "Train a fresh learner (weights and batches from `seed`) for the budget at `lr`; its valid loss (inf when it blew up)."
    from fastai.vision.all import set_seed
    learn = fresh(make, data, seed)
    set_seed(seed, reproducible=True)
    with learn.no_bar(), learn.no_logging(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        if how == 'fine_tune': learn.fine_tune(epochs-1, lr)
        elif how == 'fit': learn.fit(epochs, lr)
        else: learn.fit_one_cycle(epochs, lr)
        v = float(learn.validate()[0])
    return v if math.isfinite(v) else float('inf')

def chance(learn) -> float:
    "A random guess's valid loss: ln C for cross-entropy, 0.5 for the book's mnist_loss (a sigmoid at 0.5)."
    return math.log(learn.dls.c) if 'CrossEntropy' in type(learn.loss_func).__name__ else 0.5

def curve(make, data, how) -> tuple:
    "lr_report's curve on a fresh learner (seconds it took, and seconds of one epoch of training for the ratio)."
    from fastai.vision.all import set_seed
    learn = fresh(make, data)
    if how != 'fine_tune': learn.unfreeze()
    set_seed(SEED, reproducible=True)
    t = time.perf_counter()
    with learn.no_bar(), quiet(): rep = learn.lr_report(show_plot=False)
    t_lr = time.perf_counter() - t
    t = time.perf_counter()
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-9)
    return rep, t_lr, time.perf_counter() - t, chance(learn)

def score(runs: dict, lr) -> float:
    "The valid loss of the run at `lr` (runs are keyed by lr rounded to 3 significant figures)."
    return runs.get(f'{lr:.3g}', float('nan')) if lr else float('nan')

def run(seeds: dict, make, how, epochs, lr, data):
    "Train at `lr` (3 significant figures) with each seed, unless done: `seeds[lr] = [valid loss per seed]`."
    if lr and f'{lr:.3g}' not in seeds: seeds[f'{lr:.3g}'] = [valid_loss(make, how, epochs, float(f'{lr:.3g}'), data, s) for s in SEEDS]

def noise(res) -> float:
    "The truth's own noise: the median, over the runs that didn't blow up, of the worse seed's valid loss over the better's."
    r = [max(v)/min(v) for v in res.get('seeds', {}).values() if all(map(math.isfinite, v)) and min(v) > 0]
    return float(np.median(r)) if r else float('nan')

def bench(name, make, how, epochs, data) -> dict:
    from companion.lr import LRReport
    rep, t_lr, t_epoch, guess = curve(make, data, how)
    sugg = {k: v for k,v in rep.suggestions.items() if k in ('valley', 'minimum', 'steep', 'slide')}
    r = LRReport.from_curve(rep.lrs, rep.losses)
    seeds = {}
    for lr in [*SWEEP, r.pick, r.fall, *sugg.values()]: run(seeds, make, how, epochs, lr, data)
    runs = {k: float(np.mean(v)) for k,v in seeds.items()}
    return dict(name=name, how=how, epochs=epochs, lrs=rep.lrs, losses=rep.losses, runs=runs, seeds=seeds, suggestions=sugg, chance=guess,
                seconds_lr_report=t_lr, seconds_epoch=t_epoch, pick=r.pick, pick_name=r.pick_name, reason=r.reason)

COLS = ['fall', 'valley', 'minimum', 'steep', 'slide']

def sweep_best(res) -> float:
    "The best valid loss of the 9-lr sweep: what every suggestion is measured against."
    return min(res['runs'][f'{lr:.3g}'] for lr in SWEEP)

def learnable(res) -> bool:
    "Did training help? The sweep's best must beat its smallest lr (1e-5, next to no training) by 10 %, or the pipeline can't judge a pick."
    return sweep_best(res) < 0.9*res['runs'][f'{SWEEP[0]:.3g}']

def ratios(res) -> dict:
    "Each suggestion's valid loss (its own run) over the sweep's best; the readings and the pick replayed from the curve with today's rules."
    from companion.lr import LRReport
    runs, best = res['runs'], sweep_best(res)
    rep = LRReport.from_curve(res['lrs'], res['losses'])     # as lr_report read it (num_it=100)
    lrs = {**rep.suggestions, 'pick': rep.pick}
    return {c: score(runs, lrs.get(c))/best for c in ['pick', *COLS]}

def table(results: list) -> dict:
    "Each suggestion's valid loss over the best run's, per pipeline; companion's pick against the goals; the worst per suggestion."
    from companion.lr import LRReport
    print(f"\n{'pipeline':<28}{'best lr':>9}{'pick lr':>9}{'pick':>8}" + ''.join(f'{c:>9}' for c in COLS) + f"{'seed noise':>11}{'lr_report/epoch':>17}")
    ok, worst = True, {c: (0., '') for c in ['pick', *COLS]}
    f = lambda v, w=9: f'{v:>{w}.2f}' if math.isfinite(v) else f"{'—' if math.isnan(v) else 'inf':>{w}}"
    for res in results:
        runs = res['runs']
        r = ratios(res); pick = LRReport.from_curve(res['lrs'], res['losses']).pick
        best_lr = min(SWEEP, key=lambda lr: runs[f'{lr:.3g}'])
        nz = noise(res)
        judged = learnable(res)
        if judged:
            ok &= r['pick'] <= 1.15 and r['pick'] <= 1.05*r['valley']
            worst = {c: max(worst[c], (r[c], res['name'])) for c in worst}   # nan (no run) fails the test that replays these
        print(f"{res['name'] + ('' if judged else ' *'):<28}{best_lr:>9.1e}{(pick or float('nan')):>9.1e}{f(r['pick'], 8)}" +
              ''.join(f(r[c]) for c in COLS) + f(nz, 11) +
              f"{res['seconds_lr_report']/res['seconds_epoch']:>12.1f}x ({res['seconds_lr_report']:.0f} s)")
    print(f"\nvalid loss / the best valid loss of the {len(SWEEP)}-lr sweep (1.00 = as good; below 1: better than the whole sweep; inf: it blew up).")
    print(f"each run is the mean of {len(SEEDS)} seeds; seed noise: the median over runs of one seed's valid loss over the other's.")
    print(f"* training did not help in this budget (the sweep's best is within 10 % of lr {SWEEP[0]:.0e}): not judged.")
    print('worst over the judged pipelines: ' + ', '.join(f'{c} {v:.2f} ({n})' for c,(v,n) in worst.items()))
    print('goal met: the pick within 1.15x of the best and within 5 % of valley on every judged pipeline' if ok else
          'goal missed: the pick is over 1.15x the best, or over 5 % worse than valley, on a judged pipeline above')
    return worst

def journey(data, literal=False) -> dict:
    """The README's chapter-2 cells on the stand-in photos, with a pretrained-shaped resnet18: `rep = learn.lr_report()`,
    `learn.fine_tune(4, rep.pick)`, against the same cells with fastai's valley. `literal`: run `lr_find()` for the valley as the
    book does; otherwise read fastai's valley off lr_report's curve (the same function on the same curve, one run less)."""
    from fastai.vision.all import DataBlock, ImageBlock, CategoryBlock, get_image_files, RandomSplitter, parent_label, \
        RandomResizedCrop, aug_transforms, vision_learner, resnet18, error_rate, set_seed
    import companion.lr  # noqa: F401  (learn.lr_report)
    pretrain_body(data)
    from test_journeys import photo_folder
    path = data.tmp/'bears'
    if not path.exists(): photo_folder(path, n_per_class=100)   # 240 training photos: 3 batches of 64 an epoch
    def cells():
        set_seed(SEED, reproducible=True)
        bears = DataBlock(blocks=(ImageBlock, CategoryBlock), get_items=get_image_files, splitter=RandomSplitter(valid_pct=0.2, seed=42),
                          get_y=parent_label, item_tfms=RandomResizedCrop(128, min_scale=0.3), batch_tfms=aug_transforms())
        learn = vision_learner(bears.dataloaders(path, num_workers=0), resnet18, metrics=error_rate)
        learn.path = data.tmp                      # lr_find saves its temporary model under learn.path/models
        return learn
    out = {}
    learn = cells()
    with learn.no_bar(), quiet(): rep = learn.lr_report(show_plot=False)
    lrs = dict(pick=rep.pick, valley=rep.valley)
    if literal:
        learn = cells()
        with learn.no_bar(), quiet(): lrs['valley'] = float(learn.lr_find(show_plot=False).valley)
    for k, lr in lrs.items():
        learn = cells()
        set_seed(SEED, reproducible=True)
        with learn.no_bar(), learn.no_logging():
            learn.fine_tune(4, lr)
            v = learn.validate()
        out[k] = dict(lr=lr, valid_loss=float(v[0]), error_rate=float(v[1]))
    print(f"\nthe README's chapter-2 cells, fine_tune(4) at the lr of (valid loss, error rate):")
    for k, v in out.items(): print(f"  {'lr_report pick' if k == 'pick' else 'fastai valley':<16}{v['lr']:>9.1e}{v['valid_loss']:>9.3f}{v['error_rate']:>8.1%}")
    r = out['pick']['valid_loss']/out['valley']['valid_loss']
    print(f"  pick / valley valid loss: {r:.2f} ({'lower or within 5 %' if r <= 1.05 else 'HIGHER than valley by more than 5 %'})")
    return out

def main(argv=None):
    p = argparse.ArgumentParser(prog='bench_lr_truth')
    p.add_argument('--only', nargs='*', help='pipelines to run (default: all)')
    p.add_argument('--save', action='store_true', help='write curves and runs to tests/fixtures/lr_curves/')
    p.add_argument('--replay', action='store_true', help='no training: read the saved fixtures, train only lrs not run before')
    p.add_argument('--journey', choices=['yes', 'no', 'literal', 'only'], default='yes',
                   help="the README's chapter-2 cells, pick against valley ('literal': lr_find() run for the valley; 'only': that alone)")
    a = p.parse_args(argv)
    warnings.filterwarnings('ignore')
    import torch; torch.set_num_threads(int(os.environ.get('BENCH_THREADS', os.cpu_count() or 1)))   # 1 when another bench shares the cores
    tmp = Path(tempfile.mkdtemp())
    ps = pipelines()
    if 'timm_resnet18_64' not in ps: print('timm is not installed: its pipeline is left out')
    names = [] if a.journey == 'only' else a.only or list(ps)
    results, data = [], None
    for n in names:
        fx = FIXTURES/f'{n}.json'
        if a.replay and fx.exists():
            res = json.loads(fx.read_text())
            from companion.lr import LRReport
            rep = LRReport.from_curve(res['lrs'], res['losses'])
            for lr in [rep.pick, *rep.suggestions.values()]:   # a changed rule: train what it reads now
                if lr and f'{lr:.3g}' not in res['seeds']:
                    data = data or Data(tmp)
                    run(res['seeds'], *ps[n], lr, data)
            res['runs'] = {k: float(np.mean(v)) for k,v in res['seeds'].items()}
            res.update(pick=rep.pick, pick_name=rep.pick_name, reason=rep.reason,
                       suggestions={k: v for k,v in rep.suggestions.items() if k != 'fall'})
        else:
            data = data or Data(tmp)
            t = time.perf_counter()
            res = bench(n, *ps[n], data)
            print(f'{n}: {time.perf_counter()-t:.0f} s, pick {res["pick"]:.2e} ({res["pick_name"]})', flush=True)
        if a.save or a.replay:
            FIXTURES.mkdir(parents=True, exist_ok=True)
            fx.write_text(json.dumps(res, indent=0, default=float))
        results.append(res)
    if results: table(results)
    if a.journey != 'no': journey(data or Data(tmp), literal=a.journey in ('literal', 'only'))

if __name__ == '__main__': main()
