"""The journeys README.md advertises, walked as a new user walks them, on stand-in photos of every size and format: the README's
Python cells in order, `companion lesson2` on a photo folder, each ending with the static page in Chromium answering real uploads as
the Python runtime does; and a digit at 28, 280 and 900 px and in a 4000×3000 photo, in every runtime."""
import base64, json, os, re, shutil, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from conftest import figure, require, run_cli
from standins import photo_uploads, unsplit_folder
from companion.runtime import Predictor

ROOT = Path(__file__).resolve().parent.parent

def readme_blocks(lang: str) -> list[str]:
    "The fenced code blocks of README.md in `lang`, in order."
    return re.findall(rf'^```{lang}\n(.*?)^```', (ROOT/'README.md').read_text(), re.S | re.M)

def photo_folder(dest, n_per_class=30) -> Path:
    "A folder per label, as an image search saves it: every size, PNG and JPEG, some WEBP, some phone photos stored sideways (EXIF 6)."
    folder = unsplit_folder(dest, n_per_class=n_per_class, classes=range(3))
    exif = Image.Exif(); exif[0x0112] = 6
    for i, f in enumerate(sorted(folder.rglob('*.png'))):
        if i % 5 == 0: Image.open(f).save(f.with_suffix('.webp'), quality=85); f.unlink()
        elif i % 7 == 0: Image.open(f).convert('RGB').rotate(90, expand=True).save(f.with_suffix('.jpeg'), exif=exif); f.unlink()
    return folder

def page_answers(browser, space, files) -> list[dict]:
    "What the static page in `space` answers for each file, in Chromium."
    from companion.spacecheck import StaticServer
    with StaticServer(space) as s:
        page = browser.new_page()
        page.goto(s.url)
        page.wait_for_function('document.body.dataset.ready', timeout=60_000)
        assert page.evaluate('document.body.dataset.ready') == 'true', page.inner_text('#message')
        got = page.evaluate('items => companion.predictBase64(items)', [base64.b64encode(Path(f).read_bytes()).decode() for f in files])
        page.close()
    return got

def assert_page_like_runtime(browser, space, files):
    "The page's label and probabilities for each file are the Python runtime's (ONNX, the model in the Space)."
    got = page_answers(browser, space, files)
    pred = Predictor.load(space/'model', backend='onnx')
    want = pred.probs([str(f) for f in files])
    for f, g, w in zip(files, got, want):
        assert 'error' not in g, (f, g)
        assert g['label'] == pred.vocab[int(w.argmax())] and np.abs(np.array(g['probs']) - w).max() <= 1e-3, (f, g['label'], w)
    return [g['label'] for g in got]

def random_resnet18_weights(torch_home: Path):
    "Offline, torchvision can't download resnet18's pretrained weights: put random ones where it looks, so the book's cells run as written."
    import torch
    from torchvision.models import resnet18, ResNet18_Weights
    f = torch_home/'hub'/'checkpoints'/Path(ResNet18_Weights.DEFAULT.url).name
    f.parent.mkdir(parents=True, exist_ok=True)
    torch.save(resnet18().state_dict(), f)

