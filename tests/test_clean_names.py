"A relabel never takes a file out of the data set: labels in file names (pets' is_cat, a RegexLabeller) are renamed in place, labels in folders are moved; apply, undo and recover keep every file where get_image_files finds it."
import os, re, shutil
from pathlib import Path
import pytest
from fastai.data.transforms import get_image_files, parent_label
from conftest import run_cli
from standins import names_folder, unsplit_folder
from companion.clean import Cleaner, Labeller, snapshot, STATE
from companion.clean_widget import ImageCleaner

def is_cat(x): return x[0].isupper()          # lesson 1: the pets' cats have names that start with a capital
NAME_RE = r'^(.+)_\d+\.png$'                    # like from_name_re / RegexLabeller(r'^(.+)_\d+.jpg$') on the pets

def read_one(p: Path, how: str) -> str:
    "The label of `p` read the way fastai reads it: parent_label, from_name_func(label_func=is_cat), from_name_re."
    return parent_label(p) if how == 'folder' else str(is_cat(p.name)) if how == 'is_cat' else re.match(NAME_RE, p.name).group(1)

def read(root, how) -> dict:
    "{file name: label} of every image get_image_files finds."
    return {p.name: read_one(p, how) for p in get_image_files(root)}

def check_invariant(root, how, n, chosen: dict):
    "Same number of files, and each chosen file (relative path before the apply) reads its chosen label where it now is."
    files = get_image_files(root)
    assert len(files) == n, f'{len(files)} files, expected {n}'
    moved = Cleaner(root).moved
    for rel, to in chosen.items():
        now = root/moved[rel].dst
        assert now.exists() and now in files
        lab = read_one(now, how)
        assert lab == to, (rel, now, lab, to)

@pytest.fixture
def names(tmp_path): return names_folder(tmp_path/'names', n_per_class=6)

@pytest.fixture
def unsplit(tmp_path): return unsplit_folder(tmp_path/'unsplit', n_per_class=6)

def test_is_cat_relabel_renames_in_place(names):
    before, labels = snapshot(names), read(names, 'is_cat'); n = len(labels)
    dogs, cats = [f for f,l in labels.items() if l == 'False'][:2], [f for f,l in labels.items() if l == 'True'][:2]
    chosen = {**{f: 'True' for f in dogs}, **{f: 'False' for f in cats}}
    c = Cleaner(names, labeller=is_cat)
    c.mark_many([(names/f, 'relabel', to) for f,to in chosen.items()])
    assert snapshot(names) == before
    p = c.apply()
    assert len(p.moves) == 4 and all('/' not in m.dst for m in p.moves)          # renamed in the same folder, never moved
    check_invariant(names, 'is_cat', n, chosen)
    assert Cleaner(names).undo()[0]['restored'] == 4
    assert snapshot(names) == before and read(names, 'is_cat') == labels         # undo renames back: the original labels
    assert {k: v['to'] for k,v in Cleaner(names, labeller=is_cat).marks.items()} == chosen   # pending again, as they were
    p = Cleaner(names, labeller=is_cat).apply()                                    # and they can be applied again
    check_invariant(names, 'is_cat', n, chosen)

def test_regex_relabel_and_collisions(names):
    "The group's span is replaced; where that name is taken, the free name must still read the new label (two_3_1.png would read 'two_3')."
    src = names/'zero_3.png'; shutil.copy(names/'zero_4.png', names/'two_3.png')
    before = snapshot(names); n = len(read(names, 're'))
    c = Cleaner(names, labeller=NAME_RE)
    c.mark(src, 'relabel', to='two'); c.mark(names/'zero_5.png', 'relabel', to='Seven'); c.mark(names/'zero_0.png', 'delete')
    p = c.apply()
    assert sorted(m.dst for m in p.moves if m.action == 'relabel') == ['Seven_5.png', 'two_31.png']
    assert len(get_image_files(names)) == n - 1                                   # only the delete left the data set, into the quarantine
    assert (names/STATE/'quarantine'/'zero_0.png').exists()
    check_invariant(names, 're', n - 1, {'zero_3.png': 'two', 'zero_5.png': 'Seven'})
    Cleaner(names).undo()
    assert snapshot(names) == before

def test_folder_labels_move_between_class_folders(unsplit):
    before, labels = snapshot(unsplit), read(unsplit, 'folder'); n = len(labels)
    fs = sorted(unsplit.glob('*/*'))
    chosen = {fs[0].relative_to(unsplit).as_posix(): 'nine', fs[7].relative_to(unsplit).as_posix(): 'zero'}
    c = Cleaner(unsplit)
    c.mark_many([(unsplit/r, 'relabel', to) for r,to in chosen.items()])
    c.apply()
    check_invariant(unsplit, 'folder', n, chosen)
    Cleaner(unsplit).undo()
    assert snapshot(unsplit) == before and read(unsplit, 'folder') == labels

