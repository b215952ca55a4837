"The coach on real training runs built for each verdict; train() and `companion train` end to end."
import json, re, shutil
from pathlib import Path
import pytest
from fastai.vision.all import set_seed, Learner
from conftest import run_cli
from companion.learner import learner, image_dls, no_batches
from companion.announce import PhaseAnnouncer
from companion.train import train, _jsonable

def _subset(src: Path, dest: Path, n_train: int, n_valid: int, classes=None) -> Path:
    "A smaller copy of a digits folder: the first `n_train`/`n_valid` images of each label."
    for split,n in (('train', n_train), ('valid', n_valid)):
        for d in sorted((src/split).iterdir()):
            if classes and d.name not in classes: continue
            (dest/split/d.name).mkdir(parents=True, exist_ok=True)
            for f in sorted(d.iterdir())[:n]: shutil.copy(f, dest/split/d.name/f.name)
    return dest

@pytest.fixture(scope='module')
def sub(digits_path, tmp_path_factory): return _subset(digits_path, tmp_path_factory.mktemp('sub'), 30, 20)

def _run(path, epochs, lr, bs=64, one_cycle=True, **kw):
    set_seed(0, reproducible=True)
    learn = learner(image_dls(path, bs=bs), **kw); learn.unfreeze()
    with learn.no_bar(), learn.no_logging():
        (learn.fit_one_cycle if one_cycle else learn.fit)(epochs, lr)
    return learn

def test_no_batch_said_before_the_fit_and_by_the_coach(digits37_path, tmp_path):
    "8 training images and the book's bs=64 give no batch: the announcer stops the fit, the coach says why and which bs to pass."
    dls = image_dls(_subset(digits37_path, tmp_path, 4, 2), bs=64)
    why = no_batches(dls.train)
    assert why.startswith('the training set gave 0 batches: 8 items, fewer than one batch of 64') and 'bs=4' in why, why
    with pytest.raises(ValueError, match=re.escape(why)): learner(dls, cbs=PhaseAnnouncer()).fine_tune(1)
    learn = learner(dls)                                        # fastai's own bar: the fit "trains" on nothing
    with learn.no_bar(), learn.no_logging(): learn.fine_tune(1)
    with pytest.raises(ValueError, match=re.escape(why)): learn.coach(show_plot=False)

def test_diverged(sub):
    c = _run(sub, 1, 10.).coach(show_plot=False)
    assert c.verdict == 'diverged', c
    assert c.evidence['peak_loss'] > 4*c.evidence['start_loss'] and 'lower' in c.advice
    json.dumps(_jsonable(c.as_dict()), allow_nan=False)                 # the report stays plain JSON even with inf/NaN losses

def test_not_learning(sub):
    c = _run(sub, 1, 1e-7, bs=32).coach(show_plot=False)               # 9 batches: enough for the coach to read the curve
    assert c.verdict == 'not_learning', c
    assert c.evidence['fall'] < 0.1 and 'Raise the learning rate' in c.advice

def test_underfitting(digits_path):
    c = _run(digits_path, 1, 3e-3).coach(show_plot=False)      # one short epoch at a low lr
    assert c.verdict == 'underfitting', c
    assert c.evidence['final_loss'] < 0.9*c.evidence['start_loss'] and 'more epochs' in c.advice   # it learned, but not enough

def test_overfitting(digits_path, tmp_path):
    tiny = _subset(digits_path, tmp_path/'tiny', 10, 50, classes=('3', '7'))   # 20 training images, no dropout, 10 epochs
    c = _run(tiny, 10, 3e-3, bs=5, one_cycle=False, ps=0).coach(show_plot=False)
    assert c.verdict == 'overfitting', c
    ev = c.evidence
    assert ev['epochs'] - 1 - ev['best_epoch'] >= 2 and ev['final_valid_loss'] > ev['best_valid_loss']
    assert ev['final_accuracy'] <= ev['best_epoch_accuracy'] and 'fewer epochs' in c.advice
    fig = c.plot()
    assert 'overfitting' in fig.axes[0].get_title()

