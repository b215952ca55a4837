"""An image classifier as a Gradio 6 app: an image in, the top labels with their confidences out.

Runs on a Hugging Face Space (next to `companion_predict.py` and a `model/` folder that `companion space build` writes)
or locally: `python apps/classifier/app.py --model DIR` where DIR holds what `companion.predict.export_model` wrote.
Every upload is checked here, before the model sees it: empty, not an image, truncated, too many pixels (decompression
bombs), sides too long -> a message saying what is wrong and what to do. Odd but valid images (CMYK, 16-bit,
transparency, palette, animated, EXIF-rotated) are converted to RGB and predicted, with a note saying what changed.
"""
from __future__ import annotations
import argparse, json, os, sys, warnings
from pathlib import Path
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
import gradio as gr

HERE = Path(__file__).resolve().parent
CONFIG = json.loads((HERE/'space.json').read_text()) if (HERE/'space.json').exists() else {}
spaces = None
if CONFIG.get('zerogpu'):
    try: import spaces   # ZeroGPU Spaces: imported before torch touches CUDA
    except ImportError: print('space.json asks for ZeroGPU but the `spaces` package is missing: running on the CPU', file=sys.stderr)

try: from companion_predict import Predictor            # inside a Space folder
except ImportError: from companion.predict import Predictor   # in the companion repo

MAX_FILE = CONFIG.get('max_file_size', '10mb')          # refused by Gradio before the upload reaches us
MAX_PIXELS = CONFIG.get('max_pixels', 40_000_000)       # 40 megapixels: a phone photo is ~12
MAX_SIDE = CONFIG.get('max_side', 12_000)
FORMATS = 'png, jpeg, webp, gif, bmp or tiff'

def _mb(n): return f'{n/1e6:.1f} MB' if n >= 1e5 else f'{n/1e3:.1f} kB' if n >= 1000 else f'{n} bytes'

def open_upload(path, max_pixels: int=MAX_PIXELS, max_side: int=MAX_SIDE) -> Image.Image:
    "Open an uploaded file as a PIL image after checking its size, header and pixels; raise `gr.Error` saying what to do."
    if path is None: raise gr.Error(f'No image yet: upload a picture ({FORMATS}) or click one of the examples.', title='No image')
    path = Path(path)
    n = path.stat().st_size
    if n == 0: raise gr.Error('The file is empty (0 bytes): the upload or the download that made it failed. Pick the file again.', title='Empty file')
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            im = Image.open(path)
    except Image.DecompressionBombError: im = None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise gr.Error(f'{path.name} is not an image this app can read ({_mb(n)}, {type(e).__name__}). Upload a {FORMATS} file.', title='Not an image')
    w, h = im.size if im is not None else (0, 0)
    if im is None or w*h > max_pixels:
        size = f'{w}×{h} = {w*h/1e6:.0f} megapixels' if w else f'more than {2*Image.MAX_IMAGE_PIXELS/1e6:.0f} megapixels'
        bomb = 'so small a file that unpacks into so large an image looks like a decompression bomb; ' if im is None or w*h > 100*n else ''
        raise gr.Error(f'The image has {size} in a file of {_mb(n)}: {bomb}this app accepts at most {max_pixels/1e6:.0f} megapixels. '
                       'Resize it (1024 px on the long side is plenty) and try again.', title='Too many pixels')
    if max(w, h) > max_side:
        raise gr.Error(f'The image is {w}×{h} pixels: sides longer than {max_side} px are refused. Crop or resize it and try again.', title='Image too long')
    return im

