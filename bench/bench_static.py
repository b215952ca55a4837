"""In-browser latency of the static Space (onnxruntime-web, wasm, 1 thread) against the Python ONNX Predictor, same images, same run.

Trains the small CNN on the digits (one fine_tune epoch), exports it, builds the static Space with companion.static.build_static,
serves it on 127.0.0.1 and opens it in Chromium. Each image goes through the page's own path (bytes -> header checks -> decode ->
preprocess -> inference) one at a time; Python does the same from the same bytes (open -> preprocess -> ONNX Runtime). Prints the
median ms per image (after a warm-up) for each, and the ratio browser / Python.

    .venv/bin/python bench/bench_static.py [--n 200] [--rounds 3]
"""
import argparse, base64, contextlib, os, statistics, sys, tempfile, time, warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tests'))

def main(argv=None):
    p = argparse.ArgumentParser(prog='bench_static')
    p.add_argument('--n', type=int, default=200, help='images per round')
    p.add_argument('--rounds', type=int, default=3, help='rounds (browser and Python alternate)')
    a = p.parse_args(argv)
    warnings.filterwarnings('ignore')
    from companion.data import digits
    from companion.static import build_static, ORT_VERSION
    from test_static_space import train_export, Served, open_page
    from companion.runtime import Predictor
    from conftest import CHROMIUM, CHROME_ARGS
    from playwright.sync_api import sync_playwright
    tmp = Path(tempfile.mkdtemp())
    with contextlib.redirect_stdout(open(os.devnull, 'w')):
        data = digits(tmp/'digits')
        model = train_export(data, tmp/'model')
    space = build_static(model, tmp/'space', examples=data/'valid')
    files = sorted((data/'valid').rglob('*.png'))[:a.n]
    blobs = [f.read_bytes() for f in files]
    b64s = [base64.b64encode(b).decode() for b in blobs]
    pred = {t: Predictor.load(model, backend='onnx', threads=t) for t in (1, None)}
    def python_ms(pr):
        out = []
        for b in blobs:
            t = time.perf_counter(); pr.predict(b); out.append((time.perf_counter() - t)*1e3)
        return out
    js, js_pre, py1, pyd = [], [], [], []
    with sync_playwright() as pw, Served(space) as srv:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        page = open_page(browser, srv.url)
        load_ms = page.evaluate('companion.state.loadMs')
        page.evaluate('items => companion.predictBase64(items)', b64s[:20])   # warm-up: wasm compiled, first runs done
        python_ms(pred[1]); python_ms(pred[None])                            # warm-up for Python too
        for _ in range(a.rounds):
            r = page.evaluate('items => companion.predictBase64(items)', b64s)
            js += [o['ms'] for o in r]; js_pre += [o['preprocess_ms'] for o in r]
            py1 += python_ms(pred[1]); pyd += python_ms(pred[None])
        browser.close()
    med = statistics.median
    print(f'static Space, digits small_cnn (28x28 PNGs, {len(files)} images x {a.rounds} rounds), Chromium headless, onnxruntime-web {ORT_VERSION} wasm 1 thread')
    print(f'  model load in the page:                   {load_ms:8.1f} ms')
    print(f'  browser, per image (checks+decode+preprocess+inference): {med(js):6.2f} ms  (of which decode+preprocess {med(js_pre):.2f} ms)')
    print(f'  Python ONNX Predictor, 1 thread:          {med(py1):8.2f} ms')
    print(f'  Python ONNX Predictor, default threads:   {med(pyd):8.2f} ms')
    print(f'  ratio browser / Python (1 thread): {med(js)/med(py1):.2f}x;  browser / Python (default threads): {med(js)/med(pyd):.2f}x')

if __name__ == '__main__': main()
