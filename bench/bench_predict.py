"""Predictor vs learn.predict on the same images in the same run: one image at a time, and per image in a batch.
Run: .venv/bin/python bench/bench_predict.py [--n 64] [--threads N]"""
import argparse, os, tempfile, time, warnings
from pathlib import Path
import numpy as np

def per_image(fn, items, repeat=3):
    "Best-of-`repeat` seconds per image of `fn(items)`."
    best = float('inf')
    for _ in range(repeat):
        t = time.perf_counter(); fn(items); best = min(best, (time.perf_counter() - t) / len(items))
    return best

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('--n', type=int, default=64); ap.add_argument('--threads', type=int, default=None)
    a = ap.parse_args()
    warnings.simplefilter('ignore')
    import torch
    from companion.data import digits
    from companion.learner import image_dls, learner
    from companion.predict import Predictor, export_model
    tmp = Path(tempfile.mkdtemp())
    learn = learner(image_dls(digits(tmp/'digits')))
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(1, 3e-3)
    out = export_model(learn, tmp/'model')
    items = list(learn.dls.valid_ds.items[:a.n])
    def fastai_single(xs):
        with learn.no_bar():
            for x in xs: learn.predict(x)
    def fastai_batch(xs):
        with learn.no_bar(): learn.get_preds(dl=learn.dls.test_dl(xs))
    few = items[:min(len(items), 24)]   # learn.predict is slow: fewer images, same files
    print(f'digits small_cnn, 28 px PNG files, {len(items)} images (learn.predict on {len(few)}), best of 3, ms per image; '
          f'{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}')
    for threads in ([a.threads] if a.threads else [torch.get_num_threads(), 1]):
        torch_p, onnx_p = Predictor.load(out, 'torch', threads=threads), Predictor.load(out, 'onnx', threads=threads)   # sets torch's threads for all rows
        for p in (torch_p, onnx_p): p.predict_batch(items[:4]); p.predict(items[0])   # warm up
        rows = [('learn.predict, one image at a time', per_image(fastai_single, few)),
                ('fastai test_dl + get_preds, batched', per_image(fastai_batch, items)),
                ('Predictor torch, one image at a time', per_image(lambda xs: [torch_p.predict(x) for x in xs], items)),
                ('Predictor torch, predict_batch', per_image(torch_p.predict_batch, items)),
                ('Predictor onnx, one image at a time', per_image(lambda xs: [onnx_p.predict(x) for x in xs], items)),
                ('Predictor onnx, predict_batch', per_image(onnx_p.predict_batch, items))]
        base = rows[0][1]
        print(f'\n{threads} thread(s) for torch (learn.predict included) and ONNX Runtime:')
        for name, s in rows: print(f'  {name:<40} {s*1e3:8.2f} ms   {base/s:6.1f}x learn.predict')
        print(f'  single image: Predictor torch {base/rows[2][1]:.1f}x (goal >= 3x), onnx {base/rows[4][1]:.1f}x; '
              f'batched per image: torch {base/rows[3][1]:.1f}x (goal >= 10x), onnx {base/rows[5][1]:.1f}x; '
              f'batched vs fastai batched: torch {rows[1][1]/rows[3][1]:.1f}x, onnx {rows[1][1]/rows[5][1]:.1f}x')

if __name__ == '__main__': main()
