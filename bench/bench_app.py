"""Serving cost of the built Space app vs the course's learn.predict app, and against its floor, measured in one run.

The server is pinned to core 0 and the load to core 1 (sched_setaffinity, as `taskset` does), so the clients never eat the
server's CPU. Per model, in the same run:
- companion's Space app (ONNX Runtime), the course's learn.predict app (load_learner + learn.predict), and a "floor" app: the
  same Gradio app whose function returns at once (Gradio's own cost per request);
- ONNX Runtime's forward pass alone on the same preprocessed images, one thread on core 0 (the model's cost).
floor = Gradio's cost + the forward pass. Goal: companion's server CPU per request ≤ 1.2× the floor, 0 errors.
Load: 16 threads × 20 requests through Gradio's REST API (upload, POST /gradio_api/call/predict, read the event stream) over one
httpx pool, a light client (~4 ms CPU per request); `--gradio-client` adds the same load through gradio_client (~90 ms of client
CPU per request, which caps a 2-core machine near 11 req/s). Server CPU per request is read from /proc for all its threads.
Models: small_cnn on the 28 px digits (fine_tune(1)); resnet18 at 192 px (lesson 1's Resize(192); untrained: weights don't change speed).
Run: .venv/bin/python bench/bench_app.py [--clients 16] [--requests 20] [--size 192] [--models small_cnn resnet18] [--gradio-client]
"""
import argparse, os, shutil, statistics, sys, tempfile, threading, time
from pathlib import Path
os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
os.environ.setdefault('HF_HUB_OFFLINE', '1')

NOOP_APP = '''\
"Gradio's own cost: the companion app with a function that returns at once."
import sys
import companion.app as app
def classify(path): return {'0': 1.0}, ''
class P: vocab, preprocess = ['0'], {}
demo = app.build_demo(P(), fn=classify)
a = dict(zip(sys.argv[1::2], sys.argv[2::2]))
print('companion app: no-op', flush=True)
demo.launch(server_name=a['--host'], server_port=int(a['--port']), ssr_mode=False)
'''

LEARNER_APP = '''\
"The course's way: load_learner on export.pkl and learn.predict per request (same UI and upload checks as the companion app)."
import sys
import companion.app as app
from companion.runtime import ImageError, load_image
from fastai.vision.all import load_learner, PILImage
learn = load_learner({pkl!r})
def classify(path):
    try: img, note = load_image(path)
    except ImageError as e: raise app.refuse(e) from None
    _, _, probs = learn.predict(PILImage.create(img))
    return {{str(v): float(p) for v, p in sorted(zip(learn.dls.vocab, probs.tolist()), key=lambda o: -o[1])[:3]}}, note
class P: vocab, preprocess = list(learn.dls.vocab), {{}}
demo = app.build_demo(P(), fn=classify, concurrency=1)   # a Learner is not safe to call from two threads at once
a = dict(zip(sys.argv[1::2], sys.argv[2::2]))
print('companion app: learn.predict', flush=True)
demo.launch(server_name=a['--host'], server_port=int(a['--port']), ssr_mode=False)
'''

def _hammer(send, files, clients, requests):
    "Start `clients` threads together, each calling `send(i, file)` `requests` times; return (wall s, latencies, errors)."
    lat, errs, lock = [], [], threading.Lock()
    start = threading.Barrier(clients + 1)
    def work(i):
        start.wait()
        for j in range(requests):
            t = time.perf_counter()
            try: send(i, files[(i*requests + j) % len(files)])
            except Exception as e:
                with lock: errs.append(f'{type(e).__name__}: {e}')
                continue
            with lock: lat.append(time.perf_counter() - t)
    ts = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for t in ts: t.start()
    start.wait(); t0 = time.perf_counter()
    for t in ts: t.join()
    return time.perf_counter() - t0, lat, errs

def load(url, files, clients, requests):
    "Run `clients` threads, each with its own gradio_client.Client, sending `requests` predictions; return (wall s, latencies, errors)."
    from gradio_client import Client, handle_file
    cs = [Client(url, verbose=False) for _ in range(clients)]
    return _hammer(lambda i, f: cs[i].predict(handle_file(str(f)), api_name='/predict'), files, clients, requests)

