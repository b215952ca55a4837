"The app of apps/classifier, run as `python app.py --model DIR`, used in a real Chromium: upload, submit, read the label."
import os
from pathlib import Path
import pytest
from conftest import CHROME_ARGS
from test_deploy import train_export

os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
os.environ.setdefault('HF_HUB_OFFLINE', '1')

@pytest.fixture(scope='module')
def model_dir(digits_path, tmp_path_factory): return train_export(digits_path, tmp_path_factory.mktemp('model')/'digits')

def _submit(page, f):
    page.locator('input[type=file]').set_input_files(str(f))
    page.get_by_role('button', name='Submit').click()

def test_upload_in_chromium(chromium, model_dir, digits_path, tmp_path):
    from playwright.sync_api import sync_playwright, expect
    from companion.deploy import AppServer, app_path, bad_uploads
    from companion.predict import Predictor
    imgs = [sorted((digits_path/'valid'/d).glob('*.png'))[0] for d in ('3', '7')]
    want = [Predictor.load(model_dir, backend='onnx').predict(f)[0] for f in imgs]
    bad = bad_uploads(tmp_path/'bad', imgs[0])
    with AppServer(app_path().parent, args=['--model', str(model_dir)]) as srv, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROME_ARGS)
        try:
            page = browser.new_page()
            page.goto(srv.url)
            _submit(page, imgs[0])
            expect(page.get_by_test_id('label-output-value')).to_have_text(want[0], timeout=30_000)
            # an upload that is not an image: the user reads why, and the app keeps working
            page.get_by_text('Clear', exact=True).click()
            _submit(page, bad['not_image'])
            expect(page.get_by_text('is not an image this app can read').first).to_be_visible(timeout=30_000)
            page.get_by_text('Clear', exact=True).click()
            _submit(page, bad['cmyk'])   # odd but valid: predicted, with a note
            expect(page.get_by_label('Note')).to_have_value('CMYK (print) colours converted to RGB', timeout=30_000)
            page.get_by_text('Clear', exact=True).click()
            _submit(page, imgs[1])
            expect(page.get_by_test_id('label-output-value')).to_have_text(want[1], timeout=30_000)
        finally: browser.close()
    assert 'predictor_module=companion.predict' in srv.log   # run from the repo, the app uses the library's Predictor
