"companion.foundations: the from-scratch lessons, checked on real data with real training."
import base64, io, json, warnings
from pathlib import Path
import pytest
import torch
from fastai.torch_core import set_seed

from companion.foundations.sgd import book_speed, fit_quadratic, lstsq_quadratic, curvature, QuadraticExplorer
from companion.foundations.minima import race
from companion.foundations.mnist import load_37, mnist_dls, init_params, linear1, simple_net, train_model, accuracy_table
from companion.foundations.dead import DeadUnitMonitor
from companion.foundations.mnist import mnist_learner
from companion.foundations.softmax import cross_entropy, ce_grad, sigmoid_as_softmax, mnist_loss
from companion.foundations.spreadsheet import spreadsheet_vs_tabular

# --- SGD on the quadratic -------------------------------------------------------------------------

@pytest.mark.parametrize('data_seed', [42, 0, 7])
@pytest.mark.parametrize('start_seed', [0, 1, 2, 3])
def test_scaled_fit_reaches_least_squares_within_200_steps(data_seed, start_seed):
    time, speed = book_speed(data_seed)
    _, floor = lstsq_quadratic(time, speed)
    params, losses = fit_quadratic(time, speed, 200, lr=None, scale=True, seed=start_seed)
    assert len(losses) == 201
    assert losses[-1] <= 1.01*floor, f'{losses[-1]:.3f} vs least squares {floor:.3f}'
    best, _ = lstsq_quadratic(time, speed)
    assert torch.allclose(params, best, rtol=0.02, atol=0.05)

@pytest.mark.parametrize('start_seed', [0, 1, 2])
def test_book_setting_does_not_reach_least_squares(start_seed):
    time, speed = book_speed()
    _, floor = lstsq_quadratic(time, speed)
    _, losses = fit_quadratic(time, speed, 200, lr=1e-5, scale=False, seed=start_seed)
    assert losses[-1] < losses[0]                      # it does learn ...
    assert (losses > 1.01*floor).all()                 # ... but never gets near the floor
    _, losses = fit_quadratic(time, speed, 2000, lr=1e-5, scale=False, seed=start_seed)
    assert losses[-1] > 1.01*floor                     # not even in ten times as many steps

def test_curvature_explains_the_stall():
    time, _ = book_speed()
    ev, evs = curvature(time), curvature(time, scale=True)
    assert ev[-1]/ev[0] > 1e5 and evs[-1]/evs[0] < 10

def test_quadratic_explorer_button_takes_a_step():
    time, speed = book_speed()
    ex = QuadraticExplorer(time, speed)
    before, p0 = ex.loss, ex.params.clone()
    ex.button.click()
    assert ex.loss < before and not torch.equal(ex.params, p0)
    ex.sliders['a'].value = 0.0
    assert ex.params[0] == 0.0

WIDGET_VIEW = 'application/vnd.jupyter.widget-view+json'

def test_saved_widgets_read_without_a_widget_front_end():
    "Every widget output committed in a notebook carries a picture and a readable line, not only `VBox(children=...`."
    from PIL import Image
    seen = []
    for nb in sorted((Path(__file__).parent.parent/'nbs').glob('*.ipynb')):
        for c in json.loads(nb.read_text())['cells']:
            for o in c.get('outputs', []):
                d = o.get('data', {})
                if WIDGET_VIEW not in d: continue
                seen.append(nb.name)
                im = Image.open(io.BytesIO(base64.b64decode(d.get('image/png', ''))))
                assert im.width >= 100 and im.height >= 100, (nb.name, im.size)
                text = ''.join(d['text/plain'])
                assert not text.startswith(('VBox(', 'HBox(')) and 'run the notebook' in text, (nb.name, text)
    assert {'10_sgd.ipynb', '14_softmax.ipynb', '20_lesson2.ipynb'} <= set(seen)

def test_explorer_picture_follows_its_state():
    from companion.foundations.softmax import SoftmaxExplorer
    ex = SoftmaxExplorer(classes=['3', '7'])
    b1 = ex._repr_mimebundle_()
    ex.sliders[0].value = 6.
    b2 = ex._repr_mimebundle_()
    assert b1[WIDGET_VIEW] == b2[WIDGET_VIEW] == {'version_major': 2, 'version_minor': 0, 'model_id': ex.widget.model_id}
    assert b1['image/png'] != b2['image/png'] and b1['text/plain'] != b2['text/plain']

