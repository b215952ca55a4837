"lr_report on real digits: weights, optimizer, RNGs, shuffling and callbacks as before; read-only learn.path; the book's unpacking."
import json, math, random, sys, tempfile
from copy import deepcopy
from pathlib import Path
import numpy as np, pytest, torch
from fastai.vision.all import set_seed, Callback
from companion.learner import learner, image_dls
from companion.lr import LRReport, TRUTH, BENCH_MODELS, SWEEP_RATES

def _learn(path, seed=0):
    "A learner with its optimizer already made (as after a first fit), so that lr_report has an optimizer state to put back."
    set_seed(seed); l = learner(image_dls(path)); l.create_opt(); return l

def _draws(): return torch.rand(4), np.random.rand(4), [random.random() for _ in range(4)]

class CountFits(Callback):
    "A callback of our own, to check that lr_report leaves attached callbacks as they were."
    def __init__(self): self.n = 0
    def before_fit(self): self.n += 1

def test_lr_report_leaves_no_trace(digits37_path):
    a, twin = _learn(digits37_path), _learn(digits37_path)
    cb = CountFits(); a.add_cb(cb)
    w0, opt0 = deepcopy(a.model.state_dict()), deepcopy(a.opt.state_dict())
    rec0 = dict(a.recorder.__dict__)
    with a.no_bar():                                      # (no_bar itself swaps the progress callback, so compare inside it)
        cbs0 = list(a.cbs)
        set_seed(1); rep = a.lr_report(num_it=30, show_plot=False)
        assert list(a.cbs) == cbs0
    da = _draws()
    set_seed(1); dt = _draws()
    for x,y in zip(da, dt): assert np.array_equal(np.asarray(x), np.asarray(y))          # next torch/np/random draws as in the twin
    assert all(torch.equal(w0[k], v) for k,v in a.model.state_dict().items())           # bit-identical weights and BN buffers
    assert a.opt.state_dict()['hypers'] == opt0['hypers'] and str(a.opt.state_dict()['state']) == str(opt0['state'])
    assert not hasattr(a, 'lr_finder')
    assert cb.n == 0 and cb.learn is a                                                   # its counter was put back too
    assert a.recorder.__dict__.keys() == rec0.keys() and a.path == digits37_path
    assert len(rep.lrs) > 20 and rep.pick and rep.valley and rep.minimum and rep.steep
    # the training that follows is the twin's, batch order included
    a.remove_cb(cb)
    set_seed(2); 
    with a.no_bar(), a.no_logging(): a.fit(1, 1e-2)
    set_seed(2)
    with twin.no_bar(), twin.no_logging(): twin.fit(1, 1e-2)
    assert all(torch.equal(v, twin.model.state_dict()[k]) for k,v in a.model.state_dict().items())

def test_read_only_path_and_book_unpacking(digits37_path, tmp_path):
    learn = _learn(digits37_path)
    ro = tmp_path/'kaggle_input.zip'; ro.write_text('not a folder')   # nothing can be created under it, not even by root
    learn.path = ro
    with learn.no_bar(), pytest.raises(OSError): learn.lr_find(num_it=10, show_plot=False)   # fastai's own lr_find fails here
    learn.path = ro
    tmps = lambda: set(Path(tempfile.gettempdir()).glob('companion_*'))
    before = tmps()
    with learn.no_bar(): rep = learn.lr_report(num_it=30, show_plot=False)
    assert isinstance(rep, LRReport) and learn.path == ro
    assert [p.name for p in tmp_path.iterdir()] == ['kaggle_input.zip'] and tmps() <= before   # lr_find's save went to a folder now gone
    assert not any(isinstance(v, LRReport) for v in learn.__dict__.values())   # nothing of companion's rides along in learn.export()
    lr_min, lr_steep = rep                                   # the book: lr_min, lr_steep = learn.lr_find()
    assert (lr_min, lr_steep) == (rep.minimum, rep.steep) == (rep.lr_min, rep.lr_steep)
    assert 1e-7 < lr_min < 10 and 1e-7 < lr_steep < 10
    assert set(rep.suggestions) == {'minimum', 'steep', 'valley', 'slide', 'fall'}
    assert rep.pick in [v for v in rep.suggestions.values() if v] and rep.reason
    fig = rep.plot()
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(l.startswith('valley') for l in labels) and any(l.startswith('pick') for l in labels)