def load_http(url, files, clients, requests):
    "The same load through Gradio's REST API (upload, POST call/predict, read its event stream) with one httpx pool: a light client."
    import httpx
    data = {str(f): Path(f).read_bytes() for f in files}
    http = httpx.Client(base_url=url.rstrip('/') + '/gradio_api', timeout=120, limits=httpx.Limits(max_connections=2*clients))
    def one(f):
        up = http.post('/upload', files={'files': (Path(f).name, data[str(f)], 'image/png')}); up.raise_for_status()
        arg = {'path': up.json()[0], 'meta': {'_type': 'gradio.FileData'}}
        r = http.post('/call/predict', json={'data': [arg]}); r.raise_for_status()
        with http.stream('GET', f'/call/predict/{r.json()["event_id"]}') as s:
            event = None
            for line in s.iter_lines():
                if line.startswith('event:'): event = line[6:].strip()
                elif line.startswith('data:') and event in ('complete', 'error'):
                    if event == 'error': raise RuntimeError(line[5:].strip()[:200])
                    return
        raise RuntimeError(f'stream ended without a result (last event {event})')
    try: return _hammer(lambda i, f: one(f), files, clients, requests)
    finally: http.close()

def cpu_s(pid) -> float:
    "CPU seconds (user + system, all threads) used so far by process `pid` (Linux /proc), or nan."
    try: f = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split(); return (int(f[11]) + int(f[12])) / os.sysconf('SC_CLK_TCK')
    except OSError: return float('nan')

def pct(xs, q): return statistics.quantiles(xs, n=100)[q-1] * 1000 if len(xs) > 1 else float('nan')

def make_model(tmp: Path, path: Path, arch: str, size: int|None):
    "Export `arch` on the digits both ways (export_model folder + Space, export.pkl + learn.predict app); return (space dir, learner app dir)."
    from companion.learner import image_dls, learner
    from companion.predict import export_model
    from companion.deploy import build_space
    d = tmp/arch; d.mkdir()
    dls = image_dls(path, size=size)
    learn = learner(dls, arch, pretrained=False)
    if arch == 'small_cnn':
        with learn.no_bar(), learn.no_logging(): learn.fine_tune(1)   # resnet18 stays untrained: weights don't change its speed
    model = export_model(learn, d/'model')
    learn.export(d/'export.pkl')
    space = build_space(model, d/'space', title='Digits', examples=path/'valid', target='cpu')
    (d/'learner_app').mkdir(); (d/'learner_app'/'app.py').write_text(LEARNER_APP.format(pkl=str(d/'export.pkl')))
    (d/'noop_app').mkdir(); (d/'noop_app'/'app.py').write_text(NOOP_APP)
    return space, d/'learner_app', d/'noop_app'

LOADS = {'REST (httpx)': load_http}
SERVER_CORE, LOAD_CORE = 0, 1

def pin(core: int):
    "Pin the calling thread (and the threads and processes it starts later) to one core."
    os.sched_setaffinity(0, {core})

def forward_ms(space: Path, files) -> tuple[float, float]:
    "CPU ms per image, on one thread of the server's core: (open + preprocess, ONNX Runtime's forward pass), from the Space's own model folder."
    from companion.runtime import Predictor, preprocess
    pin(SERVER_CORE)
    try:
        p = Predictor.load(space/'model', backend='onnx', threads=1)
        t = time.process_time(); xs = [preprocess(f, p.preprocess) for f in files for _ in range(3)]; prep = (time.process_time() - t)/len(xs)
        for x in xs[:8]: p._run(x[None])   # warm up
        t = time.process_time()
        for x in xs: p._run(x[None])
        return prep*1000, (time.process_time() - t)/len(xs)*1000
    finally: pin(LOAD_CORE)

