"The coach on any fastai Learner: the book's plain DataLoaders, a multi-label (BCE) learner, a regression; and its verdicts replayed against what more training did."
import json, math
from pathlib import Path
import pytest
from torch import nn
from fastcore.test import test_eq as _eq, test_close as _close
from fastai.vision.all import (set_seed, Learner, SGD, MSELossFlat, DataBlock, ImageBlock, MultiCategoryBlock, GrandparentSplitter,
                               get_image_files, accuracy_multi)
from companion.learner import learner
from companion.foundations.mnist import load_37, mnist_dls, mnist_learner
from companion.train import replay

FIXTURES = Path(__file__).parent/'fixtures'/'coach'

def _fit(learn, epochs, lr):
    set_seed(0, reproducible=True)
    with learn.no_bar(), learn.no_logging(): learn.fit(epochs, lr)
    return learn.coach(show_plot=False)

@pytest.fixture(scope='module')
def xy37(digits37_path): return load_37(digits37_path)

def test_book_dataloaders(xy37):
    "Chapter 4: `DataLoaders(dl, valid_dl)` of plain fastai DataLoaders (after_item is a function there), SGD and `mnist_loss`."
    set_seed(0); c = _fit(mnist_learner(mnist_dls(*xy37)), 3, 1.)
    assert c.verdict in ('underfitting', 'good', 'overfitting'), c             # it learns: 3 vs 7 is easy for the linear model
    assert c.evidence['random_guess'] is None and c.reason.count('random-guess level') == 1, c.reason
    assert c.reason.endswith('The random-guess level of mnist_loss is unknown to the coach, so only the shape of the curves was read.')

def test_multilabel_quotes_ln2(digits_path):
    "BCE averages over the labels, so a random guess scores ln 2 = 0.693 whatever the number of labels (here 12), not ln 12."
    parity = lambda p: [p.parent.name, 'even' if int(p.parent.name) % 2 == 0 else 'odd']
    dls = DataBlock((ImageBlock, MultiCategoryBlock), get_items=get_image_files, get_y=parity,
                    splitter=GrandparentSplitter(valid_name='valid')).dataloaders(digits_path, bs=64, num_workers=0)
    _eq(dls.c, 12)
    set_seed(0); c = _fit(learner(dls, metrics=accuracy_multi), 1, 1e-7)    # far too low a learning rate: the loss stays at a guess's
    assert c.verdict == 'not_learning', c
    _close(c.evidence['random_guess'], math.log(2))
    assert 'a random guess scores ln 2 = 0.693 per label' in c.reason and '2.48' not in c.reason, c.reason

def test_regression_has_no_random_guess(xy37):
    "A regression loss has no random-guess level: the coach says so and reads the curves' shape."
    tx, ty, vx, vy = xy37
    set_seed(0)
    learn = Learner(mnist_dls(tx, ty, vx, vy), nn.Linear(28*28, 1), loss_func=MSELossFlat(), opt_func=SGD)
    c = _fit(learn, 3, 1e-3)
    assert c.verdict in ('underfitting', 'good'), c
    assert c.evidence['random_guess'] is None and 'MSELoss is a regression loss, which has no random-guess level' in c.reason, c.reason

def test_replayed_verdicts_agree_with_more_training():
    "The curves bench/bench_coach_truth.py read: each verdict, read again, against what 1.5x the epochs did (goal >= 90 %)."
    out = [(rec, *replay(rec)[::2]) for rec in (json.loads(f.read_text()) for f in sorted(FIXTURES.glob('*.json')))]
    assert len(out) >= 10, f'{len(out)} fixtures in {FIXTURES}: run .venv/bin/python bench/bench_coach_truth.py --save'
    misses = [(rec['name'], c.verdict) for rec, c, ok in out if not ok]
    assert len(misses) <= 0.1*len(out), misses
    assert {c.verdict for _, c, _ in out} >= {'underfitting', 'good', 'diverged', 'not_learning'}   # the table tests more than one verdict
