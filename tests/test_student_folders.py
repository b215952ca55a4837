"""Interp and label_issues on the students' own data: an unsplit folder per label of mixed-size JPEGs and PNGs, a pets-style flat folder
with labels in file names, a Learner's own items (lesson 1's from_name_func with is_cat), F.cross_entropy and chapter-4 tensor DataLoaders."""
import warnings
from pathlib import Path
import numpy as np
import pytest
import torch
from standins import unsplit_folder, names_folder
from fastai.vision.all import ImageDataLoaders, get_image_files, Resize, Learner, nn, F, DataLoaders, DataLoader
from companion.learner import learner, image_dls
from companion.interpret import label_issues, Interp, pixel_vectors

@pytest.fixture(scope='module')
def unsplit(tmp_path_factory): return unsplit_folder(tmp_path_factory.mktemp('search')/'digits', n_per_class=10)

@pytest.fixture(scope='module')
def names(tmp_path_factory): return names_folder(tmp_path_factory.mktemp('pets')/'images', n_per_class=10)

def is_cat(x): return x[0].isupper()

def test_label_issues_on_an_unsplit_folder_of_mixed_sizes(unsplit):
    df = label_issues(unsplit, k=2, epochs=1, bs=32)
    files = sorted(str(f.resolve()) for f in get_image_files(unsplit))
    assert sorted(df.path) == files and set(df.split) == {'train', 'valid'}
    assert set(df.label) == {f.parent.name for f in get_image_files(unsplit)}
    assert df.suggested.isin(set(df.label) | {''}).all()

def test_label_issues_with_labels_in_file_names(names):
    df = label_issues(names, labeller=r'^(.+)_\d+\.png$', k=2, epochs=1, bs=32)
    assert len(df) == len(get_image_files(names)) and 'images' not in set(df.label)
    assert set(df.label) == {'zero', 'One', 'two', 'Three', 'four', 'Five', 'six', 'Seven', 'eight', 'Nine'}
    with pytest.raises(ValueError, match='labels must come from the file names'): label_issues(names, k=2)

def test_label_issues_from_a_learners_own_items(names):
    "Lesson 1's from_name_func with is_cat: the Learner's items and labels ('True'/'False') are what gets checked."
    dls = ImageDataLoaders.from_name_func(names, get_image_files(names), is_cat, valid_pct=0.2, seed=42, item_tfms=Resize(32), bs=32, num_workers=0)
    learn = learner(dls)
    with learn.no_bar(), learn.no_logging(): learn.fit(1)
    df = label_issues(learn=learn, k=0)
    assert len(df) == len(dls.train_ds) + len(dls.valid_ds) and set(df.label) == {'True', 'False'}
    truth = {str(f.resolve()): str(is_cat(f.name)) for f in get_image_files(names)}
    assert all(truth[p] == l for p, l in zip(df.path, df.label))

def test_duplicates_are_confirmed_on_the_pixels(tmp_path):
    "A small MLP's 30-unit ReLU embedding puts many different digits at cosine 0.99; the pixels decide, so the count is at most the real pairs."
    from companion.data import digits
    path = digits(tmp_path/'digits')
    dls = image_dls(path, bs=64)
    net = nn.Sequential(nn.Flatten(), nn.Linear(28*28*3, 30), nn.ReLU(), nn.Linear(30, 10))
    learn = Learner(dls, net, loss_func=F.cross_entropy)
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        df = label_issues(path, learn=learn, k=0, size=None)
    flagged = df.why.str.contains('duplicate of|in both train and valid').sum()
    px = pixel_vectors(df.path.tolist())
    sim = px @ px.T; np.fill_diagonal(sim, 0)
    pairs = int((np.triu(sim) > 0.99).sum())
    assert flagged <= pairs, (flagged, pairs)
    assert flagged < 0.05*len(df)

def test_interp_with_f_cross_entropy_gives_probabilities(unsplit):
    dls = ImageDataLoaders.from_folder(unsplit, valid_pct=0.2, seed=42, item_tfms=Resize(28, method='squish'), bs=32, num_workers=0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, dls.c))
    learn = Learner(dls, net, loss_func=F.cross_entropy)
    with pytest.warns(UserWarning, match='applies softmax'): it = Interp.from_learner(learn, emb=False)
    assert torch.allclose(it.probs.sum(1), torch.ones(len(it.probs)), atol=1e-5)

def test_interp_on_tensor_dataloaders_says_what_it_needs():
    "The book's chapter 4: DataLoaders over (tensor, label) pairs."
    x, y = torch.randn(40, 784), torch.randint(0, 2, (40,))
    dset = list(zip(x, y))
    dls = DataLoaders(DataLoader(dset, bs=8), DataLoader(dset, bs=8))
    learn = Learner(dls, nn.Linear(784, 2), loss_func=F.cross_entropy)
    with pytest.raises(TypeError, match="hold tensors.*get_preds"): Interp.from_learner(learn)

def test_a_folder_smaller_than_one_batch_trains_with_smaller_batches(tmp_path, capsys):
    "A first folder of 3 labels x 8 photos with lesson 1's bs=64: fastai would train on no batch at all (and lr_find divides by zero)."
    from companion.train import train
    folder = unsplit_folder(tmp_path/'few', n_per_class=8, classes=range(3))
    dls = ImageDataLoaders.from_folder(folder, valid_pct=0.2, seed=42, item_tfms=Resize(28, method='squish'), bs=64, num_workers=0)
    assert len(dls.train) == 0
    with pytest.raises(ValueError, match='fewer than one batch of 64'): learner(dls).lr_report(show_plot=False)
    learn, r = train(dls, epochs=1, show=False, announce=False)
    assert 'training with batches of 8' in capsys.readouterr().out
    assert r.bs == 8 and len(learn.dls.train) == 2 and len(learn.recorder.values) == 1

def test_audit_fix_makes_training_read_what_the_space_reads(tmp_path):
    "`companion audit --fix` on a real folder: the EXIF-rotated photo and the CMYK JPEG are rewritten as the Space reads them, and `companion clean undo` puts the originals back."
    from conftest import run_cli
    from standins import real_folder
    from PIL import Image
    from fastai.vision.all import PILImage
    from companion.clean import snapshot, STATE
    from companion.images import open_image_file, to_rgb
    data = real_folder(tmp_path/'bears')
    before = snapshot(data)
    r = run_cli('audit', data)                             # a terminal is told the command, not the Python call
    assert f'companion audit {data} --fix rewrites it' in r.stdout and 'fix_images(' not in r.stdout, r.stdout
    r = run_cli('audit', data, '--fix')
    assert r.returncode == 1 and 'rewrote 2 images as upright 8-bit RGB' in r.stdout, r.stdout + r.stderr   # the unreadable files are still listed
    assert 'rotated' not in r.stdout and 'cmyk ' not in r.stdout and f'companion clean undo {data} puts back the 2 files of apply' in r.stdout, r.stdout
    for f in ('one/phone.jpg', 'one/cmyk.jpg'):
        with open_image_file(data/STATE/'quarantine'/f) as im: space = np.asarray(to_rgb(im)[0], np.float32)
        fastai = np.asarray(PILImage.create(data/f), np.float32)
        assert fastai.shape == space.shape and np.abs(fastai - space).mean() < 3, (f, fastai.shape, space.shape)   # the same picture (JPEG at 95)
    r = run_cli('clean', 'undo', data)
    assert r.returncode == 0 and snapshot(data) == before, r.stdout
