"A digits model, exported, built into a Space folder, served on 127.0.0.1 and checked with gradio_client; the push by its plan."
import json, os, sys
from pathlib import Path
import numpy as np
import pytest
from conftest import run_cli

os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
os.environ.setdefault('HF_HUB_OFFLINE', '1')

def train_export(data, dest) -> Path:
    "Train the small CNN on the digits for one fine_tune epoch and export it with companion.predict.export_model."
    from companion.learner import image_dls, learner
    from companion.predict import export_model
    learn = learner(image_dls(data), 'small_cnn')
    with learn.no_bar(), learn.no_logging(): learn.fine_tune(1)
    return export_model(learn, dest)

@pytest.fixture(scope='module')
def model_dir(digits_path, tmp_path_factory): return train_export(digits_path, tmp_path_factory.mktemp('model')/'digits')

@pytest.fixture(scope='module')
def space(model_dir, digits_path, tmp_path_factory):
    "A Space folder written by the CLI: `companion space build MODEL OUT --examples DIR`."
    out = tmp_path_factory.mktemp('spaces')/'digits'
    r = run_cli('space', 'build', model_dir, out, '--title', 'Digits', '--emoji', '🔢', '--examples', digits_path/'valid')
    assert r.returncode == 0, r.stderr
    assert 'next: companion space check' in r.stdout
    return out

def test_build_space_files(space, model_dir):
    from huggingface_hub import SpaceCard
    import gradio
    for f in ('app.py', 'companion_predict.py', 'requirements.txt', 'README.md', 'space.json', 'model/model.onnx', 'model/recipe.json'):
        assert (space/f).is_file(), f
    card = SpaceCard.load(space/'README.md').data
    py = json.loads((model_dir/'recipe.json').read_text())['versions']['python']
    assert (card.title, card.emoji, card.sdk, card.sdk_version, card.app_file) == ('Digits', '🔢', 'gradio', gradio.__version__, 'app.py')
    assert card.python_version == '.'.join(py.split('.')[:2])
    reqs = (space/'requirements.txt').read_text().split()
    assert all('==' in r for r in reqs) and {r.split('==')[0] for r in reqs} == {'onnxruntime', 'numpy', 'pillow'}   # no torch, all pinned
    assert len(list((space/'examples').iterdir())) == 6
    assert not (space/'model'/'model.safetensors').exists()   # the ONNX Space ships only what it runs

def test_check_space_examples_and_bad_uploads(space):
    "The Space answers like a local Predictor on every example; each bad upload gets its message and the next good request succeeds."
    from companion.deploy import check_space, UPLOAD_CASES
    r = check_space(space)
    assert r.ok, repr(r)
    assert 'backend=onnx' in r.startup and 'torch_imported=False' in r.startup and 'predictor_module=companion_predict' in r.startup
    assert len(r.examples) == 6 and all(e['max_abs_diff'] <= 1e-4 for e in r.examples)
    got = {u['kind']: u for u in r.uploads}
    assert set(got) == set(UPLOAD_CASES)
    for kind, (action, words) in UPLOAD_CASES.items():
        assert got[kind]['result'] == ('refused' if action == 'refuse' else 'answered'), got[kind]
        assert words.lower() in got[kind]['message'].lower(), got[kind]
    for kind in ('not_image', 'empty', 'truncated', 'bomb', 'huge'):
        assert got[kind]['message'].startswith('AppError:'), got[kind]   # a gr.Error: the message reaches the user

def test_cli_check_and_server_side_upload_limit(space):
    "`companion space check` passes; the server itself refuses an upload over max_file_size (not only gradio_client)."
    import httpx
    from companion.deploy import AppServer
    r = run_cli('space', 'check', space, '--no-uploads')
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'check_space: OK' in r.stdout
    with AppServer(space) as srv:
        big = os.urandom(11_000_000)
        resp = httpx.post(srv.url + 'gradio_api/upload', files={'files': ('big.png', big, 'image/png')}, timeout=60)
        assert resp.status_code == 413, (resp.status_code, resp.text[:200])
        from gradio_client import Client, handle_file
        ex = sorted((space/'examples').iterdir())[0]
        labels, note = Client(srv.url, verbose=False).predict(handle_file(str(ex)), api_name='/predict')
        assert labels['label'] in json.loads((space/'space.json').read_text())['vocab']

def test_zerogpu_space_runs_torch_without_companion(model_dir, space, tmp_path):
    "The ZeroGPU variant: `spaces` + pinned torch, the architecture copied in; it serves the torch model (on the CPU here, `spaces` absent)."
    from companion.deploy import build_space, check_space
    from huggingface_hub import SpaceCard
    out = build_space(model_dir, tmp_path/'zero', title='Digits', zerogpu=True, examples=sorted((space/'examples').iterdir())[:2])
    reqs = (out/'requirements.txt').read_text()
    assert reqs.startswith('spaces\n') and 'torch==' in reqs and 'fastai==' in reqs and 'onnxruntime' not in reqs
    assert json.loads((out/'model'/'recipe.json').read_text())['arch']['module'] == 'companion_arch'
    assert 'def small_cnn' in (out/'companion_arch.py').read_text()
    assert 'spaces.GPU' in (out/'app.py').read_text() and json.loads((out/'space.json').read_text())['zerogpu'] is True
    assert SpaceCard.load(out/'README.md').data.python_version in ('3.10', '3.12')
    r = check_space(out, uploads=False)
    assert r.ok and 'backend=torch' in r.startup and 'predictor_module=companion_predict' in r.startup, repr(r)

def test_push_dry_run_plan(space):
    from companion.deploy import push_space
    plan = push_space(space, 'jane/digits', private=True, hardware='zero-a10g', dry_run=True)
    assert plan['calls'] == [
        ('create_repo', dict(repo_id='jane/digits', repo_type='space', space_sdk='gradio', private=True, exist_ok=True, space_hardware='zero-a10g')),
        ('upload_folder', dict(repo_id='jane/digits', repo_type='space', folder_path=str(space.resolve()),
                               ignore_patterns=['__pycache__/*', '*.pyc', '.gradio/*', 'flagged/*', '.git/*'], commit_message='companion: upload digits')),
        ('request_space_hardware', dict(repo_id='jane/digits', hardware='zero-a10g'))]
    names = {f for f, _ in plan['files']}
    assert {'app.py', 'README.md', 'requirements.txt', 'companion_predict.py', 'model/model.onnx', 'model/recipe.json'} <= names
    assert plan['url'] == 'https://huggingface.co/spaces/jane/digits'
    r = run_cli('space', 'push', space, 'jane/digits', '--dry-run')
    assert r.returncode == 0 and "would call HfApi.upload_folder(repo_id='jane/digits'" in r.stdout and 'nothing pushed' in r.stdout

def test_push_without_token_says_how_to_log_in(space, tmp_path):
    r = run_cli('space', 'push', space, 'jane/digits', env={'HF_HOME': str(tmp_path/'hf'), 'HF_TOKEN': ''})
    assert r.returncode == 1
    assert 'no Hugging Face token' in r.stderr and 'hf auth login' in r.stderr, r.stderr
    from companion.deploy import push_space, PushError
    with pytest.raises(PushError, match='valid Space name'): push_space(space, 'not a name', token='hf_x')
