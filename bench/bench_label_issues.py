"""How many deliberately flipped labels each ranking puts in its top 10 %, and what it costs.

Data: all digits (1,797 images), 5 % of the train labels moved to a wrong folder by `flip_labels`.
  label_issues : companion's ranking (k-fold out-of-fold self-confidence + embedding neighbours + duplicates);
  top_losses   : the lesson-2 way: train the same recipe on the folder, sort train+valid items by loss
                 (fastai's ClassificationInterpretation.top_losses on each split, merged), and on train alone.
Run: .venv/bin/python bench/bench_label_issues.py [epochs] [k]
"""
import tempfile, time, sys
from pathlib import Path
import torch
from fastai.vision.all import set_seed, ClassificationInterpretation
from companion.data import digits, flip_labels
from companion.learner import learner, image_dls, TrainRecipe
from companion.interpret import label_issues, split_dl

EPOCHS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
K = int(sys.argv[2]) if len(sys.argv) > 2 else 3

def recall(paths, flipped, n):
    "Share of `flipped` in the first `n` of `paths`."
    return len(set(list(paths)[:n]) & flipped) / len(flipped)

def main():
    root = digits(Path(tempfile.mkdtemp())/'digits')
    flipped = {str((root/p).resolve()) for p in flip_labels(root, pct=0.05, seed=0).path}

    t = time.perf_counter()
    df = label_issues(root, k=K, epochs=EPOCHS, seed=0)
    t_ours = time.perf_counter() - t
    n = len(df)//10

    t = time.perf_counter()
    set_seed(0)
    learn = learner(image_dls(root))
    with learn.no_bar(), learn.no_logging(): TrainRecipe(epochs=EPOCHS).fit(learn)   # the recipe label_issues trains each fold with
    losses, paths = [], []
    with learn.no_bar():
        for dl in (split_dl(learn.dls, 'train'), learn.dls.valid):
            ci = ClassificationInterpretation.from_learner(learn, dl=dl)
            l, idx = ci.top_losses()
            losses.append(l); paths += [str(Path(dl.items[i]).resolve()) for i in idx.tolist()]
    t_tl = time.perf_counter() - t
    order = torch.cat(losses).argsort(descending=True).tolist()
    tl_all = [paths[i] for i in order]
    n_train = len(learn.dls.train_ds)
    tl_train = paths[:n_train]    # first block: train items, already sorted by loss
    acc = learn.validate()[-1]

    print(f'{len(df)} images, {len(flipped)} flipped labels (5 % of train), top 10 % = {n} images; recipe {TrainRecipe(epochs=EPOCHS)}, 28 px')
    print(f'label_issues (k={K})           : recall in top 10 % {recall(df.path, flipped, n):6.1%}   {t_ours:6.1f} s (k trainings + 1 pass)')
    print(f'top_losses, train+valid         : recall in top 10 % {recall(tl_all, flipped, n):6.1%}   {t_tl:6.1f} s (1 training + passes); valid accuracy {acc:.3f}')
    print(f'top_losses, train only (top 10 % of train = {n_train//10}): recall {recall(tl_train, flipped, n_train//10):6.1%}')
    print(f'time ratio label_issues / top_losses: {t_ours/t_tl:.2f}x')
    top = df.head(n)
    print('reasons in the top 10 %:', {r: int(top.why.str.contains(r).sum()) for r in
          ('high loss', 'low self-confidence', 'neighbours disagree', 'duplicate of', 'in both train and valid')})
    print('reasons over all images:', {r: int(df.why.str.contains(r).sum()) for r in
          ('high loss', 'low self-confidence', 'neighbours disagree', 'duplicate of', 'in both train and valid')},
          f'flagged: {(df.why != "").sum()} of {len(df)}')
    print(f'flipped items in the top 10 % with a suggested label equal to the true one: '
          f'{_right_suggestions(df.head(n), root):.1%}')

def _right_suggestions(top, root):
    import pandas as pd
    fl = pd.read_csv(root/'flipped.csv', dtype=str)
    truth = {str((root/p).resolve()): t for p, t in zip(fl.path, fl.true_label)}
    hit = top[top.path.isin(truth)]
    return (hit.suggested == hit.path.map(truth)).mean() if len(hit) else 0.

if __name__ == '__main__': main()