def test_train_picks_lr_announces_and_reports(digits37_path, tmp_path, monkeypatch):
    calls, lr_find = [], Learner.lr_find
    def counted(self, *a, **kw): calls.append(kw); return lr_find(self, *a, **kw)
    monkeypatch.setattr(Learner, 'lr_find', counted)                   # the real lr_find runs; we only count
    set_seed(0)
    learn, r = train(image_dls(digits37_path), 1, log=tmp_path/'log.jsonl', show=False, lr_kws=dict(num_it=40))
    assert len(calls) == 1 and calls[0]['num_it'] == 40                 # lr_find ran once
    assert r.lr_report is not None and r.lr == r.lr_report.pick and r.method == 'fit_one_cycle'   # small_cnn: no pretrained body
    assert r.coaching.verdict == 'underfitting' and 'more epochs' in r.coaching.advice   # one epoch is four mini-batches of 64 here: too few
    assert r.coaching.history['rows'] and r.recipe.method == 'fit_one_cycle' and not hasattr(learn, 'train_report')
    assert abs(r.error_rate + r.accuracy - 1) < 1e-6 and 'error_rate + accuracy = 1' in str(r)
    assert all(p.requires_grad for p in learn.model.parameters())
    assert (tmp_path/'log.jsonl').exists() and (tmp_path/'log.jsonl').read_text().strip()

def test_cli(digits37_path, tmp_path):
    out = tmp_path/'run'
    res = run_cli('train', digits37_path, '--epochs', '1', '--lr_steps', '40', '--out', out)
    assert res.returncode == 0, res.stderr[-2000:]
    for f in ('model.pth', 'export.pkl', 'lr_find.png', 'losses.png', 'report.json', 'report.txt', 'train_log.jsonl'):
        assert (out/f).stat().st_size > 0, f
    rep = json.loads((out/'report.json').read_text())
    assert rep['coaching']['verdict'] == 'underfitting' and rep['recipe']['epochs'] == 1 and rep['recipe']['method'] == 'fit_one_cycle'   # four mini-batches: too few
    assert rep['recipe']['lr'] == rep['lr_report']['pick'] and 'verdict:' in res.stdout
    assert not (digits37_path/'models').exists()                      # nothing written into the data folder
    from fastai.learner import load_learner
    assert not hasattr(load_learner(out/'export.pkl'), 'train_report')   # the export holds the model, not the report
    bad = run_cli('train', tmp_path/'nowhere', '--epochs', '1')
    assert bad.returncode == 1 and bad.stderr.startswith('companion train: no folder at ') and 'nowhere' in bad.stderr and 'Traceback' not in bad.stderr
    assert run_cli('train', digits37_path, '--no-such-option').returncode == 2          # a usage error is argparse's

def test_cli_takes_lesson2_layouts(digits37_path, tmp_path):
    "`companion train` on a folder per label (no train/ and valid/): it trains on a split by --valid_pct; one label folder alone is refused before anything is written."
    import shutil
    flat = tmp_path/'flat'
    for f in sorted(digits37_path.glob('*/*/*.png'))[::4]:
        (flat/f.parent.name).mkdir(parents=True, exist_ok=True); shutil.copy(f, flat/f.parent.name/f'{f.parent.parent.name}_{f.name}')
    res = run_cli('train', flat, '--epochs', '1', '--lr', '0.01', '--valid_pct', '0.25', '--out', tmp_path/'run')
    assert res.returncode == 0, res.stderr[-2000:]
    rep = json.loads((tmp_path/'run'/'report.json').read_text())
    assert rep['vocab'] == ['3', '7'] and rep['folder'] == str(flat)
    one = run_cli('train', flat/'3', '--out', tmp_path/'one')
    assert one.returncode == 1 and one.stderr.startswith('companion train: all ') and '--label_re' in one.stderr, one.stderr   # images but no labels
    assert not (tmp_path/'one').exists()
