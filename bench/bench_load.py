"""Load on a companion Space app with good and bad uploads mixed: 64 clients for 60 s (bounded), through Gradio's REST API on 127.0.0.1.

Each request is a digit (70 %) or one of the bad uploads `companion.deploy.bad_uploads` writes (not an image, empty, truncated,
decompression bomb, 20000-px strip, 11 MB file, CMYK, 16-bit, transparent, palette, animated), a 6300×6300 PNG for a model with no
Resize, or a decompression bomb sent as a data: URL. Every answer is checked against what it should be: a prediction, or a refusal
that names the problem. Printed: requests, unexpected results (goal 0), throughput, p50/p95 latency per kind, the server's peak RSS.
The same run also serves the course's learn.predict app with good uploads only, for the ratio of throughput.
Run: .venv/bin/python bench/bench_load.py [--clients 64] [--seconds 60]
"""
import argparse, base64, io, os, random, statistics, sys, tempfile, threading, time
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

def make_cases(tmp: Path, digits: list) -> dict:
    "{kind: (bytes, 'ok' or words the refusal contains, sent as 'file' or 'data')}"
    from companion.spacecheck import bad_uploads, UPLOAD_CASES
    cases = {'digit': ([d.read_bytes() for d in digits], 'ok', 'file')}
    for kind, f in bad_uploads(tmp/'bad', digits[0]).items():
        action, words = UPLOAD_CASES[kind]
        cases[kind] = ([f.read_bytes()], 'ok' if action == 'convert' else 'too large' if kind == 'oversize' else words, 'file')
    cases['6300px'] = ([png(6300, 6300)], 'ok', 'file')
    cases['data_bomb'] = ([png(13_300, 13_300)], 'Too many pixels', 'data')
    return cases

def send(http, data: bytes, how: str):
    "('complete'|'error'|'refused', text) for one request through Gradio's REST API."
    if how == 'data': arg = {'url': 'data:image/png;base64,' + base64.b64encode(data).decode(), 'meta': {'_type': 'gradio.FileData'}}
    else:
        up = http.post('/upload', files={'files': ('x.png', data, 'image/png')})
        if up.status_code == 413 or (up.status_code >= 400 and 'size' in up.text.lower()): return 'refused', f'upload refused: too large ({up.status_code})'
        up.raise_for_status()
        arg = {'path': up.json()[0], 'meta': {'_type': 'gradio.FileData'}}
    r = http.post('/call/predict', json={'data': [arg]}); r.raise_for_status()
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

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--clients', type=int, default=64); ap.add_argument('--seconds', type=float, default=60)
    a = ap.parse_args()
    from companion.data import digits
    from companion.learner import image_dls, learner
    from companion.predict import export_model
    from companion.deploy import build_space
    from companion.spacecheck import AppServer
    tmp = Path(tempfile.mkdtemp(prefix='bench_load_'))
    path = digits(tmp/'digits')
    learn = learner(image_dls(path))
    with learn.no_bar(), learn.no_logging(): learn.fine_tune(1)
    space = build_space(export_model(learn, tmp/'model'), tmp/'space', examples=path/'valid', target='cpu')
    learn.export(tmp/'export.pkl')
    (tmp/'learner_app').mkdir(); (tmp/'learner_app'/'app.py').write_text(LEARNER_APP.format(pkl=str(tmp/'export.pkl')))
    files = sorted((path/'valid').rglob('*.png'))[:64]
    cases = make_cases(tmp, files)
    weights = {'digit': 70, **{k: 30/(len(cases)-1) for k in cases if k != 'digit'}}
    print(f'{a.clients} clients for {a.seconds:.0f} s, {len(cases)} kinds of upload (70 % good digits), REST API on 127.0.0.1; {os.cpu_count()} cores shared', flush=True)
    with AppServer(space, timeout=180) as srv:
        base = peak_rss(srv.proc.pid); c0 = cpu_s(srv.proc.pid)
        lat, bad, wall = hammer(srv.url, cases, weights, a.clients, a.seconds)
        n = sum(map(len, lat.values()))
        print(f'companion app: {n} requests in {wall:.0f} s = {n/wall:.1f} req/s; unexpected results: {len(bad)}; server CPU {(cpu_s(srv.proc.pid)-c0)/n*1000:.1f} ms/req; '
              f'peak RSS {peak_rss(srv.proc.pid):.0f} MB (at start {base:.0f} MB)')
        for kind, xs in sorted(lat.items()): print(f'  {kind:<10} {len(xs):>5} requests  p50 {q(xs, 50):7.0f} ms  p95 {q(xs, 95):7.0f} ms')
        for b in bad[:10]: print('  unexpected:', b)
        good = lat['digit']
    with AppServer(tmp/'learner_app', timeout=180) as srv:
        lat2, bad2, wall2 = hammer(srv.url, cases, {'digit': 1}, a.clients, a.seconds/2)
        n2 = len(lat2['digit'])
        print(f'learn.predict app, good digits only: {n2/wall2:.1f} req/s, p95 {q(lat2["digit"], 95):.0f} ms, unexpected {len(bad2)}, peak RSS {peak_rss(srv.proc.pid):.0f} MB')
    print(f'ratio: companion serves {len(good)/wall / (n2/wall2):.2f}x the good-digit throughput of learn.predict while 30 % of its load is bad uploads')

if __name__ == '__main__': main()