def run_app(name, app_dir, files, clients, requests):
    "Serve `app_dir`, warm it up, put each load on it; print and return {load: (throughput, p50, p95, errors, server and client ms/req)}."
    from companion.spacecheck import AppServer
    n, res = clients * requests, {}
    pin(SERVER_CORE)                      # the server process inherits core 0 ...
    srv = AppServer(app_dir, timeout=180).start()
    pin(LOAD_CORE)                        # ... and the client threads started from here run on core 1
    try:
        for kind, fn in LOADS.items():
            fn(srv.url, files[:4], 2, 2)   # warm up
            c0, s0 = cpu_s(srv.proc.pid), time.process_time()
            wall, lat, errs = fn(srv.url, files, clients, requests)
            srv_ms, cli_ms = (cpu_s(srv.proc.pid) - c0) / n * 1000, (time.process_time() - s0) / n * 1000
            r = res[kind] = dict(tput=len(lat)/wall, p50=pct(lat, 50), p95=pct(lat, 95), errors=len(errs), srv_ms=srv_ms, cli_ms=cli_ms)
            print(f'  {name:<20} {kind:<14} errors {len(errs):>3}  throughput {r["tput"]:6.1f} req/s  p50 {r["p50"]:5.0f} ms  p95 {r["p95"]:5.0f} ms  '
                  f'server CPU {srv_ms:5.1f} ms/req  clients CPU {cli_ms:5.1f} ms/req  (wall {wall:.1f} s)', flush=True)
            for e in errs[:3]: print('     error:', e[:200])
    finally: srv.stop()                   # (not `with srv`: that would start a second server)
    return res

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--clients', type=int, default=16); ap.add_argument('--requests', type=int, default=20)
    ap.add_argument('--size', type=int, default=192, help='input size of the resnet18 model (px)')
    ap.add_argument('--models', nargs='+', default=['small_cnn', 'resnet18'], choices=['small_cnn', 'resnet18'])
    ap.add_argument('--gradio-client', action='store_true', help='also load each app through gradio_client')
    a = ap.parse_args()
    if a.gradio_client: LOADS['gradio_client'] = load
    if len(os.sched_getaffinity(0)) < 2: sys.exit('bench_app needs 2 cores: one for the server, one for the load')
    pin(LOAD_CORE)
    from companion.data import digits
    t0 = time.time()
    tmp = Path(tempfile.mkdtemp(prefix='bench_app_'))
    path = digits(tmp/'digits')
    files = sorted((path/'valid').rglob('*.png'))[:64]
    print(f'{a.clients} clients × {a.requests} requests = {a.clients*a.requests} per app, {len(files)} digit images (28 px PNG); '
          f'server on core {SERVER_CORE}, load on core {LOAD_CORE}', flush=True)
    summary = []
    for arch in a.models:
        size = None if arch == 'small_cnn' else a.size
        label = f'{arch} {size or 28} px'
        space, learner_app, noop_app = make_model(tmp, path, arch, size)
        print(f'{label}:', flush=True)
        prep, fwd = forward_ms(space, files)
        print(f'  ONNX Runtime forward alone (1 thread, core {SERVER_CORE}): {fwd:.2f} ms/image; open + preprocess {prep:.2f} ms/image', flush=True)
        g = run_app('Gradio no-op', noop_app, files, a.clients, a.requests)
        c = run_app('companion (ONNX)', space, files, a.clients, a.requests)
        l = run_app('learn.predict', learner_app, files, a.clients, a.requests)
        for kind in LOADS:
            floor = g[kind]['srv_ms'] + fwd
            summary.append((label, kind, c[kind], l[kind], floor))
            print(f'  ratio companion / learn.predict, {kind:<14}: throughput {c[kind]["tput"]/l[kind]["tput"]:.2f}×, '
                  f'p50 {l[kind]["p50"]/c[kind]["p50"]:.2f}× lower, server CPU per request {l[kind]["srv_ms"]/c[kind]["srv_ms"]:.2f}× lower', flush=True)
            print(f'  floor (Gradio no-op {g[kind]["srv_ms"]:.1f} + forward {fwd:.1f}) = {floor:.1f} ms/req; companion {c[kind]["srv_ms"]:.1f} ms/req '
                  f'= {c[kind]["srv_ms"]/floor:.2f}× the floor (goal ≤ 1.2×)', flush=True)
    shutil.rmtree(tmp, ignore_errors=True)
    print(f'\nsummary ({time.time()-t0:.0f} s in all; server pinned to core {SERVER_CORE}, load to core {LOAD_CORE}; goal: companion ≤ 1.2× floor, 0 errors)')
    print(f'  {"model":<16}{"clients":<15}{"companion req/s":>16}{"learn.predict req/s":>20}{"ratio":>8}{"server CPU ms/req c / l / floor":>34}{"c/floor":>9}{"errors":>8}')
    for label, kind, c, l, floor in summary:
        print(f'  {label:<16}{kind:<15}{c["tput"]:>16.1f}{l["tput"]:>20.1f}{c["tput"]/l["tput"]:>7.2f}×{c["srv_ms"]:>15.1f} / {l["srv_ms"]:<6.1f} / {floor:<6.1f}'
              f'{c["srv_ms"]/floor:>8.2f}×{c["errors"]+l["errors"]:>8}')

if __name__ == '__main__': main()
