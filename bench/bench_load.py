"""Load on a companion Space app with good and bad uploads mixed: 64 clients for 60 s (bounded), through Gradio's REST API on 127.0.0.1.

Each request is a digit (70 %) or one of the bad uploads `companion.deploy.bad_uploads` writes (not an image, empty, truncated,
decompression bomb, 20000-px strip, 11 MB file, CMYK, 16-bit, transparent, palette, animated), a 6300×6300 PNG for a model with no
Resize, a decompression bomb sent as a data: URL, a 30 MB data: URL, an icon over a 13000² PNG, and legal 6300² 16-bit and float TIFFs.
Every answer is checked against what it should be: a prediction, or a refusal that names the problem. Printed: requests, unexpected
results (goal 0), throughput, p50/p95 latency per kind, the server's peak RSS (goal <= MEMORY_BUDGET, 1 GB).
The same run serves the same Space twice: with today's limits, and with the app, runtime and images modules of `--baseline` (the
commit before the memory limits), so that both sets of figures come from one run on one machine. --learner also serves the course's
learn.predict app with good uploads only, for the ratio of throughput.
Run: .venv/bin/python bench/bench_load.py [--clients 64] [--seconds 60] [--quick: 16 clients, 20 s]
"""
import argparse, base64, io, os, random, shutil, statistics, subprocess, sys, tempfile, threading, time
from pathlib import Path
os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
os.environ.setdefault('HF_HUB_OFFLINE', '1')
sys.path.insert(0, str(Path(__file__).parent))
from bench_app import LEARNER_APP, cpu_s   # the course's learn.predict app, and CPU time from /proc

def peak_rss(pid) -> float:
    "Peak resident memory (VmHWM) of `pid` in MB."
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmHWM:'): return int(line.split()[1])/1024
    return float('nan')

def png(w, h) -> bytes:
    from PIL import Image
    b = io.BytesIO(); Image.new('L', (w, h)).save(b, 'PNG', optimize=True); return b.getvalue()

def tiff(mode, side=6300) -> bytes:
    "A legal 16-bit or float TIFF, `side` px a side, deflated to well under the upload limit."
    import numpy as np
    from PIL import Image
    a = np.zeros((side, side), np.uint16 if mode == 'I;16' else np.float32); a[::7] = 1000
    b = io.BytesIO(); Image.fromarray(a).save(b, 'TIFF', compression='tiff_adobe_deflate'); return b.getvalue()

def ico_bomb() -> bytes:
    "An icon whose directory says 16×16 over a 13000×13000 PNG (Pillow decodes an icon's picture at open)."
    import struct
    p = png(13_000, 13_000)
    return struct.pack('<HHH', 0, 1, 1) + struct.pack('<BBBBHHII', 16, 16, 0, 0, 1, 32, len(p), 22) + p

def make_cases(tmp: Path, digits: list) -> dict:
    "{kind: (bytes, 'ok' or words the refusal contains, sent as 'file' or 'data')}"
    from companion.spacecheck import bad_uploads, UPLOAD_CASES
    cases = {'digit': ([d.read_bytes() for d in digits], 'ok', 'file')}
    for kind, f in bad_uploads(tmp/'bad', digits[0]).items():
        action, words = UPLOAD_CASES[kind]
        cases[kind] = ([f.read_bytes()], 'ok' if action == 'convert' else 'too large' if kind == 'oversize' else words, 'file')
    cases['6300px'] = ([png(6300, 6300)], 'ok', 'file')
    cases['data_bomb'] = ([png(13_300, 13_300)], 'Too many pixels', 'data')
    cases['data_30mb'] = ([os.urandom(22_000_000)], 'too large', 'data')
    cases['ico_bomb'] = ([ico_bomb()], 'Too many pixels', 'file')
    cases['tiff16'] = ([tiff('I;16')], 'ok', 'file')
    cases['tiff_float'] = ([tiff('F')], 'ok', 'file')
    return cases

def send(http, data: bytes, how: str):
    "('complete'|'error'|'refused', text) for one request through Gradio's REST API."
    if how == 'data': arg = {'url': 'data:image/png;base64,' + base64.b64encode(data).decode(), 'meta': {'_type': 'gradio.FileData'}}
    else:
        up = http.post('/upload', files={'files': ('x.png', data, 'image/png')})
        if up.status_code == 413 or (up.status_code >= 400 and 'size' in up.text.lower()): return 'refused', f'upload refused: too large ({up.status_code})'
        up.raise_for_status()
        arg = {'path': up.json()[0], 'meta': {'_type': 'gradio.FileData'}}
    r = http.post('/call/predict', json={'data': [arg]})
    if r.status_code == 413: return 'refused', r.text   # the request body was over the limit
    r.raise_for_status()
    event = None
    with http.stream('GET', f'/call/predict/{r.json()["event_id"]}') as s:
        for line in s.iter_lines():
            if line.startswith('event:'): event = line[6:].strip()
            elif line.startswith('data:') and event in ('complete', 'error'): return event, line[5:].strip()
    return 'lost', f'stream ended (last event {event})'

def expected(kind, want, event, text) -> bool:
    if want == 'ok': return event == 'complete'
    return event in ('error', 'refused') and want.lower() in text.lower()

