"""Cost of interpreting a classifier on the train and valid items of the digits.

Three paths over the same items (train without augmentation, and valid):
  get_preds  : fastai's `learn.get_preds` once per split (the floor: one pass, no tables);
  companion  : `Interp.from_learner` (one pass per split, with embeddings) + confusion_matrix + most_confused + top_losses;
  fastai     : `ClassificationInterpretation.from_learner` + confusion_matrix + most_confused + top_losses, per split.
Prints the best of `REPEAT` runs of each and the ratios. Target: companion ≤ 1.1 × get_preds.
Run: .venv/bin/python bench/bench_interpret.py
"""
import tempfile, time, sys
from pathlib import Path
import numpy as np
from fastai.vision.all import set_seed, ClassificationInterpretation
from companion.data import digits
from companion.learner import learner, image_dls
from companion.interpret import Interp, split_dl, confusion_counts

REPEAT = int(sys.argv[1]) if len(sys.argv) > 1 else 3

def best(f, n=REPEAT):
    ts = []
    for _ in range(n):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return min(ts)

def main():
    root = digits(Path(tempfile.mkdtemp())/'digits')
    set_seed(0)
    learn = learner(image_dls(root, bs=64))
    with learn.no_bar(), learn.no_logging(): learn.fine_tune(1)
    dls = learn.dls
    n = len(dls.train_ds) + len(dls.valid_ds)

    def floor():
        for dl in (split_dl(dls, 'train'), dls.valid): learn.get_preds(dl=dl)
    def ours():
        it = Interp.from_learner(learn)
        for s in ('train', 'valid'): it.confusion_matrix(s); it.most_confused(split=s); it.top_losses(9, s)
    def theirs():
        for dl in (split_dl(dls, 'train'), dls.valid):
            ci = ClassificationInterpretation.from_learner(learn, dl=dl)
            ci.confusion_matrix(); ci.most_confused(); ci.top_losses(9)

    with learn.no_bar():
        floor(); ours(); theirs()            # warm-up: file cache, lazy imports
        t_gp, t_ours, t_fa = best(floor), best(ours), best(theirs)
    print(f'items: {n} ({len(dls.train_ds)} train, {len(dls.valid_ds)} valid), 10 classes, best of {REPEAT}')
    print(f'get_preds over both splits              : {t_gp:7.3f} s')
    print(f'companion Interp (+cm, most_confused, tl): {t_ours:7.3f} s   ratio to get_preds {t_ours/t_gp:.2f}x')
    print(f'fastai ClassificationInterpretation (same): {t_fa:7.3f} s   ratio to get_preds {t_fa/t_gp:.2f}x')
    print(f'fastai / companion: {t_fa/t_ours:.2f}x')

    # memory of the confusion matrix alone, at a scale fastai's C×C×N boolean tensor cannot reach
    N, C = 1_000_000, 1000
    rng = np.random.default_rng(0); t = rng.integers(0, C, N); p = rng.integers(0, C, N)
    t0 = time.perf_counter(); confusion_counts(t, p, C); dt = time.perf_counter() - t0
    print(f'confusion by counting, N={N:,}, C={C}: {dt:.3f} s, ~{(2*N*8 + C*C*8)/1e6:.0f} MB; '
          f'a C×C×N bool tensor would be {N*C*C/1e9:,.0f} GB')

if __name__ == '__main__': main()