def test_readme_python_cells_in_order_end_on_a_static_page(tmp_path, browser):
    "Every ```python block of README.md, in order, in one process (the chapter-2 cells on a folder of mixed photos); then the Space it built passes check_space in Chromium and answers realistic uploads like the runtime."
    blocks = readme_blocks('python')
    assert len(blocks) >= 3 and any("Path('bears')" in b for b in blocks), 'the README lost its chapter-2 cells'
    photo_folder(tmp_path/'bears')
    random_resnet18_weights(tmp_path/'torch')
    (tmp_path/'readme.py').write_text('\n'.join(blocks))
    env = {**os.environ, 'MPLBACKEND': 'Agg', 'TORCH_HOME': str(tmp_path/'torch'), 'FASTAI_HOME': str(tmp_path/'fastai'), 'HF_HUB_OFFLINE': '1',
           'HF_HOME': str(tmp_path/'hf'), 'HF_TOKEN': ''}
    r = subprocess.run([sys.executable, 'readme.py'], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert 'building a static Space' in r.stdout, r.stdout[-3000:]
    space = tmp_path/'space'
    from companion.spacecheck import check_space
    chk = check_space(space, browser=browser)
    assert chk.ok is True, repr(chk)
    assert len(chk.examples) == 3   # one per label, kept by export_model
    assert json.loads((space/'config.json').read_text())['title'] == 'Bears'   # the data folder's name
    ups = photo_uploads(tmp_path/'uploads', Image.open(sorted((tmp_path/'bears').rglob('*.png'))[0]))
    assert_page_like_runtime(browser, space, list(ups.values()))

def test_lesson2_on_a_photo_folder_ends_on_a_static_page(tmp_path, browser):
    "The README's `companion lesson2 bears --out bears_l2`, as written, on a photo folder: a static Space checked in Chromium, which answers realistic uploads like the runtime."
    line = next(l for b in readme_blocks('sh') for l in b.splitlines() if l.startswith('companion lesson2 bears'))
    args = line.split('#')[0].split()[1:]
    assert args == ['lesson2', 'bears', '--out', 'bears_l2'], line
    photo_folder(tmp_path/'bears')
    r = run_cli(*args, cwd=tmp_path, env={'HF_TOKEN': '', 'HF_HOME': str(tmp_path/'hf')}, timeout=1800)   # the line as written: every default
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    space = tmp_path/'bears_l2'/'space'
    assert re.search(r'^sdk: static$', (space/'README.md').read_text(), re.M)
    summary = (tmp_path/'bears_l2'/'summary.md').read_text()
    assert 'passed check_space' in summary and 'companion space push' in summary, summary
    cfg = json.loads((space/'config.json').read_text())
    assert cfg['title'] == 'bears' and not re.search(r'brightness|border \d', ' '.join(cfg.get('facts', []))), cfg
    ups = photo_uploads(tmp_path/'uploads', Image.open(sorted((tmp_path/'bears').rglob('*.png'))[0]))
    assert_page_like_runtime(browser, space, list(ups.values()))

@pytest.fixture(scope='module')
def digits_model(digits_path, tmp_path_factory):
    "The small CNN on the ten digits, trained as lesson 2 trains it (no Resize: the digits are all 28 px), exported."
    from fastai.vision.all import set_seed
    from companion.learner import image_dls, learner
    from companion.predict import export_model
    set_seed(42, reproducible=True)
    learn = learner(image_dls(digits_path))
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(5, 3e-3)
    return learn, export_model(learn, tmp_path_factory.mktemp('digits')/'model')

def sizes_of(f, dest: Path) -> list[Path]:
    "A validation digit at 28 px, enlarged to 280 and 900 px, and photographed in the middle of a 4000×3000 JPEG."
    im, out = Image.open(f).convert('RGB'), []
    for side in (28, 280, 900):
        im.resize((side, side), Image.BICUBIC).save(p := dest/f'{f.stem}_{side}.png'); out.append(p)
    photo = Image.new('RGB', (4000, 3000), (8, 8, 8)); photo.paste(im.resize((2800, 2800), Image.BICUBIC), (600, 100))
    photo.save(p := dest/f'{f.stem}_4000x3000.jpg', quality=92); out.append(p)
    return out

def test_a_digit_at_any_size_gets_one_label_everywhere(digits_model, digits_path, tmp_path, browser):
    "30 validation digits at 28, 280, 900 px and in a 4000×3000 photo: `companion predict`, the Gradio app and the static page give the same label; and the sizes keep the 28-px label."
    from gradio_client import Client, handle_file
    from companion.deploy import build_space
    from companion.spacecheck import AppServer
    learn, model = digits_model
    files = [f for d in range(10) for f in sorted((digits_path/'valid'/str(d)).glob('*.png'))[:3]]   # three per class
    (tmp_path/'up').mkdir()
    sets = [sizes_of(f, tmp_path/'up') for f in files]
    flat = [p for s in sets for p in s]
    r = run_cli('predict', model, *flat, '--jsonl')
    assert r.returncode == 0, r.stderr
    cli = [json.loads(l)['label'] for l in r.stdout.splitlines()]
    page = assert_page_like_runtime(browser, build_space(model, tmp_path/'static', target='static'), flat)
    gr_space = build_space(model, tmp_path/'cpu', target='cpu')
    with AppServer(gr_space) as srv:
        client = Client(srv.url, verbose=False)
        answers = [client.predict(handle_file(str(p)), api_name='/predict') for p in flat]
    app = [a[0]['label'] for a in answers]
    assert cli == page == app, list(zip(flat, cli, page, app))
    notes = [a[1] for a in answers]
    assert notes[0] == '' and 'resized from 280×280 to 28×28 pixels' in notes[1] and 'the size the model was trained at' in notes[3], notes[:4]
    kept = {k: np.mean([cli[4*i+j] == cli[4*i] for i in range(len(files))]) for j, k in enumerate(('28', '280', '900', '4000×3000'))}
    figure('share of 30 validation digits (three per class) keeping their 28-px label: ' + ', '.join(f'{k} {v:.0%}' for k, v in kept.items()))
    assert kept['280'] >= 0.9 and kept['900'] >= 0.9 and kept['4000×3000'] >= 0.8, kept