def to_rgb(im: Image.Image) -> tuple[Image.Image, str]:
    "Load `im` and convert it to 8-bit RGB; return it with a note on anything that changed (empty when nothing did)."
    notes, n_frames = [], getattr(im, 'n_frames', 1)
    if n_frames > 1: im.seek(0); notes.append(f'animated image: predicted on the first of its {n_frames} frames')
    try: im.load()
    except (OSError, SyntaxError, ValueError) as e:
        raise gr.Error(f'The image file is truncated or damaged ({e}). Save or download it again, then re-upload.', title='Damaged image')
    try: turned = im.getexif().get(0x0112, 1) not in (0, 1)   # EXIF orientation: 1 is upright
    except Exception: turned = False
    if turned: im = ImageOps.exif_transpose(im); notes.append('rotated as its EXIF orientation asks')
    m = im.mode
    if m in ('RGB', 'L'): return im.convert('RGB'), '; '.join(notes)
    if m.startswith('I') or m == 'F':
        a = np.asarray(im).astype(np.float64)
        hi = 65535. if m.startswith('I;16') or a.max() > 255 else 255.
        if m == 'F' or a.max() > 65535: hi = max(float(a.max()), 1.)
        im = Image.fromarray(np.clip(a/hi*255, 0, 255).round().astype(np.uint8)).convert('RGB')
        notes.append(f'{"16-bit" if hi == 65535. else m + " mode"} image scaled to 8 bits')
    elif m in ('P', 'PA', 'RGBA', 'LA', 'La', 'RGBa') or 'transparency' in im.info:
        has_alpha = m in ('PA', 'RGBA', 'LA', 'La', 'RGBa') or 'transparency' in im.info
        rgba = im.convert('RGBA')
        bg = Image.new('RGBA', im.size, (255, 255, 255, 255)); bg.alpha_composite(rgba)
        im = bg.convert('RGB')
        notes.append(('palette image converted to RGB' if m.startswith('P') else f'{m} image converted to RGB') +
                     ('; transparent areas shown on white' if has_alpha else ''))
    else:
        im = im.convert('RGB')
        notes.append('CMYK (print) colours converted to RGB' if m == 'CMYK' else f'{m} image converted to RGB')
    return im, '; '.join(notes)

def load_upload(path, max_pixels: int=MAX_PIXELS, max_side: int=MAX_SIDE) -> tuple[Image.Image, str]:
    "Check and open an uploaded file as 8-bit RGB; return the image and a note on any conversion."
    return to_rgb(open_upload(path, max_pixels, max_side))

def upload_input(**kw) -> gr.Image:
    "A `gr.Image` that passes the uploaded file's path on unopened, so that `load_upload` (not Gradio) checks it."
    inp = gr.Image(type='filepath', **kw)
    gradio_preprocess = inp.preprocess
    def preprocess(payload):
        if payload is None or payload.path is None or (payload.url or '').startswith('data:'): return gradio_preprocess(payload)
        return str(payload.path)
    inp.preprocess = preprocess   # on this instance only: a gr.Image subclass would make Gradio write an app.pyi
    return inp

def classify_fn(predictor, top_k: int=3, max_pixels: int=MAX_PIXELS, max_side: int=MAX_SIDE):
    "The function behind the app: an uploaded file's path -> ({label: confidence}, note)."
    vocab = [str(v) for v in predictor.vocab]
    def classify(path):
        img, note = load_upload(path, max_pixels, max_side)
        _, _, probs = predictor.predict(img)
        probs = np.asarray(probs, dtype=np.float64).ravel()
        return {vocab[i]: float(probs[i]) for i in np.argsort(-probs)[:top_k]}, note
    return classify

def examples_in(*dirs) -> list[str]:
    "Image files in the first of `dirs` that has any, sorted."
    for d in dirs:
        if d and Path(d).is_dir():
            fs = sorted(str(f) for f in Path(d).iterdir() if f.suffix.lower() in ('.png', '.jpg', '.jpeg', '.webp', '.gif', '.bmp'))
            if fs: return fs
    return []

def cores() -> int:
    "CPU cores this process may use."
    try: return max(1, len(os.sched_getaffinity(0)))
    except AttributeError: return max(1, os.cpu_count() or 1)

