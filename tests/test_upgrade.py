"The course's lesson-2 app.py (Gradio 3) on Gradio 6: it dies as written; `companion space upgrade` rewrites it, and the upgraded app serves a real model to gradio_client."
import os, subprocess, sys, textwrap
from pathlib import Path
import pytest
from conftest import run_cli
from standins import names_folder

TRAIN = '''
import sys
from fastai.vision.all import *
def is_cat(x): return x[0].isupper()       # lesson 2: defined in the notebook
path = Path(sys.argv[1])
dls = ImageDataLoaders.from_name_func(path, get_image_files(path), is_cat, valid_pct=0.2, seed=42, item_tfms=Resize(32), bs=32, num_workers=0)
learn = vision_learner(dls, resnet18, pretrained=False, metrics=error_rate)
learn.fit_one_cycle(1)
learn.export(Path(sys.argv[2]).absolute())
'''

COURSE_APP = '''from fastai.vision.all import *
import gradio as gr

def is_cat(x): return x[0].isupper()

learn = load_learner('model.pkl')

categories = ('Dog', 'Cat')

def classify_image(img):
    pred,idx,probs = learn.predict(img)
    return dict(zip(categories, map(float,probs)))

image = gr.inputs.Image(shape=(192, 192))
label = gr.outputs.Label()
examples = ['dog.png', 'cat.png']

intf = gr.Interface(fn=classify_image, inputs=image, outputs=label, examples=examples)
intf.launch(inline=False)
'''

@pytest.fixture(scope='module')
def space(tmp_path_factory):
    d = tmp_path_factory.mktemp('lesson2_space')
    imgs = names_folder(d/'images', n_per_class=6, classes=(3, 4))   # 'Three' (odd: "cat") and 'four' ("dog")
    (d/'train.py').write_text(TRAIN)
    r = subprocess.run([sys.executable, 'train.py', str(imgs), str(d/'model.pkl')], cwd=d, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    (d/'cat.png').write_bytes(next(imgs.glob('Three_*.png')).read_bytes())
    (d/'dog.png').write_bytes(next(imgs.glob('four_*.png')).read_bytes())
    (d/'app.py').write_text(COURSE_APP)
    return d

def test_course_app_dies_on_gradio6_as_written(space):
    env = {**os.environ, 'GRADIO_ANALYTICS_ENABLED': 'False', 'GRADIO_SERVER_PORT': '1'}
    r = subprocess.run([sys.executable, 'app.py'], cwd=space, capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode != 0 and "has no attribute 'inputs'" in r.stderr

def test_upgraded_course_app_serves_the_model(space):
    from gradio_client import Client, handle_file
    from companion.spacecheck import AppServer
    r = run_cli('space', 'upgrade', space/'app.py', '--dry_run')
    assert r.returncode == 1 and 'gr.inputs.Image -> gr.Image' in r.stdout and (space/'app.py').read_text() == COURSE_APP
    r = run_cli('space', 'upgrade', space/'app.py')
    assert r.returncode == 0, r.stderr
    assert (space/'app.py.gradio3').read_text() == COURSE_APP and 'shape=' not in (space/'app.py').read_text()
    with AppServer(space, timeout=120) as srv:
        client = Client(srv.url, verbose=False)
        for f in ('cat.png', 'dog.png'):
            out = client.predict(handle_file(str(space/f)), api_name='/predict')
            assert out['label'] in ('Dog', 'Cat') and len(out['confidences']) == 2, out
    assert run_cli('space', 'upgrade', space/'app.py').stdout.strip().endswith('nothing to change for Gradio 6')
    from companion.spacecheck import check_space
    r = check_space(space, timeout=120)   # a student's own app: its endpoint found, its examples answered, bad uploads don't stop it
    assert r.ok, repr(r)
    assert 'endpoint /predict -> Label' in r.startup and {e['app'] for e in r.examples} <= {'Dog', 'Cat'} and len(r.uploads) > 5

def test_check_space_names_what_an_app_lacks(tmp_path):
    "An app whose function takes text: check_space says what it needs instead of a KeyError."
    from companion.spacecheck import check_space
    (tmp_path/'app.py').write_text("import gradio as gr\ngr.Interface(lambda s: s.upper(), gr.Textbox(), gr.Textbox()).launch()\n")
    from PIL import Image
    Image.new('RGB', (8, 8)).save(tmp_path/'x.png')
    with pytest.raises(ValueError, match=r'no endpoint that takes one image \(it has: /lambda\(Textbox\)'): check_space(tmp_path)
