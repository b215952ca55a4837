"""The course's pipelines (tests/test_course_export.py) exported by companion: agreement with learn.predict and time per image.

For each pipeline: train 1 epoch on a stand-in folder, export_model, then on every valid image and 3 odd-sized pictures: labels equal and
max |Δprob| for the torch and ONNX backends; then time per image, Predictor.predict (one at a time, ONNX) vs learn.predict, in the same run.
Run: .venv/bin/python bench/bench_parity.py
"""
import sys, tempfile, time, warnings
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).parent.parent/'tests'))
warnings.simplefilter('ignore')
import test_course_export as T
from standins import unsplit_folder, names_folder
from companion.predict import export_model, Predictor, _learn_probs

def per_image(fn, items, rounds=2) -> float:
    "Median over rounds of the mean ms per item of `fn(item)`."
    ts = []
    for _ in range(rounds):
        t = time.perf_counter()
        for o in items: fn(o)
        ts.append((time.perf_counter() - t)/len(items)*1000)
    return float(np.median(ts))

def main():
    d = Path(tempfile.mkdtemp(prefix='bench_parity_'))
    u, n = unsplit_folder(d/'u', n_per_class=12), names_folder(d/'n', n_per_class=12)
    print(f'{"pipeline":<11}{"items":>6}  {"torch labels":>12} {"max|dp|":>8}  {"onnx labels":>11} {"max|dp|":>8}  {"learn.predict ms":>16} {"Predictor ms":>12} {"ratio":>6}')
    for make in T.PIPELINES:
        learn = make(u, n)
        with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(1, 3e-3)
        out = export_model(learn, d/make.__name__)
        items = [learn.dls.valid_ds[i][0] for i in range(len(learn.dls.valid_ds))] + T._odd_images()
        want = _learn_probs(learn, items)
        row = []
        for b in ('torch', 'onnx'):
            got = Predictor.load(out, backend=b).predict_batch(items)
            row += [f'{sum(g[0] == w[0] for g, w in zip(got, want))}/{len(items)}', max(float(np.abs(g[2]-w[1]).max()) for g, w in zip(got, want))]
        p = Predictor.load(out, backend='onnx', threads=1)
        one = learn.predict
        try:
            with learn.no_bar(): one(items[0])
        except Exception:   # no activation on the loss (F.cross_entropy): learn.predict can't decode; time what it runs, get_preds on a test_dl
            one = lambda o: learn.get_preds(dl=learn.dls.test_dl([o], num_workers=0))
        with learn.no_bar(): lp = per_image(one, items)
        pp = per_image(p.predict, items)
        print(f'{make.__name__:<11}{len(items):>6}  {row[0]:>12} {row[1]:>8.1e}  {row[2]:>11} {row[3]:>8.1e}  {lp:>16.1f} {pp:>12.2f} {lp/pp:>5.0f}x', flush=True)

if __name__ == '__main__': main()
