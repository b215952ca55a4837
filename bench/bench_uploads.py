"""What a student's real uploads cost, per kind (a 4000×3000 JPEG, a phone photo with EXIF orientation, alpha, 16 bits, WEBP, an icon,
a strip): the README's chapter-2 model (resnet18, RandomResizedCrop(128) + aug_transforms()), exported, then each upload predicted by
fastai's `learn.predict`, by companion's Python runtime (`Predictor`, torch and ONNX) and by the static page in Chromium (decode,
preprocess.js, onnxruntime-web). Prints the median ms per upload for each and the ratio to `learn.predict`, measured in the same run.

    .venv/bin/python bench/bench_uploads.py [--rounds 5]
"""
import argparse, base64, contextlib, os, statistics, sys, tempfile, time, warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tests'))

def median_ms(fn, rounds: int) -> float:
    fn()   # warm-up
    ts = []
    for _ in range(rounds):
        t = time.perf_counter(); fn(); ts.append((time.perf_counter() - t)*1000)
    return statistics.median(ts)

def main(argv=None):
    p = argparse.ArgumentParser(prog='bench_uploads')
    p.add_argument('--rounds', type=int, default=5, help='timed runs per upload and path')
    a = p.parse_args(argv)
    warnings.filterwarnings('ignore')
    from PIL import Image
    from fastai.vision.all import DataBlock, ImageBlock, CategoryBlock, get_image_files, RandomSplitter, parent_label, RandomResizedCrop, aug_transforms, vision_learner, resnet18
    from standins import unsplit_folder, photo_uploads
    from companion.predict import export_model
    from companion.static import build_static
    from companion.runtime import Predictor
    from companion.spacecheck import StaticServer, CHROME_ARGS, find_chromium
    from playwright.sync_api import sync_playwright
    tmp = Path(tempfile.mkdtemp())
    folder = unsplit_folder(tmp/'bears', n_per_class=8, classes=range(3))
    bears = DataBlock(blocks=(ImageBlock, CategoryBlock), get_items=get_image_files, splitter=RandomSplitter(valid_pct=0.2, seed=42),
                      get_y=parent_label, item_tfms=RandomResizedCrop(128, min_scale=0.3), batch_tfms=aug_transforms())
    learn = vision_learner(bears.dataloaders(folder, bs=8, num_workers=0), resnet18, pretrained=False)
    with contextlib.redirect_stdout(open(os.devnull, 'w')): model = export_model(learn, tmp/'model')
    space = build_static(model, tmp/'space')
    ups = photo_uploads(tmp/'uploads', Image.open(sorted(folder.rglob('*.png'))[0]))
    torch_p, onnx_p = Predictor.load(model, backend='torch'), Predictor.load(model, backend='onnx')
    rows = {}
    for kind, f in ups.items():
        with learn.no_bar():
            rows[kind] = dict(fastai=median_ms(lambda: learn.predict(str(f)), a.rounds), torch=median_ms(lambda: torch_p.predict(str(f)), a.rounds),
                              onnx=median_ms(lambda: onnx_p.predict(str(f)), a.rounds))
    with sync_playwright() as pw, StaticServer(space) as s:
        b = pw.chromium.launch(executable_path=find_chromium(), args=CHROME_ARGS)
        page = b.new_page(); page.goto(s.url); page.wait_for_function('document.body.dataset.ready === "true"', timeout=60_000)
        for kind, f in ups.items():
            b64 = base64.b64encode(f.read_bytes()).decode()
            got = page.evaluate('([b, n]) => companion.predictBase64(Array(n).fill(b))', [b64, a.rounds + 1])
            rows[kind]['page'] = statistics.median(g['ms'] for g in got[1:])
        b.close()
    print(f'per upload, median of {a.rounds} (ms); ratio = learn.predict / path')
    print(f"{'upload':<16}{'learn.predict':>14}{'Predictor torch':>17}{'Predictor onnx':>16}{'page (Chromium)':>17}")
    for kind, r in rows.items():
        print(f"{kind:<16}{r['fastai']:>14.1f}" + ''.join(f"{r[k]:>10.1f} ({r['fastai']/r[k]:.1f}×)" for k in ('torch', 'onnx', 'page')))

if __name__ == '__main__': main()