def hammer(url, cases, weights, clients, seconds, seed=0):
    "`clients` threads sending random cases for `seconds`; returns {kind: [latencies]}, [unexpected], wall."
    import httpx
    lat, bad, lock = {}, [], threading.Lock()
    stop = time.perf_counter() + seconds
    start = threading.Barrier(clients + 1)
    def work(i):
        rng = random.Random(seed + i)
        with httpx.Client(base_url=url.rstrip('/') + '/gradio_api', timeout=120) as http:
            start.wait()
            while time.perf_counter() < stop:
                kind = rng.choices(list(weights), list(weights.values()))[0]
                blobs, want, how = cases[kind]
                t = time.perf_counter()
                try: event, text = send(http, rng.choice(blobs), how)
                except Exception as e: event, text = 'exception', f'{type(e).__name__}: {e}'
                dt = time.perf_counter() - t
                with lock:
                    lat.setdefault(kind, []).append(dt)
                    if not expected(kind, want, event, text): bad.append((kind, event, text[:160]))
    ts = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for t in ts: t.start()
    start.wait(); t0 = time.perf_counter()
    for t in ts: t.join()
    return lat, bad, time.perf_counter() - t0

def q(xs, p): return statistics.quantiles(xs, n=100)[p-1]*1000 if len(xs) > 1 else (xs[0]*1000 if xs else float('nan'))

def baseline_space(space: Path, ref: str) -> Path:
    "A copy of `space` whose app, runtime and image modules are those of git commit `ref`: today's figures, before the limits."
    old = space.parent/f'{space.name}_{ref}'
    shutil.copytree(space, old)
    root = Path(__file__).resolve().parent.parent
    for dest, src in (('app.py', 'app'), ('companion_runtime.py', 'runtime'), ('companion_images.py', 'images')):
        (old/dest).write_bytes(subprocess.run(['git', 'show', f'{ref}:companion/{src}.py'], cwd=root, capture_output=True, check=True).stdout)
    return old

def serve(space, name, cases, weights, a):
    "Hammer the Space in `space`; print and return (p95 of good digits in ms, unexpected, peak RSS MB)."
    from companion.spacecheck import AppServer
    with AppServer(space, timeout=180) as srv:
        base = peak_rss(srv.proc.pid); c0 = cpu_s(srv.proc.pid)
        lat, bad, wall = hammer(srv.url, cases, weights, a.clients, a.seconds)
        n, peak = sum(map(len, lat.values())), peak_rss(srv.proc.pid)
        print(f'{name}: {n} requests in {wall:.0f} s = {n/wall:.1f} req/s; unexpected results: {len(bad)}; server CPU {(cpu_s(srv.proc.pid)-c0)/n*1000:.1f} ms/req; '
              f'peak RSS {peak:.0f} MB (at start {base:.0f} MB)', flush=True)
        for kind, xs in sorted(lat.items()): print(f'  {kind:<10} {len(xs):>5} requests  p50 {q(xs, 50):7.0f} ms  p95 {q(xs, 95):7.0f} ms')
        for b in bad[:10]: print('  unexpected:', b)
        return q(lat['digit'], 95), len(bad), peak, len(lat['digit'])/wall

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--clients', type=int, default=64); ap.add_argument('--seconds', type=float, default=60)
    ap.add_argument('--quick', action='store_true', help='16 clients for 20 s each (a shared 2-core machine)')
    ap.add_argument('--baseline', default='4ad2132', help="the commit whose app/runtime/images give today's figures ('' to skip)")
    ap.add_argument('--learner', action='store_true', help="also serve the course's learn.predict app, for the ratio of throughput")
    a = ap.parse_args()
    if a.quick: a.clients, a.seconds = 16, 20
    from companion.data import digits
    from companion.learner import image_dls, learner
    from companion.predict import export_model
    from companion.deploy import build_space
    from companion.images import MEMORY_BUDGET, mb_bytes
    tmp = Path(tempfile.mkdtemp(prefix='bench_load_'))
    path = digits(tmp/'digits')
    learn = learner(image_dls(path))
    with learn.no_bar(), learn.no_logging(): learn.fine_tune(1)
    space = build_space(export_model(learn, tmp/'model'), tmp/'space', examples=path/'valid', target='cpu')
    files = sorted((path/'valid').rglob('*.png'))[:64]
    cases = make_cases(tmp, files)
    weights = {'digit': 70, **{k: 30/(len(cases)-1) for k in cases if k != 'digit'}}
    print(f'{a.clients} clients for {a.seconds:.0f} s, {len(cases)} kinds of upload (70 % good digits), REST API on 127.0.0.1; {os.cpu_count()} cores shared', flush=True)
    old = serve(baseline_space(space, a.baseline), f'today ({a.baseline})', cases, weights, a) if a.baseline else None
    new = serve(space, 'with the limits', cases, weights, a)
    budget = mb_bytes(MEMORY_BUDGET)/2**20
    print(f'goal: 0 unexpected ({new[1]}), peak RSS <= {budget:.0f} MB ({new[2]:.0f} MB)' +
          (f', good-digit p95 within 1.2x of today ({new[0]:.0f} ms vs {old[0]:.0f} ms = {new[0]/old[0]:.2f}x; today peaked at {old[2]:.0f} MB)' if old else ''))
    if a.learner:
        from companion.spacecheck import AppServer
        learn.export(tmp/'export.pkl')
        (tmp/'learner_app').mkdir(); (tmp/'learner_app'/'app.py').write_text(LEARNER_APP.format(pkl=str(tmp/'export.pkl')))
        with AppServer(tmp/'learner_app', timeout=180) as srv:
            lat2, bad2, wall2 = hammer(srv.url, cases, {'digit': 1}, a.clients, a.seconds/2)
            n2 = len(lat2['digit'])
            print(f'learn.predict app, good digits only: {n2/wall2:.1f} req/s, p95 {q(lat2["digit"], 95):.0f} ms, unexpected {len(bad2)}, peak RSS {peak_rss(srv.proc.pid):.0f} MB')
        print(f'ratio: companion serves {new[3] / (n2/wall2):.2f}x the good-digit throughput of learn.predict while 30 % of its load is bad uploads')

if __name__ == '__main__': main()
