"""Cleaning that follows the learner (issue 22 items 1 and 5): the course's pets cells, labels in file names read with the learner's own
`is_cat` or `RegexLabeller`, its own split; interpret → ImageCleaner → apply → undo without labeller=; multi-label and regression refused in one sentence."""
import warnings
from pathlib import Path
import pytest
from standins import names_folder
from fastai.vision.all import (ImageDataLoaders, DataBlock, ImageBlock, CategoryBlock, MultiCategoryBlock, RegressionBlock, RegexLabeller,
                               RandomSplitter, using_attr, get_image_files, Resize, Learner, nn)
from companion.learner import learner
from companion.interpret import label_issues
from companion.clean import snapshot
from companion.clean_widget import ImageCleaner

def is_cat(x): return x[0].isupper()   # lesson 1's label function, defined in the notebook

@pytest.fixture
def pets(tmp_path):
    "A pets-like flat folder: `zero_3.png`, `One_4.png`, … (odd digits capitalised, like the pets' cats)."
    return names_folder(tmp_path/'images', n_per_class=4, classes=range(4))

def untrained(dls):
    "The course's learner, untrained: its predictions are enough to rank, and cleaning reads only its labels and split."
    return learner(dls)

def review_apply_undo(cands, rel_from, to, expect):
    "ImageCleaner over `cands` (no labeller=): relabel `rel_from` to `to`, apply (the file must now be `expect`), undo (the tree as before)."
    w = ImageCleaner(cands, per_page=4)
    root = w.cleaner.root; before = snapshot(root)
    w.cleaner.mark(root/rel_from, 'relabel', to=to)
    w._apply()
    assert not (root/rel_from).exists() and (root/expect).is_file(), sorted(p.name for p in root.iterdir())
    assert w.cleaner.labeller(root/expect) == to                                 # read back the learner's way
    w._undo()
    assert snapshot(root) == before

def test_from_name_func_is_cat(pets, tmp_path):
    "from_name_func(is_cat) → learn.interpret() → ImageCleaner → apply → undo, and label_issues(path, learn) with the learner's split."
    dls = ImageDataLoaders.from_name_func(pets, get_image_files(pets), is_cat, valid_pct=0.2, seed=42, item_tfms=Resize(16), bs=8, num_workers=0)
    learn = untrained(dls)
    tl = learn.interpret(emb=False).top_losses(None, None)
    assert repr(tl.attrs['labeller']) == 'is_cat'
    from companion.clean_gallery import gallery
    page = gallery(tl, dest=tmp_path/'gal').read_text()                         # a terminal can't call is_cat: the page says to apply in Python
    assert 'labeller=learn' in page and 'companion clean apply' not in page
    dog = next(p for p in get_image_files(pets) if not is_cat(p.name))            # 'zero_0.png': a dog, by is_cat
    review_apply_undo(tl, dog.name, 'True', dog.name[:1].upper() + dog.name[1:])   # renamed in place: 'Zero_0.png', a cat
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        df = label_issues(pets, learn, k=0, size=None)
    split = {str(Path(p).resolve()): s for s, ds in (('train', dls.train_ds), ('valid', dls.valid_ds)) for p in ds.items}
    assert len(df) == len(split) and all(split[p] == s for p, s in zip(df.path, df.split))
    assert set(df.label) == {'True', 'False'} and repr(df.attrs['labeller']) == 'is_cat'

def test_regex_labeller_datablock(pets):
    "The book's DataBlock: RegexLabeller on the name, RandomSplitter(seed=42); label_issues rows carry that split, the cleaner renames by the regex."
    block = DataBlock((ImageBlock, CategoryBlock), get_items=get_image_files, splitter=RandomSplitter(seed=42),
                      get_y=using_attr(RegexLabeller(r'(.+)_\d+.png$'), 'name'), item_tfms=Resize(16))
    dls = block.dataloaders(pets, bs=8, num_workers=0)
    learn = untrained(dls)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        df = label_issues(pets, learn, k=0, size=None)
    valid = {str(Path(p).resolve()) for p in dls.valid_ds.items}
    assert (df.split == ['valid' if p in valid else 'train' for p in df.path]).all() and (df.split == 'valid').sum() == len(valid)
    assert df.attrs['labeller'].key == r're:(.+)_\d+.png$'                      # the same key as `companion clean ... --label_re`
    f = sorted(pets.glob('zero_*.png'))[0]
    review_apply_undo(df, f.name, 'two', 'two_' + f.name.split('_', 1)[1])

def tiny(dls):
    "A learner of the book's chapter 6 over 16-pixel images, untrained: its loss follows the block (BCE for multi-label, MSE for regression)."
    return Learner(dls, nn.Sequential(nn.Flatten(), nn.Linear(3*16*16, dls.c)))

@pytest.mark.parametrize('block, get_y, kind', [(MultiCategoryBlock, lambda p: p.name.split('_')[:1], 'multi-label'),
                                                (RegressionBlock, lambda p: float(len(p.name)), 'regression')])
def test_multi_label_and_regression_refused(pets, block, get_y, kind):
    dls = DataBlock((ImageBlock, block), get_items=get_image_files, get_y=get_y, item_tfms=Resize(16)).dataloaders(pets, bs=8, num_workers=0)
    learn = tiny(dls)
    for call in (lambda: learn.interpret(), lambda: label_issues(learn=learn, k=0), lambda: label_issues(pets, learn, k=0)):
        with pytest.raises(TypeError) as e: call()
        msg = str(e.value)
        assert 'single-label classifiers' in msg and kind in msg and msg.count('. ') == 0, msg   # one sentence, naming both

def test_companion_folder_dls_with_a_regex(pets):
    "companion's folder_dls reads labels into a table, so the learner can't say how files carry them: labeller= does, and the learner's split stays."
    from companion.learner import folder_dls
    pat = r'^(.+)_\d+\.png$'
    dls = folder_dls(pets, labeller=pat, size=16, bs=8, seed=7, quiet=True)
    learn = untrained(dls)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        df = label_issues(pets, learn, k=0, size=None, labeller=pat)
    valid = set(dls.valid_ds.items.path)
    assert (df.split == ['valid' if p in valid else 'train' for p in df.path]).all()
    assert df.attrs['labeller'].key == f're:{pat}' and learn.interpret(emb=False).items.attrs['labeller'] is None   # a table: no way to read files