def default_concurrency() -> int:
    "Requests run at once: space.json's `concurrency`, else one per core, at most 4 (a cpu-basic Space has 2 vCPUs)."
    return int(CONFIG.get('concurrency') or min(4, cores()))

def build_demo(predictor, examples=(), title: str='Image classifier', description: str|None=None, top_k: int=3,
               concurrency: int|None=None, queue_size: int=64, fn=None) -> gr.Blocks:
    "A queued `gr.Interface`: an image in, the `top_k` labels and a note out, served at api_name 'predict'."
    fn = fn or classify_fn(predictor, top_k)
    if spaces is not None: fn = spaces.GPU(fn)   # ZeroGPU: a GPU is attached while fn runs
    vocab = ', '.join(map(str, predictor.vocab))
    description = description or f'Upload a picture: the model tells which of these it is: {vocab}.'
    demo = gr.Interface(fn=fn, inputs=upload_input(label='Image', sources=['upload', 'clipboard']),
                        outputs=[gr.Label(num_top_classes=top_k, label='Prediction'), gr.Textbox(label='Note', lines=1)],
                        examples=[[e] for e in examples] or None, cache_examples=False, title=title,
                        description=description, flagging_mode='never', api_name='predict')
    # No Gradio batching (batch=True): an exception in a batched fn is sent to every request of its group, so one bad upload would
    # fail the good ones beside it; and batching the model saves little on a CPU (ONNX resnet18: ~8 -> ~6.6 ms per image at 8 a batch).
    concurrency = concurrency or default_concurrency()
    return demo.queue(default_concurrency_limit=concurrency, max_size=queue_size)

def main(argv: list|None=None) -> int:
    "Serve the app: `python app.py [--model DIR] [--port N]`."
    p = argparse.ArgumentParser(prog='app.py', description='Serve an image classifier exported by companion as a Gradio app.')
    p.add_argument('--model', default=os.environ.get('MODEL_DIR', str(HERE/'model')), help='folder with recipe.json and model.onnx / model.safetensors')
    p.add_argument('--backend', default=CONFIG.get('backend', 'auto'), choices=['auto', 'onnx', 'torch'])
    p.add_argument('--examples', default=None, help='folder of example images (default: ./examples, then MODEL/examples)')
    p.add_argument('--title', default=CONFIG.get('title', 'Image classifier'))
    p.add_argument('--top-k', type=int, default=CONFIG.get('top_k', 3))
    p.add_argument('--concurrency', type=int, default=None, help='requests run at once (default: one per CPU core, at most 4)')
    p.add_argument('--host', default=os.environ.get('GRADIO_SERVER_NAME', '127.0.0.1'))
    p.add_argument('--port', type=int, default=int(os.environ.get('GRADIO_SERVER_PORT', 0)) or None)
    a = p.parse_args(argv)
    if not (Path(a.model)/'recipe.json').exists():
        print(f'app.py: no model in {a.model} (recipe.json missing): export one with `companion export` and pass --model DIR', file=sys.stderr); return 2
    conc = a.concurrency or default_concurrency()
    predictor = Predictor.load(a.model, backend=a.backend, threads=max(1, cores()//conc))   # cores shared by concurrent requests
    if CONFIG.get('zerogpu') and predictor.backend == 'torch':
        import torch
        predictor.model.to('cuda' if torch.cuda.is_available() else 'cpu')
    ex = examples_in(a.examples, HERE/'examples', Path(a.model)/'examples')
    demo = build_demo(predictor, ex, title=a.title, top_k=a.top_k, concurrency=conc)
    print(f'companion app: model={a.model} backend={getattr(predictor, "backend", a.backend)} examples={len(ex)} '
          f'torch_imported={"torch" in sys.modules} predictor_module={Predictor.__module__}', flush=True)
    demo.launch(server_name=a.host, server_port=a.port, max_file_size=MAX_FILE, share=False, ssr_mode=False)
    return 0

if __name__ == '__main__': sys.exit(main())
