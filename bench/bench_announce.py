"""Wall-time overhead of PhaseAnnouncer and EventTrace against a plain fit with fastai's default ProgressCallback.

Same data, same run: each round fits a fresh small_cnn learner on the digits for 1 epoch once per variant (the order
rotates each round), with stdout sent to os.devnull for every variant. Prints the median seconds per variant and the
median of the per-round ratios to the plain fit (goal: <= 1.02).

    .venv/bin/python bench/bench_announce.py [--rounds 5]
"""
import argparse, contextlib, os, statistics, sys, tempfile, time, warnings
from pathlib import Path

def main(argv=None):
    p = argparse.ArgumentParser(prog='bench_announce')
    p.add_argument('--rounds', type=int, default=5, help='paired rounds (>= 5)')
    p.add_argument('--epochs', type=int, default=1)
    p.add_argument('--threads', type=int, default=None, help='torch threads (default: torch\'s own)')
    a = p.parse_args(argv)
    warnings.filterwarnings('ignore')
    import torch
    if a.threads: torch.set_num_threads(a.threads)
    from fastai.basics import set_seed
    from companion.data import digits
    from companion.learner import image_dls, learner
    from companion.announce import PhaseAnnouncer, EventTrace
    with contextlib.redirect_stdout(open(os.devnull, 'w')): path = digits(Path(tempfile.mkdtemp())/'digits')
    dls = image_dls(path)
    variants = {'plain (fastai ProgressCallback)': lambda: [], 'PhaseAnnouncer': lambda: [PhaseAnnouncer()],
                'EventTrace': lambda: [EventTrace()], 'PhaseAnnouncer + EventTrace': lambda: [PhaseAnnouncer(), EventTrace()]}
    names = list(variants)
    cb_ms = {}                                               # ms spent inside a callback, from the traced runs
    def fit(name):
        set_seed(42)
        learn = learner(dls, cbs=variants[name]())
        with contextlib.redirect_stdout(open(os.devnull, 'w')):
            t, c = time.perf_counter(), time.process_time()
            learn.fit(a.epochs)
            t, c = time.perf_counter() - t, time.process_time() - c
        tr = learn.__dict__.get('event_trace')
        if tr is not None:
            per = {}
            for (_e,_p),(_n,_s,cbs) in tr.stats.items():
                for cb,(_k,secs) in cbs.items(): per[cb] = per.get(cb, 0.) + 1e3*secs
            for cb,ms in per.items(): cb_ms.setdefault((name, cb), []).append(ms)
        cpu[name].append(c)
        return t
    cpu = {n: [] for n in names}
    fit(names[0]); cpu[names[0]].clear()                     # warm-up: first-call costs go to no variant
    times = {n: [] for n in names}
    for r in range(a.rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order: times[n].append(fit(n))
        print(f'round {r+1}/{a.rounds}: ' + ', '.join(f'{n.split()[0]} {times[n][-1]:.2f}s' for n in names), file=sys.stderr)
    base = times[names[0]]
    print(f'{a.rounds} paired rounds, {a.epochs} epoch(s) of small_cnn on {len(dls.train_ds)+len(dls.valid_ds)} digits, torch threads={__import__("torch").get_num_threads()}')
    for n in names:
        ratios = [t/b for t,b in zip(times[n], base)]
        print(f'{n:32s} median {statistics.median(times[n]):6.2f} s   median ratio to plain {statistics.median(ratios):.3f}'
              f"   (per round: {' '.join(f'{x:.3f}' for x in ratios)})")
    print('CPU time of the process (less sensitive to other processes on the machine):')
    for n in names:
        ratios = [t/b for t,b in zip(cpu[n], cpu[names[0]])]
        print(f'{n:32s} median {statistics.median(cpu[n]):6.2f} s   median ratio to plain {statistics.median(ratios):.3f}')
    print('time inside the display callbacks per fit, measured by EventTrace in the traced runs:')
    for (n, cb), ms in cb_ms.items():
        if cb in ('PhaseAnnouncer', 'ProgressCallback'):
            print(f'  {cb:17s} in "{n}": median {statistics.median(ms):7.1f} ms per fit ({statistics.median(ms)/1e3/statistics.median(times[n]):.2%} of its wall time)')

if __name__ == '__main__': main()
