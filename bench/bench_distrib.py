"""Benchmark: `train(..., nproc=2)` (DDP over gloo, batch 32 per process) against one process (batch 64), same lr and epochs,
small CNN on all the digits (28 px). On this 2-core CPU the two processes share the two cores that one process uses
alone, so expect no speed-up: DDP pays off with one GPU (or one machine) per process. Accuracy should match within ~2 points.
Also: how long a run takes to end when one of its ranks is killed mid-epoch (the time tests/test_distrib.py no longer limits).
Run: .venv/bin/python bench/bench_distrib.py [EPOCHS]   (BENCH_REPS=N for N runs of each, default 2; the fastest of each is kept)"""
import os, sys, time, tempfile, contextlib, io
from functools import partial
from pathlib import Path
import matplotlib; matplotlib.use('Agg')   # a script: no display
from fastai.vision.all import set_seed
from companion.data import digits
from companion.learner import image_dls
from companion.train import train
from companion.distrib import DistribError
sys.path.insert(0, str(Path(__file__).resolve().parent.parent/'tests'))
from test_distrib import KillAt   # the test's callback: SIGKILL rank 1 at its third training batch

EPOCHS, LR = int(sys.argv[1]) if len(sys.argv) > 1 else 4, 1e-2
path = digits(Path(tempfile.mkdtemp())/'digits')

def timed(f):
    "Wall seconds (the children's CPU time is not this process's, so only wall time compares)."
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()): out = f()
    return time.perf_counter() - t, out

def one(): set_seed(42); return train(partial(image_dls, path, bs=64), EPOCHS, lr=LR, show=False, announce=False)[1]
def two(): set_seed(42); return train(partial(image_dls, path, bs=32), EPOCHS, lr=LR, nproc=2, show=False, announce=False)[1]

timed(lambda: train(partial(image_dls, path, bs=64), 1, lr=LR, show=False, announce=False))     # warm caches, untimed
runs = {'1 process': [], '2 processes': []}
for i in range(int(os.environ.get('BENCH_REPS', 2))):
    for name,f in (((('1 process', one), ('2 processes', two))) if i % 2 == 0 else (('2 processes', two), ('1 process', one))):
        runs[name].append(timed(f))
best = {k: min(v, key=lambda o: o[0]) for k,v in runs.items()}
print(f'{EPOCHS} epochs, lr {LR:g}, {os.cpu_count()} CPU cores, fastest of {len(runs["1 process"])} runs each (lr_find not included)')
for k,(secs,r) in best.items():
    print(f'  {k:<12} wall {secs:6.1f} s   accuracy {r.accuracy:.4f}   batch {r.bs} per process × {r.nproc}')
(s1,r1), (s2,r2) = best['1 process'], best['2 processes']
print(f'ratio 2 processes / 1 process: wall {s2/s1:.2f}x   accuracy difference {100*(r2.accuracy-r1.accuracy):+.1f} points')

def killed():
    try: train(lambda: image_dls(path, bs=16), 2, lr=LR, nproc=2, show=False, announce=False, cbs=[KillAt(1, 3)])
    except DistribError as e: return e
secs, e = timed(killed)
print(f'a rank killed at its third batch: the run ended in {secs:.1f} s ({"rank %s named" % e.rank if e else "NOT ended by a DistribError"})')