# --- local minima ---------------------------------------------------------------------------------

def test_race_ranks_the_searchers():
    res = race(n_runs=200, seed=0)
    f = res.found_global
    assert f['simulated annealing'] > f['gradient descent'] and f['mini-batch SGD'] > f['gradient descent']
    assert 0 < f['gradient descent'] < 0.4

# --- MNIST basics on 3 vs 7 -----------------------------------------------------------------------

@pytest.fixture(scope='module')
def data37(digits37_path): return load_37(digits37_path)

def test_linear_model_reaches_95_percent(data37):
    tx, ty, vx, vy = data37
    set_seed(42)
    dls = mnist_dls(tx, ty, vx, vy)
    w, b = init_params((28*28, 1), 0.01), init_params(1, 0.01)
    accs = train_model(lambda xb: linear1(xb, w, b), [w, b], dls, epochs=20, lr=0.1)
    assert accs[-1] >= 0.95, accs

def test_simple_net_reaches_97_percent(data37):
    tx, ty, vx, vy = data37
    set_seed(42)
    dls = mnist_dls(tx, ty, vx, vy)
    net = simple_net()
    accs = train_model(net, net.parameters(), dls, epochs=20, lr=0.1)
    assert accs[-1] >= 0.97, accs

def test_accuracy_table_with_learner(digits37_path):
    tbl = accuracy_table(digits37_path, epochs=10)
    acc = tbl['valid accuracy']
    assert len(tbl) == 6
    assert acc['linear1 + BasicOptim'] >= 0.95 and acc['Learner: nn.Linear'] >= 0.95
    assert acc['simple_net (30 ReLU units) + BasicOptim'] >= 0.97 and acc['Learner: simple_net'] >= 0.97

# --- DeadUnitMonitor ------------------------------------------------------------------------------

def _monitor(data37, centre=False, bias=None, lr=0.1, epochs=1):
    tx, ty, vx, vy = data37
    if centre: mu = tx.mean(0); tx, vx = tx-mu, vx-mu
    set_seed(1); net = simple_net()
    if bias is not None: net[0].bias.data[:] = bias
    learn = mnist_learner(mnist_dls(tx, ty, vx, vy), net)
    with learn.no_bar(), learn.no_logging(), warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always'); learn.fit(epochs, lr=lr, cbs=DeadUnitMonitor())
    return learn, [str(x.message) for x in w]

def test_dead_unit_monitor_reports_dead_net(data37):
    learn, msgs = _monitor(data37, bias=-20.)
    dead = learn.dead_units()
    assert list(dead.columns) == ['1'] and dead.iloc[-1, 0] == 1.0
    assert any('output 0 for every training input' in m for m in msgs)

def test_dead_unit_monitor_reports_high_lr_kills(data37):
    learn, _ = _monitor(data37, lr=10., epochs=2)
    assert learn.dead_units().iloc[-1, 0] >= 0.5

def test_dead_unit_monitor_quiet_on_healthy_net(data37):
    learn, msgs = _monitor(data37, centre=True, epochs=2)
    assert (learn.dead_units().values == 0).all()
    assert not any('output 0' in m for m in msgs)
    assert learn.recorder.values[-1][-1] >= 0.97

# --- softmax and the spreadsheet ------------------------------------------------------------------

def test_cross_entropy_gradient_reaches_every_column():
    acts = torch.randn(8, 5, requires_grad=True); targ = torch.randint(0, 5, (8,))
    cross_entropy(acts, targ).backward()
    assert torch.allclose(acts.grad, ce_grad(acts.detach(), targ), atol=1e-6)
    wrong = torch.ones_like(acts, dtype=torch.bool); wrong[torch.arange(8), targ] = False
    assert (acts.grad[wrong] > 0).all() and (acts.grad[~wrong] < 0).all()
    x = torch.randn(10); t = torch.randint(0, 2, (10,))
    assert torch.allclose(mnist_loss(x, t), (1 - sigmoid_as_softmax(x)[torch.arange(10), 1-t]).mean())

def test_spreadsheet_next_to_tabular_learner():
    cmp = spreadsheet_vs_tabular(epochs=5)
    assert (cmp['valid accuracy'] >= 0.9).all(), cmp