@pytest.mark.parametrize('how', ['is_cat', 're', 'folder'])
def test_recover_a_crash_in_the_middle(names, unsplit, how):
    "Killed after the second of three renames (or moves): recover finishes them, or rolls them back, and the invariant holds."
    class Crash(Exception): pass
    root, lab = (unsplit, None) if how == 'folder' else (names, is_cat if how == 'is_cat' else NAME_RE)
    class Crashy(Cleaner):
        at = 2
        def _step(self, what):
            self.at -= what == 'moved'
            if self.at == 0: raise Crash(what)
    before, n = snapshot(root), len(get_image_files(root))
    fs = sorted(get_image_files(root))[:3]
    now = {f: Labeller(lab)(f) for f in fs}
    others = sorted({l for l in map(Labeller(lab), get_image_files(root))} - set(now.values()))
    to = {'is_cat': lambda f: str(now[f] != 'True'), 're': lambda f: 'eight', 'folder': lambda f: others[0]}[how]
    chosen = {f.relative_to(root).as_posix(): to(f) for f in fs}
    Cleaner(root, labeller=lab).mark_many([(root/r, 'relabel', t) for r,t in chosen.items()])
    for rollback in (True, False):
        with pytest.raises(Crash): Crashy(root, labeller=lab).apply()
        assert len(get_image_files(root)) == n and Cleaner(root).open_batch       # nothing left the data set
        r = Cleaner(root).recover(rollback=rollback)                               # recover needs no labeller: the journal has every name
        assert r['rolled_back'] == rollback and not r['failed'] and r['done'] == 2 and r['todo'] == 1
        if rollback: assert snapshot(root) == before and len(Cleaner(root).marks) == 3
    check_invariant(root, how, n, chosen)
    Cleaner(root).undo(); assert snapshot(root) == before

def test_containers_are_never_labels(tmp_path):
    "Pets' layout, path/images/*.png: with folder labels 'images' is the data set, not a label; with name labels no folder is a label."
    pets = tmp_path/'pets'; names_folder(pets/'images', n_per_class=3); (pets/'annotations'/'xmls').mkdir(parents=True)
    f = pets/'images'/'zero_0.png'
    with pytest.raises(ValueError, match='only folder of images.*--label_re'): Cleaner(pets).mark(f, 'relabel', to='True')
    c = Cleaner(pets, labeller=is_cat)
    with pytest.raises(ValueError, match='holds images, not a label'): c.mark(f, 'relabel', to='images')
    with pytest.raises(ValueError, match="already reads 'False'"): c.mark(f, 'relabel', to='False')
    c.mark(f, 'relabel', to=True)                                                 # a bool label, compared as text
    with pytest.raises(ValueError, match='rename it yourself so that .* reads'):
        Cleaner(pets, labeller=lambda p: len(p.name) > 40).mark(f, 'relabel', to='True')
    import pandas as pd
    fs = sorted((pets/'images').glob('*.png'))
    w = ImageCleaner(pd.DataFrame(dict(path=[str(p) for p in fs], label=[str(is_cat(p.name)) for p in fs])), root=pets, labeller=is_cat)
    assert w.labels == ['False', 'True']                                           # not 'images', not 'annotations'
    w = ImageCleaner(pd.DataFrame(dict(path=[str(p) for p in fs], label=[re.match(NAME_RE, p.name).group(1) for p in fs],
                                       suggested='two')), labeller=NAME_RE)        # root guessed: the images' folder
    assert w.cleaner.root == (pets/'images').resolve() and 'images' not in w.labels and 'two' in w.labels
    card = w.cards[0]; w._accept(card)                                             # the one-click button
    rel = w.rels[card.idx]
    assert w.cleaner.choice(rel) == 'relabel:two'
    w._apply(); dst = w.cleaner.moved[rel].dst
    assert re.match(NAME_RE, dst).group(1) == 'two' and '✓ relabelled → two' in card.where.value and len(get_image_files(pets/'images')) == len(fs)

def test_a_mark_is_applied_only_with_its_labeller(names):
    "A mark made with is_cat is never applied with a regex (its 'False' would become a breed) nor with folder labels."
    c = Cleaner(names, labeller=is_cat); c.mark(names/'zero_0.png', 'relabel', to='True')
    before = snapshot(names)
    p = Cleaner(names, labeller=NAME_RE).apply()
    assert not p.moves and 'open the cleaner with the labeller it was marked with' in p.skipped[0][1]
    assert not Cleaner(names).apply().moves and snapshot(names) == before
    assert Cleaner(names, labeller=is_cat).apply().moves[0].dst == 'Zero_0.png'

def test_cli_label_re(names, tmp_path):
    before, n = snapshot(names), len(get_image_files(names))
    r = run_cli('clean', 'mark', names, names/'zero_1.png', '--relabel', 'three')             # folder labels on a flat folder: refused
    assert r.returncode == 1 and 'not inside a label folder' in r.stderr and '--label_re' in r.stderr
    r = run_cli('clean', 'mark', names, 'zero_1.png', 'zero_2.png', '--relabel', 'three', '--label-re', NAME_RE)
    assert r.returncode == 0, r.stderr
    r = run_cli('clean', 'plan', names, '--label-re', NAME_RE)
    assert '~ relabel zero_1.png  →  three_1.png' in r.stdout, r.stdout
    r = run_cli('clean', 'apply', names)                                                      # without it: skipped, and why
    assert 'open the cleaner with the labeller' in r.stdout and snapshot(names) == before
    r = run_cli('clean', 'apply', names, '--label-re', NAME_RE)
    assert r.returncode == 0 and '2 relabelled' in r.stdout and f"companion clean undo {Path(names).resolve()} --label_re '{NAME_RE}'" in r.stdout, r.stdout
    check_invariant(names, 're', n, {'zero_1.png': 'three', 'zero_2.png': 'three'})
    r = run_cli('clean', 'undo', names)
    assert r.returncode == 0 and 'put back 2 files' in r.stdout
    assert snapshot(names) == before
    r = run_cli('clean', 'list', names, '--label-re', '^.+$')
    assert r.returncode == 1 and 'exactly one' in r.stderr
