"A Space folder goes to the Hub with the files its build wrote and nothing else; a build copies only the model folder's own files (issue 23, holes 3 and 4)."
import json, os, shutil
from pathlib import Path
import pytest
from conftest import run_cli

os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
os.environ.setdefault('HF_HUB_OFFLINE', '1')

SECRET = 'hf_TopSecretTokenValue'
PRO = dict(type='user', name='jane', emailVerified=True, isPro=True, orgs=[], createdAt='2024-09-01T12:00:00.000Z')

@pytest.fixture(scope='module')
def model_dir(digits37_path, tmp_path_factory):
    "An untrained small CNN on the 3s and 7s, exported (the push never looks at the weights)."
    from companion.learner import image_dls, learner
    from companion.predict import export_model
    return export_model(learner(image_dls(digits37_path), 'small_cnn'), tmp_path_factory.mktemp('model')/'digits37', n_check=0)

def litter(space: Path, outside: Path) -> set:
    "What a student's Space folder collects besides the build: secrets, a pickle, a notebook, git, links out. Returns the names as the plan lists them."
    (outside/'hf_token.txt').write_text(SECRET)
    for f in ('.env', 'token', 'hf_token.txt', '.netrc', 'id_rsa'): (space/f).write_text(f'HF_TOKEN={SECRET}\n')
    (space/'export.pkl').write_bytes(b'\x80\x04' + SECRET.encode())
    (space/'scratch.ipynb').write_text(json.dumps({'cells': [{'source': SECRET}]}))
    (space/'.git').mkdir(); (space/'.git'/'config').write_text(f'[credential]\n  helper = {SECRET}\n')
    (space/'notes.md').symlink_to(outside/'hf_token.txt')
    (space/'examples'/'zz_7_key.png').symlink_to(outside/'hf_token.txt')   # a link dressed as an example
    (space/'model'/'backup.onnx').write_text(SECRET)   # a file the build didn't write, inside a folder it did
    return {'.env', 'token', 'hf_token.txt', '.netrc', 'id_rsa', 'export.pkl', 'scratch.ipynb', '.git/', 'notes.md', 'examples/zz_7_key.png', 'model/backup.onnx'}

@pytest.mark.parametrize('target', ['cpu', 'static'])
def test_push_sends_only_what_the_build_wrote(model_dir, digits37_path, tmp_path, target):
    "Every secret dropped into the folder is named as left out with why, none is in the plan's files nor in any file the push would read; the dry run lists each file with its size."
    from companion.deploy import build_space
    from companion.hub import push_space, MANIFEST
    space = build_space(model_dir, tmp_path/'space', target=target, examples=digits37_path/'valid')
    built = set(json.loads((space/MANIFEST).read_text())['files'])
    dropped = litter(space, tmp_path)
    plan = push_space(space, 'jane/digits', dry_run=True, whoami=PRO)
    sent = {f for f, _ in plan['files']}
    assert sent == built and MANIFEST not in sent, sent ^ built
    assert not any(SECRET in (space/f).read_text(errors='replace') for f in sent)
    left = dict(plan['left_out'])
    assert set(left) == dropped, set(left) ^ dropped
    assert 'secret' in left['.env'] and 'secret' in left['id_rsa'] and 'pickle' in left['export.pkl'] and 'notebook' in left['scratch.ipynb']
    assert left['notes.md'].startswith('a link') and left['examples/zz_7_key.png'].startswith('a link') and 'folder' in left['.git/']
    assert plan['calls'][1][1]['operations'] == sorted(sent, key=[f for f, _ in plan['files']].index)   # the commit adds exactly these
    r = run_cli('space', 'push', space, 'jane/digits', '--dry-run', '--target', target)
    assert r.returncode == 0, r.stderr
    for f, size in plan['files']: assert f'  upload  {f} ' in r.stdout, f
    for f in dropped: assert f'  leave   {f} ' in r.stdout, f
    assert SECRET not in r.stdout

def test_folder_without_manifest_is_refused(model_dir, tmp_path):
    "A folder an older companion built (no manifest) is not pushed at all: the error names the build command that writes one."
    from companion.deploy import build_space
    from companion.hub import push_space, PushError, MANIFEST
    space = build_space(model_dir, tmp_path/'space', target='cpu')
    (space/MANIFEST).unlink()
    with pytest.raises(PushError, match=f'run `companion space build {model_dir.resolve()} {space} --target cpu`'):
        push_space(space, 'jane/digits', dry_run=True, whoami=PRO)
    (space/MANIFEST).write_text('{"files": ')   # damaged: the same
    with pytest.raises(PushError, match='no readable list'): push_space(space, 'jane/digits', dry_run=True, whoami=PRO)

@pytest.mark.parametrize('target,kind', [('cpu', 'onnx'), ('static', 'onnx'), ('zerogpu', 'program'), ('zerogpu', 'weights')])
def test_preprocess_cannot_name_a_file_outside_the_model_folder(model_dir, tmp_path, target, kind):
    "`preprocess.json`'s `files.onnx = '../.env'` (or the torch files): refused in one sentence before anything is written; the secret is in no Space file."
    from companion.deploy import build_space
    from companion.runtime import ModelFolderError
    m = tmp_path/'shared'/'model'
    shutil.copytree(model_dir, m)
    (m.parent/'.env').write_text(f'HF_TOKEN={SECRET}\n')
    r = json.loads((m/'preprocess.json').read_text())
    (m/'preprocess.json').write_text(json.dumps({**r, 'files': {**r['files'], kind: '../.env'}}))
    with pytest.raises(ModelFolderError, match=f"names '../.env' as its {kind} file") as e: build_space(m, tmp_path/'space', target=target)
    assert str(e.value).count('. ') == 0 and not (tmp_path/'space').exists()   # one sentence, nothing written

def test_model_file_linked_out_of_the_folder_is_refused(model_dir, tmp_path):
    "model.onnx as a link to a file outside the model folder: the build refuses it, so the file it points to can't reach a Space."
    from companion.deploy import build_space
    from companion.runtime import ModelFolderError
    m = tmp_path/'model'
    shutil.copytree(model_dir, m)
    (tmp_path/'secret.onnx').write_text(SECRET)
    (m/'model.onnx').unlink(); (m/'model.onnx').symlink_to(tmp_path/'secret.onnx')
    for target in ('cpu', 'static'):
        with pytest.raises(ModelFolderError, match='outside the model folder'): build_space(m, tmp_path/target, target=target)
        assert not (tmp_path/target).exists()
