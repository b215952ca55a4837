"The app (`python apps/classifier/app.py --model DIR`, i.e. companion.app) in a real Chromium: examples, upload, errors, notes; screenshots."
import json, os, re, shutil
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from conftest import CHROME_ARGS
from test_deploy import train_export

os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
os.environ.setdefault('HF_HUB_OFFLINE', '1')
LAUNCHER = Path(__file__).resolve().parent.parent/'apps'/'classifier'

@pytest.fixture(scope='module')
def model_dir(digits_path, tmp_path_factory):
    "The exported digits model."
    return train_export(digits_path, tmp_path_factory.mktemp('model')/'digits')   # its preprocess.json holds train_stats

def _clear(page):
    "Press Clear and wait until the box is empty (an upload right after would race with it)."
    from playwright.sync_api import expect
    page.get_by_text('Clear', exact=True).click()
    expect(page.locator('#companion-upload img')).to_have_count(0, timeout=30_000)

def _submit(page, f):
    "Upload `f`, wait until the box shows it (the upload is done), press Submit."
    page.locator('input[type=file]').set_input_files(str(f))
    page.locator('#companion-upload img').first.wait_for(state='attached', timeout=30_000)
    page.get_by_role('button', name='Submit').click()

def test_app_in_chromium(chromium, model_dir, digits_path, tmp_path):
    from playwright.sync_api import sync_playwright, expect
    from companion.spacecheck import AppServer, bad_uploads
    from companion.runtime import Predictor
    imgs = [sorted((digits_path/'valid'/d).glob('*.png'))[0] for d in ('3', '7')]
    P = Predictor.load(model_dir, backend='onnx')
    want = [P.predict(f)[0] for f in imgs]
    bad = bad_uploads(tmp_path/'bad', imgs[0])
    inverted = tmp_path/'ink_on_paper.png'   # a 7 drawn dark on white: unlike the training digits
    Image.fromarray(255 - np.asarray(Image.open(imgs[1]).convert('L'))).save(inverted)
    shots = Path(os.environ.get('COMPANION_SHOTS') or tmp_path/'shots'); shots.mkdir(parents=True, exist_ok=True)
    args = ['--model', str(model_dir), '--examples', str(digits_path/'valid')]
    with AppServer(LAUNCHER, args=args) as srv, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROME_ARGS)
        try:
            page = browser.new_page(viewport={'width': 1280, 'height': 1100})
            page.goto(srv.url)
            expect(page.get_by_text('on a dark background')).to_be_visible(timeout=30_000)   # the description, from train_stats
            # a refused upload on the fresh page: the toast shows the title and says why (Gradio 6.31 drops the toast of an error that
            # follows an example click in the same page, so this comes first)
            _submit(page, bad['not_image'])
            expect(page.get_by_text('Not an image: notes.png is not an image').first).to_be_visible(timeout=30_000)
            page.screenshot(path=str(shots/'3_refused.png'), full_page=True)
            _clear(page)
            gallery = page.locator('.gallery button, [data-testid="examples"] button, button.gallery-item')
            expect(gallery.first).to_be_visible(timeout=30_000)
            assert gallery.count() == 10, gallery.count()          # one example per class
            page.screenshot(path=str(shots/'1_start.png'), full_page=True)
            gallery.nth(7).click()                                # an example predicts on click, no Submit
            expect(page.get_by_test_id('label-output-value')).to_have_text(P.predict(sorted((digits_path/'valid'/'7').glob('*.png'))[0])[0], timeout=30_000)
            box = page.locator('[data-testid="image"]').first.bounding_box()
            assert box['height'] >= 200 and box['width'] >= 200, box   # a 28 px picture does not shrink the box
            page.screenshot(path=str(shots/'2_example.png'), full_page=True)
            _clear(page)
            _submit(page, imgs[0])
            expect(page.get_by_test_id('label-output-value')).to_have_text(want[0], timeout=30_000)
            _clear(page)
            _submit(page, inverted)           # unlike the training pictures: a note says so
            expect(page.get_by_label('Note')).to_have_value(re.compile('this picture has a light background, the training images a dark one'), timeout=30_000)
            page.screenshot(path=str(shots/'4_unlike.png'), full_page=True)
            _clear(page)
            _submit(page, imgs[1])
            expect(page.get_by_test_id('label-output-value')).to_have_text(want[1], timeout=30_000)
        finally:
            page.screenshot(path=str(shots/'last.png'), full_page=True)
            browser.close()
    assert 'predictor_module=companion.runtime' in srv.log and 'examples=10' in srv.log   # run from the repo: the package's runtime
    refused = [l for l in srv.log.splitlines() if 'refused' in l]
    assert len(refused) == 1 and 'Not an image' in refused[0] and 'Traceback' not in srv.log, srv.log[-3000:]