FIXTURES = Path(__file__).parent/'fixtures'/'lr_curves'

def _bench():
    "bench/bench_lr_truth.py, for its scoring: which runs learned, and each suggestion's valid loss over the best."
    sys.path.insert(0, str(Path(__file__).parent.parent/'bench'))
    import bench_lr_truth
    return bench_lr_truth

def _curve(name): return json.loads((FIXTURES/f'{name}.json').read_text())

def test_chapter2_curves_pick_in_the_fall():
    "The chapter-2 curves start with a noise dip around 1e-6 where the old reading put its pick (5.2e-07 at 128 px, 1.4e-06 on presizing): the pick is in the real fall, even where steep takes the dip."
    for name, dip in (('ch2_resnet18_128', False), ('ch2_resnet18_64', True), ('presizing_resnet18_64', True), ('ch2_resnet18_64_pretrained', True)):
        res = _curve(name)
        r = LRReport.from_curve(res['lrs'], res['losses'])
        assert 1e-4 <= r.pick <= 1e-1 and (r.steep < 1e-5) == dip, (name, r)
        lo, hi = r.fall_range
        assert lo <= r.fall < hi and 'middle of the 5 suggestions' in r.reason, (name, r)

def test_truth_is_what_the_saved_runs_say():
    "lr.TRUTH, quoted in the warnings, is each suggestion's worst valid loss over the best on the judged pipelines of the saved bench runs; every pick today's rules make has a run."
    bench = _bench()
    res = [json.loads(f.read_text()) for f in sorted(FIXTURES.glob('*.json'))]
    assert len(res) >= 8, [r['name'] for r in res]
    judged = [r for r in res if bench.learnable(r)]
    assert len(judged) >= 5, [r['name'] for r in judged]
    for c in ['pick', *bench.COLS]:
        got = [(bench.ratios(r)[c], r['name']) for r in judged]
        assert all(math.isfinite(v) for v,_ in got), f'{c}: a reading without a run: run `python bench/bench_lr_truth.py --replay` and update lr.TRUTH'
        worst = max(got)
        assert TRUTH[c][1] == worst[1] and TRUTH[c][0] == pytest.approx(worst[0], abs=0.006), (c, TRUTH[c], worst)
    assert SWEEP_RATES == len(bench.SWEEP) and set(bench.pipelines()) <= set(BENCH_MODELS)   # every model the report can name, in words

def test_far_suggestion_says_what_the_truth_found():
    "The pick's reason is one plain line; the figures under it and in the far warning are TRUTH's, each model named in words."
    res = _curve('presizing_resnet18_64')
    r = LRReport.from_curve(res['lrs'], res['losses'])
    far = [w for w in r.warnings if w.startswith('steep')]
    model = lambda k: BENCH_MODELS[TRUTH[k][1]]
    assert far and (f"up to {TRUTH['steep'][0]:.1f}× the lowest of {SWEEP_RATES} fixed rates (on {model('steep')})" in far[0]
                    and f"at worst {TRUTH['pick'][0]:.1f}×" in far[0]), r.warnings
    bench = r.evidence[-1]
    assert f"at worst {TRUTH['pick'][0]:.1f}×" in bench and model('pick') in bench, bench
    for k in ('fall', 'steep'): assert f'{k} alone up to {TRUTH[k][0]:.1f}×' in bench, (k, bench)
    assert '\n' not in r.reason and '×' not in r.reason and r.reason.startswith('the middle of the 5 suggestions'), r.reason
    assert not any(name in str(r) for name in BENCH_MODELS), str(r)                        # no internal bench name
    assert not any('try two' in w for w in r.warnings)

def test_cpu_hint_said_once(digits37_path, capsys):
    "On the CPU with images over 64 px the hint prints once, before the run: the printed report does not repeat it."
    learn = learner(image_dls(digits37_path, size=128))
    with learn.no_bar(): rep = learn.lr_report(num_it=10, show_plot=False)
    print(rep)
    out = capsys.readouterr().out
    assert rep.hint and out.count(rep.hint) == 1 and out.index(rep.hint) < out.index('lr_find suggestions'), out
