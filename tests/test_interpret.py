"companion.interpret on real digits: one-pass interpretation, confusion by counting, label-issue ranking, leakage."
import shutil, time
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from fastai.vision.all import set_seed, ClassificationInterpretation
from companion.data import digits, flip_labels
from companion.learner import learner, image_dls
from companion.interpret import Interp, label_issues, confusion_counts, knn_cosine, split_dl

CONTRACT = ['path', 'split', 'label', 'pred', 'loss', 'score', 'why', 'suggested']

@pytest.fixture(scope='module')
def noisy(tmp_path_factory):
    "A fresh digits folder with 5 % of its train labels moved to wrong folders: (root, set of absolute flipped paths)."
    root = digits(tmp_path_factory.mktemp('interp')/'digits')
    fl = flip_labels(root, pct=0.05, seed=0)
    return root, {str((root/p).resolve()) for p in fl.path}

@pytest.fixture(scope='module')
def learn(noisy):
    "The course recipe trained on the noisy folder: the model whose top losses a student would look at."
    set_seed(0)
    l = learner(image_dls(noisy[0]))
    with l.no_bar(), l.no_logging(): l.fine_tune(2)
    return l

@pytest.fixture(scope='module')
def interp(learn): return learn.interpret()

def recall_top10(paths, flipped, n_total):
    "Fraction of `flipped` among the first 10 % (of `n_total`) of the ranked `paths`."
    return len(set(list(paths)[:n_total//10]) & flipped) / len(flipped)

def test_one_pass_table(learn, interp):
    dls = learn.dls
    assert len(interp.items) == len(dls.train_ds) + len(dls.valid_ds)
    assert set(interp.items.columns) >= {'path', 'split', 'label', 'pred', 'p_label', 'loss', 'margin'}
    assert all(Path(p).is_absolute() and Path(p).exists() for p in interp.items.path.head(20))
    assert (interp.items.label == [Path(p).parent.name for p in interp.items.path]).all()
    # train items are predicted without augmentation: same losses as fastai's get_preds on a test_dl of the train items
    with learn.no_bar(): _, _, losses = learn.get_preds(dl=split_dl(dls, 'train'), with_loss=True)
    np.testing.assert_allclose(interp.items[interp.items.split == 'train'].loss.values, losses.numpy(), rtol=1e-4, atol=1e-5)
    # p_label and margin agree with the stored probabilities
    t = torch.tensor(interp.items.label.map({c:i for i,c in enumerate(interp.vocab)}).values)
    np.testing.assert_allclose(interp.items.p_label.values, interp.probs[torch.arange(len(t)), t].numpy(), rtol=1e-5)
    assert ((interp.items.margin > 0) == (interp.items.label == interp.items.pred)).mean() > 0.99

@pytest.mark.parametrize('split', ['train', 'valid', None])
def test_confusion_equals_sklearn(interp, split):
    d = interp.items if split is None else interp.items[interp.items.split == split]
    np.testing.assert_array_equal(interp.confusion_matrix(split), sk_confusion_matrix(d.label, d.pred, labels=interp.vocab))

def test_confusion_is_counting_not_cxcxn():
    "2M items, 2,000 classes: a C×C×N boolean tensor would need 8e12 bytes; counting needs the labels and C² cells."
    rng = np.random.default_rng(0)
    t = rng.integers(0, 2000, 2_000_000); p = np.where(rng.random(len(t)) < .9, t, rng.integers(0, 2000, len(t)))
    cm = confusion_counts(t, p, 2000)
    assert cm.shape == (2000, 2000) and cm.sum() == len(t) and cm.trace() == (t == p).sum()

def test_most_confused_matches_fastai(learn, interp):
    with learn.no_bar():
        fa = ClassificationInterpretation.from_learner(learn)    # valid split
        theirs, cm = fa.most_confused(1), fa.confusion_matrix()
    assert sorted(interp.most_confused(1)) == sorted((a, b, int(n)) for a,b,n in theirs)
    assert [n for *_,n in interp.most_confused(1)] == [int(n) for *_,n in theirs]   # same order of counts
    np.testing.assert_array_equal(interp.confusion_matrix('valid'), cm)

def test_top_losses_plots_csv(interp, tmp_path):
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    tl = interp.top_losses(12, 'train')
    assert len(tl) == 12 and set(tl.split) == {'train'} and (np.diff(tl.loss.values) <= 0).all()
    assert tl.loss.iloc[0] == interp.items[interp.items.split == 'train'].loss.max()
    figs = len(plt.get_fignums())
    interp.plot_top_losses(6, 'train')
    assert len(plt.get_fignums()) == figs + 1                                # one figure, drawn once
    fig = plt.gcf(); assert len([a for a in fig.axes if a.images]) == 6
    assert fig._suptitle.get_text() == 'Prediction/Actual/Loss/Probability'      # fastai's key and order
    r = tl.iloc[0]; assert fig.axes[0].get_title() == f'{r.pred}/{r.label} / {r.loss:.2f} / {r.p_pred:.2f}'
    plt.close(fig)
    fig = interp.plot_confusion_matrix(normalize=True); assert fig.axes[0].images; plt.close(fig)
    fn = interp.to_csv(tmp_path/'items.csv')
    back = pd.read_csv(fn)
    assert len(back) == len(interp.items) and back.loss.iloc[0] == pytest.approx(interp.items.loss.max(), rel=1e-5)
    with pytest.raises(ValueError, match='choose from'): interp.top_losses(3, 'test')

def test_knn_cosine_chunked_equals_full():
    e = torch.randn(300, 16); e[10] = e[200]*3
    s, j = knn_cosine(e, k=5, bs=64)
    full = torch.nn.functional.normalize(e, dim=1); full = full @ full.T; full.fill_diagonal_(-2)
    torch.testing.assert_close(s, full.topk(5, dim=1).values)
    assert j[10, 0] == 200 and j[200, 0] == 10

def test_label_issues_beats_the_bar(noisy, interp):
    "With 5 % of labels flipped, ≥ 80 % of them rank in the top 10 %; plain top_losses is measured beside it."
    root, flipped = noisy
    t = time.time()
    df = label_issues(root, k=3, epochs=2, seed=0)
    secs = time.time() - t
    assert list(df.columns[:8]) == CONTRACT
    assert df.path.map(lambda p: Path(p).is_absolute()).all() and set(df.split) <= {'train', 'valid'}
    assert (df.label == [Path(p).parent.name for p in df.path]).all()
    assert (np.diff(df.score.values) <= 0).all() and df.loss.dtype.kind == 'f' and df.score.dtype.kind == 'f'
    assert len(df) == len(interp.items)
    ours = recall_top10(df.path, flipped, len(df))
    plain = recall_top10(interp.top_losses(None, None).path, flipped, len(df))
    print(f'\nrecall in top 10 %: label_issues {ours:.1%} ({secs:.0f} s, k=3), plain top_losses {plain:.1%}')
    assert ours >= 0.8
    top = df.head(len(df)//10)
    hits = top[top.path.isin(flipped)]
    assert (hits.why != '').all()                       # every flagged item says why
    reasons = ('high loss', 'low self-confidence', 'neighbours disagree', 'duplicate of', 'in both train and valid')
    assert all(r.startswith(reasons) for w in df.why[df.why != ''] for r in w.split('; '))
    assert hits.why.str.contains('low self-confidence|neighbours disagree|high loss').all()
    assert (hits.suggested != '').mean() > 0.8 and hits.suggested.isin(df.label.unique()).all()

def test_leakage_and_duplicates(noisy, learn, tmp_path):
    "Train files copied into valid are flagged 'in both train and valid'; a copy inside train (other label) is a 'duplicate of'."
    root = tmp_path/'leaky'; shutil.copytree(noisy[0], root)
    srcs = sorted((root/'train'/'4').glob('*.png'))[:4]
    leaks = []
    for f in srcs[:3]:
        leaks.append((root/'valid'/'4'/f'copy_{f.name}').resolve()); shutil.copy(f, leaks[-1])
    dup = (root/'train'/'9'/f'again_{srcs[3].name}').resolve(); shutil.copy(srcs[3], dup)   # same image, another label
    df = label_issues(root, learn=learn, k=0)
    assert list(df.columns[:8]) == CONTRACT
    flagged = df.set_index('path')
    for f in leaks:
        assert 'in both train and valid' in flagged.loc[str(f), 'why']
        assert flagged.loc[str(f), 'dup_of'].startswith(str((root/'train').resolve()))
    assert f"duplicate of train/4/{srcs[3].name}, labelled '4'" in flagged.loc[str(dup), 'why']
    leak_rows = df[df.why.str.contains('in both train and valid')]
    assert {str(f) for f in leaks} <= set(leak_rows.path)
    from companion.interpret import pixel_vectors
    px = pixel_vectors(list(leak_rows.path) + list(leak_rows.dup_of)); n = len(leak_rows)
    assert ((px[:n]*px[n:]).sum(1) >= 0.99).all()                      # every other leak is the same picture too (the digits hold a few)
    assert df.head(n + 1).path.isin([str(f) for f in leaks + [dup]]).sum() >= 3   # leaks rank at the top
