"""The static page and the Gradio app say the same note for the same upload (16-bit, transparency, palette, EXIF, CMYK,
size, background): both read one preprocess.json, the page through the config.json the build writes."""
import json
import numpy as np
from PIL import Image
from test_static_space import train_export, Served, open_page, b64

# training photos from 480 to 4000 pixels a side, on light backgrounds (the student trial's bears, lightened)
PHOTOS = dict(n=36, size=[800, 800], size_min=[640, 480], size_max=[3000, 4000], brightness=150.,
              border=170., background='light', colour='colour')

def photo_model(digits_path, dest):
    "An untrained digits model whose preprocess.json says it learned from photos and resizes without a `fit` step."
    model = train_export(digits_path, dest, epochs=0)   # untrained: notes, not accuracy, are compared
    prep = json.loads((model/'preprocess.json').read_text())
    prep['item'] = [dict(s, op='resize', method='squish') if s['op'] == 'fit' else s for s in prep['item']]
    (model/'preprocess.json').write_text(json.dumps({**prep, 'train_stats': PHOTOS}))
    return model

def uploads(d) -> dict:
    "One file per case the trial saw, named by what the app should say about it."
    rng, f = np.random.default_rng(0), {}
    rgb = lambda w, h: Image.fromarray(rng.integers(100, 256, (h, w, 3), dtype=np.uint8))   # light, noisy
    Image.fromarray(rng.integers(0, 65536, (160, 200), dtype=np.uint16)).save(f.setdefault('16bit', d/'png16.png'))
    a = np.asarray(rgb(600, 500).convert('RGBA')).copy(); a[:50, :50, 3] = 0
    Image.fromarray(a).save(f.setdefault('rgba', d/'alpha.png'))
    rgb(600, 500).convert('RGBA').save(f.setdefault('opaque_rgba', d/'opaque.png'))
    rgb(600, 500).convert('P', palette=Image.Palette.ADAPTIVE, colors=16).save(f.setdefault('palette', d/'palette.png'))
    ex = Image.Exif(); ex[0x0112] = 6
    rgb(640, 480).save(f.setdefault('exif', d/'portrait_exif6.jpg'), exif=ex)
    rgb(640, 480).convert('CMYK').save(f.setdefault('cmyk', d/'print.jpg'))
    flat = lambda w, h: Image.new('RGB', (w, h), (200, 190, 180))   # large but a small file
    flat(4000, 3000).save(f.setdefault('phone', d/'photo_4000x3000.jpg'))   # as large as the largest training photo
    flat(8100, 300).save(f.setdefault('long', d/'banner.png'))
    rgb(100, 100).save(f.setdefault('thumb', d/'thumb.png'))
    Image.fromarray(np.pad(rng.integers(100, 256, (400, 400), dtype=np.uint8), 100)).save(f.setdefault('dark', d/'dark.png'))
    return f

def test_page_notes_are_the_apps(digits_path, tmp_path, browser):
    "For each upload the page's note is the Gradio app's (classify_fn), word for word; none is empty where the app speaks."
    from companion.app import classify_fn
    from companion.runtime import Predictor
    from companion.static import build_static
    model = photo_model(digits_path, tmp_path/'model')
    space = build_static(model, tmp_path/'space', examples=[])
    files = uploads(tmp_path)
    classify = classify_fn(Predictor.load(model, backend='onnx'))
    app = {k: classify(str(p))[1] for k, p in files.items()}
    with Served(space) as s:
        page = open_page(browser, s.url)
        got = page.evaluate('items => companion.predictBase64(items)', [b64(p) for p in files.values()])
        shown = page.evaluate('companion.state.config.unlike')
        page.close()
    assert not [g for g in got if 'error' in g], got
    assert {k: g['note'] for k, g in zip(files, got)} == app
    assert shown['side_min'] == 480 and shown['side_max'] == 4000 and shown['background'] == 'light'
    assert app['phone'] == '' and app['opaque_rgba'] == ''   # the trial: a photo the size of the training photos gets no note
    assert app['16bit'].startswith('16-bit image scaled to 8 bits; this picture is 200×160 pixels'), app['16bit']
    assert (app['rgba'], app['exif']) == ('transparent areas shown on white', 'rotated as its EXIF orientation asks')
    assert app['palette'] == 'palette image converted to RGB' and 'CMYK' in app['cmyk'] and '8100×300' in app['long'] and '100×100' in app['thumb'], app
    assert app['dark'].startswith('this picture has a dark background'), app['dark']
