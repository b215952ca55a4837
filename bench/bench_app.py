"""Load on the built Space app vs the course's learn.predict app: 16 concurrent gradio_client clients × 20 requests each.

Same digits model, same images, same machine, same run. Prints errors, throughput (requests/s), p50/p95 latency, and the ratio.
Run: .venv/bin/python bench/bench_app.py [--clients 16] [--requests 20]
"""
import argparse, os, statistics, sys, tempfile, threading, time, textwrap
from pathlib import Path
os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
os.environ.setdefault('HF_HUB_OFFLINE', '1')

LEARNER_APP = '''\
"The course's way: load_learner on export.pkl and learn.predict per request (same UI and upload checks as the companion app)."
import sys
from companion.deploy import load_app
from fastai.vision.all import load_learner, PILImage
app = load_app()
learn = load_learner({pkl!r})
def classify(path):
    img, note = app.load_upload(path)
    _, _, probs = learn.predict(PILImage.create(img))
    return {{str(v): float(p) for v, p in sorted(zip(learn.dls.vocab, probs.tolist()), key=lambda o: -o[1])[:3]}}, note
class P: vocab = list(learn.dls.vocab)
demo = app.build_demo(P(), fn=classify, concurrency=1)   # a Learner is not safe to call from two threads at once
a = dict(zip(sys.argv[1::2], sys.argv[2::2]))
print('companion app: learn.predict', flush=True)
demo.launch(server_name=a['--host'], server_port=int(a['--port']), ssr_mode=False)
'''

def load(url, files, clients, requests):
    "Run `clients` threads, each with its own gradio_client.Client, sending `requests` predictions; return (wall s, latencies, errors)."
    from gradio_client import Client, handle_file
    lat, errs, lock = [], [], threading.Lock()
    cs = [Client(url, verbose=False) for _ in range(clients)]
    start = threading.Barrier(clients + 1)
    def work(i):
        start.wait()
        for j in range(requests):
            t = time.perf_counter()
            try: cs[i].predict(handle_file(str(files[(i*requests + j) % len(files)])), api_name='/predict')
            except Exception as e:
                with lock: errs.append(f'{type(e).__name__}: {e}')
                continue
            with lock: lat.append(time.perf_counter() - t)
    ts = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for t in ts: t.start()
    start.wait(); t0 = time.perf_counter()
    for t in ts: t.join()
    return time.perf_counter() - t0, lat, errs

def cpu_s(pid) -> float:
    "CPU seconds (user + system, all threads) used so far by process `pid` (Linux /proc), or nan."
    try: f = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split(); return (int(f[11]) + int(f[12])) / os.sysconf('SC_CLK_TCK')
    except OSError: return float('nan')

def pct(xs, q): return statistics.quantiles(xs, n=100)[q-1] * 1000 if len(xs) > 1 else float('nan')

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('--clients', type=int, default=16); ap.add_argument('--requests', type=int, default=20)
    a = ap.parse_args()
    from companion.data import digits
    from companion.learner import image_dls, learner
    from companion.predict import export_model
    from companion.deploy import build_space, AppServer
    tmp = Path(tempfile.mkdtemp(prefix='bench_app_'))
    path = digits(tmp/'digits')
    learn = learner(image_dls(path), 'small_cnn')
    with learn.no_bar(), learn.no_logging(): learn.fine_tune(1)
    model = export_model(learn, tmp/'model')
    learn.export(tmp/'export.pkl')
    space = build_space(model, tmp/'space', title='Digits', examples=path/'valid')
    (tmp/'learner_app').mkdir(); (tmp/'learner_app'/'app.py').write_text(LEARNER_APP.format(pkl=str(tmp/'export.pkl')))
    files = sorted((path/'valid').rglob('*.png'))[:64]
    n = a.clients * a.requests
    print(f'{a.clients} clients × {a.requests} requests = {n} per app, {len(files)} digit images, {os.cpu_count()} CPU cores (shared)')
    res = {}
    for name, d in [('companion Space app (ONNX Runtime)', space), ('learn.predict app (load_learner)', tmp/'learner_app')]:
        with AppServer(d, timeout=180) as srv:
            load(srv.url, files[:4], 2, 2)   # warm up
            c0, s0 = cpu_s(srv.proc.pid), time.process_time()
            wall, lat, errs = load(srv.url, files, a.clients, a.requests)
            srv_ms, cli_ms = (cpu_s(srv.proc.pid) - c0) / n * 1000, (time.process_time() - s0) / n * 1000
        res[name] = (len(lat) / wall, srv_ms)
        print(f'{name:<36} errors {len(errs):>3}  throughput {len(lat)/wall:6.1f} req/s  p50 {pct(lat, 50):6.0f} ms  p95 {pct(lat, 95):6.0f} ms  '
              f'server CPU {srv_ms:5.1f} ms/req  clients CPU {cli_ms:5.1f} ms/req  (wall {wall:.1f} s)')
        for e in errs[:3]: print('   error:', e[:200])
    (t1, c1), (t2, c2) = res.values()
    print(f'throughput ratio companion / learn.predict: {t1/t2:.2f}×  (goal ≥ 3×)')
    print(f'server CPU per request ratio learn.predict / companion: {c2/c1:.2f}×  (what bounds a Space: its cores / CPU per request)')
    if t1/t2 < 3: print('note: the 16 gradio_client clients run on this same machine; when their CPU per request exceeds the servers\', '
                        'throughput measures the clients, and the server CPU line is the comparison that carries over to a Space')

if __name__ == '__main__': main()
