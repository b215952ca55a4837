"A digits model, exported, built into a Space folder for each target, served on 127.0.0.1 and checked with gradio_client; the push by its plan."
import datetime as dt, json, os, sys
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
    "A CPU Space folder written by the CLI: `companion space build MODEL OUT --target cpu --examples DIR`."
    out = tmp_path_factory.mktemp('spaces')/'digits'
    r = run_cli('space', 'build', model_dir, out, '--target', 'cpu', '--title', 'Digits', '--emoji', '🔢', '--examples', digits_path/'valid')
    assert r.returncode == 0, r.stderr
    assert 'wrote a cpu Space' in r.stdout and 'next: companion space check' in r.stdout
    return out

def readme_matches_folder(space: Path):
    "Every file of the folder is named in its README's table, and the table names nothing else."
    from huggingface_hub import SpaceCard
    import re
    text = SpaceCard.load(space/'README.md').text
    named = set(re.findall(r'^\| `([^`]+)` \|', text, flags=re.M))
    from companion.hub import MANIFEST
    there = {f.relative_to(space).as_posix() for f in space.rglob('*') if f.is_file() and f.name not in ('README.md', MANIFEST) and f.parent.name != 'examples'}
    assert named == there | {'examples/'}, (named, there)
    return text

def test_build_space_files(space, model_dir):
    from huggingface_hub import SpaceCard
    import gradio
    for f in ('app.py', 'companion_runtime.py', 'companion_images.py', 'requirements.txt', 'README.md', 'space.json', 'model/model.onnx', 'model/preprocess.json'):
        assert (space/f).is_file(), f
    import companion
    pkg = Path(companion.__file__).parent
    assert (space/'app.py').read_bytes() == (pkg/'app.py').read_bytes()                    # the package's app, as is
    assert (space/'companion_runtime.py').read_bytes() == (pkg/'runtime.py').read_bytes()   # its runtime
    assert (space/'companion_images.py').read_bytes() == (pkg/'images.py').read_bytes()     # and the image opener the runtime imports; nothing else
    assert not (space/'companion_predict.py').exists() and not (space/'companion_arch.py').exists()
    card = SpaceCard.load(space/'README.md').data
    py = json.loads((model_dir/'preprocess.json').read_text())['versions']['python']
    assert (card.title, card.emoji, card.sdk, card.sdk_version, card.app_file) == ('Digits', '🔢', 'gradio', gradio.__version__, 'app.py')
    assert card.python_version == '.'.join(py.split('.')[:2])
    reqs = (space/'requirements.txt').read_text().split()
    assert all('==' in r for r in reqs) and {r.split('==')[0] for r in reqs} == {'onnxruntime', 'numpy', 'pillow'}   # no torch, all pinned
    assert sorted(f.name.split('_')[1] for f in (space/'examples').iterdir()) == [str(i) for i in range(10)]   # one example per class
    assert not (space/'model'/'model.safetensors').exists()   # the ONNX Space ships only what it runs
    text = readme_matches_folder(space)
    assert 'safetensors' not in text and 'paid plan' in text and '--target zerogpu' in text
    assert json.loads((space/'space.json').read_text())['target'] == 'cpu'

def test_check_space_examples_and_bad_uploads(space):
    "The Space answers like a local Predictor on every example; each bad upload gets its message and the next good request succeeds."
    from companion.spacecheck import check_space, UPLOAD_CASES
    r = check_space(space)
    assert r.ok, repr(r)
    assert 'backend=onnx' in r.startup and 'torch_imported=False' in r.startup and 'predictor_module=companion_runtime' in r.startup
    assert len(r.examples) == 10 and all(e['max_abs_diff'] <= 1e-4 for e in r.examples)
    got = {u['kind']: u for u in r.uploads}
    assert set(got) == set(UPLOAD_CASES)
    for kind, (action, words) in UPLOAD_CASES.items():
        assert got[kind]['result'] == ('refused' if action == 'refuse' else 'answered'), got[kind]
        assert words.lower() in got[kind]['message'].lower(), got[kind]
    refused = ('not_image', 'empty', 'truncated', 'bomb', 'huge')
    for kind in refused:
        assert got[kind]['message'].startswith('AppError:'), got[kind]   # a gr.Error: the message reaches the user
    # the server's log: one line per refused upload, no traceback
    lines = [l for l in r.log.splitlines() if l.startswith('companion app: refused')]
    assert len(lines) == len(refused), r.log[-3000:]
    assert 'Traceback' not in r.log, r.log[-3000:]

def test_cli_check_and_server_side_upload_limit(space):
    "`companion space check` passes; the server itself refuses an upload over max_file_size (not only gradio_client)."
    import httpx
    from companion.spacecheck import AppServer
    from companion.images import mb_bytes
    r = run_cli('space', 'check', space, '--no-uploads')
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'check_space: OK' in r.stdout
    with AppServer(space) as srv:
        big = os.urandom(mb_bytes(json.loads((space/'space.json').read_text())['max_file_size']) + 1_000_000)
        resp = httpx.post(srv.url + 'gradio_api/upload', files={'files': ('big.png', big, 'image/png')}, timeout=60)
        assert resp.status_code == 413, (resp.status_code, resp.text[:200])
        from gradio_client import Client, handle_file
        ex = sorted((space/'examples').iterdir())[0]
        labels, note = Client(srv.url, verbose=False).predict(handle_file(str(ex)), api_name='/predict')
        assert labels['label'] in json.loads((space/'space.json').read_text())['vocab']

@pytest.fixture(scope='module')
def zero(model_dir, digits_path, tmp_path_factory):
    "A ZeroGPU Space folder written by the CLI with the old flag (`--zerogpu` is `--target zerogpu`), two examples."
    out = tmp_path_factory.mktemp('spaces')/'zero'
    r = run_cli('space', 'build', model_dir, out, '--title', 'Digits', '--zerogpu', '--examples', digits_path/'valid', '--n-examples', '2')
    assert r.returncode == 0 and 'wrote a zerogpu Space' in r.stdout, r.stdout + r.stderr
    return out

def test_zerogpu_space_runs_torch_without_companion(zero, model_dir):
    "ZeroGPU: `import spaces` first, torch pinned to a pair ZeroGPU runs, Python 3.10/3.12; it serves the torch model (on the CPU here)."
    from companion.spacecheck import check_space
    from companion.deploy import ZEROGPU_HEADER
    from companion.hub import ZEROGPU_TORCH
    from huggingface_hub import SpaceCard
    app = (zero/'app.py').read_text()
    assert app.startswith(ZEROGPU_HEADER) and app.index('import spaces') < app.index('import numpy')
    reqs = (zero/'requirements.txt').read_text().split()
    pins = dict(r.split('==') for r in reqs if '==' in r)
    assert reqs[0] == 'spaces' and pins['torch'] in ZEROGPU_TORCH and pins['torchvision'] == ZEROGPU_TORCH[pins['torch']]
    assert 'fastai' in pins and 'onnxruntime' not in pins and 'numpy' in reqs   # numpy left for the Space's Python
    prep = json.loads((zero/'model'/'preprocess.json').read_text())
    assert (prep.get('arch') or prep['model']['arch'])['module'] == 'companion_arch'
    assert 'def small_cnn' in (zero/'companion_arch.py').read_text()
    py = json.loads((model_dir/'preprocess.json').read_text())['versions']['python']
    card = SpaceCard.load(zero/'README.md')
    assert card.data.python_version == ('3.12' if tuple(map(int, py.split('.')[:2])) >= (3, 11) else '3.10')
    assert card.data.suggested_hardware == 'zero-a10g' and 'ZeroGPU' in card.text and 'ONNX' not in card.text
    readme_matches_folder(zero)
    assert len(list((zero/'examples').iterdir())) == 2
    r = check_space(zero, uploads=False)
    assert r.ok and 'backend=torch' in r.startup and 'predictor_module=companion_runtime' in r.startup, repr(r)

def days_ago(n: int) -> str: return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=n)).isoformat()

def test_static_is_the_default_without_a_token(model_dir, digits_path, tmp_path):
    "No token: `companion space build MODEL OUT` writes the static Space of companion.static, says why and what to run next; its push creates a Space with space_sdk='static' and no hardware."
    from huggingface_hub import SpaceCard
    from companion.hub import push_space
    out = tmp_path/'static'
    r = run_cli('space', 'build', model_dir, out, '--examples', digits_path/'valid', env={'HF_HOME': str(tmp_path/'hf'), 'HF_TOKEN': '', 'HF_HUB_OFFLINE': '0'})
    assert r.returncode == 0 and 'wrote a static Space' in r.stdout, r.stdout + r.stderr
    assert r.stdout.startswith('target: static. No Hugging Face token was found'), r.stdout
    assert f'next: companion space check {out}' in r.stdout and f'companion space serve {out}' in r.stdout
    assert (out/'index.html').is_file() and not (out/'app.py').exists()
    assert SpaceCard.load(out/'README.md').data.sdk == 'static'
    new = dict(type='user', name='sam', emailVerified=True, isPro=False, orgs=[], createdAt=days_ago(12))
    plan = push_space(out, 'sam/digits', dry_run=True, whoami=new)
    assert (plan['built'], plan['target']) == ('static', 'static') and 'mismatch' not in plan, plan
    assert plan['calls'][0] == ('create_repo', dict(repo_id='sam/digits', repo_type='space', space_sdk='static', private=False, exist_ok=True))
    assert [c for c, _ in plan['calls']] == ['create_repo', 'create_commit']

# Each kind of account whoami can describe -> the target push_space picks. The fields are those of HfApi.whoami()
# (type, name, emailVerified, isPro, orgs[].plan / periodEnd); createdAt comes from the user's overview.
OLD, NEW = '2024-09-01T12:00:00.000Z', days_ago(12)
def user(**kw): return dict(type='user', name='jane', email='jane@example.com', emailVerified=True, isPro=False, canPay=False,
                            periodEnd=None, orgs=[], createdAt=OLD) | kw
ACCOUNTS = {   # kind: (whoami, Space owner, target, words of the why)
    'pro':            (user(isPro=True, canPay=True, periodEnd=1795000000), 'jane', 'cpu', 'PRO'),
    'free':           (user(), 'jane', 'zerogpu', 'up to 2 Gradio Spaces on ZeroGPU'),
    'free_no_age':    ({k: v for k, v in user().items() if k != 'createdAt'}, 'jane', 'zerogpu', 'unknown age'),
    'new':            (user(createdAt=NEW), 'jane', 'static', 'days old'),
    'unverified':     (user(emailVerified=False), 'jane', 'static', 'not verified'),
    'team_org':       (user(orgs=[dict(type='org', name='fastlab', plan='team', canPay=True, periodEnd=1795000000)]), 'fastlab', 'cpu', 'paid plan'),
    'enterprise_org': (user(orgs=[dict(type='org', name='bigco', plan='enterprise')]), 'bigco', 'cpu', 'paid plan'),
    'free_org':       (user(orgs=[dict(type='org', name='club', plan=None, canPay=False, periodEnd=None)]), 'club', 'static', 'no paid plan'),
    'org_token':      (dict(type='org', name='fastlab', plan='team'), 'fastlab', 'cpu', 'paid plan'),
    'app_token':      (dict(type='app', name='ci-bot'), 'jane', 'static', 'app'),
}

def test_default_target_from_account(monkeypatch):
    "With the account read, the default is what it may host: PRO -> cpu, free and verified at 40 days -> zerogpu, at 12 days -> static; offline -> static."
    from companion.hub import default_target
    assert default_target(whoami=user(isPro=True))[0] == 'cpu'
    assert default_target(whoami=user(createdAt=days_ago(40)))[0] == 'zerogpu'
    t, why = default_target(whoami=user(createdAt=days_ago(12)))
    assert t == 'static' and '12 days old' in why, why
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    t, why = default_target(token='hf_x')   # offline: the account is not read
    assert t == 'static' and 'HF_HUB_OFFLINE' in why, why

@pytest.mark.parametrize('kind', ACCOUNTS)
def test_push_picks_target_from_account(kind, space, model_dir):
    "The dry-run plan says which target the account may host and why; a folder built for another target is stopped with the command to run."
    from companion.hub import push_space, PushError
    who, owner, want, words = ACCOUNTS[kind]
    plan = push_space(space, f'{owner}/digits', dry_run=True, whoami=who)
    assert plan['target'] == want and words in plan['why'], plan['why']
    assert plan['why'].count('. ') == 0   # one sentence
    if want == 'cpu': assert 'mismatch' not in plan
    else:
        assert f'companion space build {model_dir.resolve()} {space} --target {want}' in plan['mismatch']
        with pytest.raises(PushError, match=f'--target {want}'): push_space(space, f'{owner}/digits', token='hf_x', whoami=who)

def test_push_dry_run_plan(space, zero):
    "The calls for a cpu folder (with hardware asked for) and a zerogpu one; --target overrides the account; the CLI prints target and why."
    from companion.hub import push_space
    plan = push_space(space, 'jane/digits', private=True, hardware='cpu-upgrade', dry_run=True, whoami=ACCOUNTS['pro'][0])
    assert plan['calls'] == [
        ('create_repo', dict(repo_id='jane/digits', repo_type='space', space_sdk='gradio', private=True, exist_ok=True, space_hardware='cpu-upgrade')),
        ('create_commit', dict(repo_id='jane/digits', repo_type='space', operations=[f for f, _ in plan['files']], commit_message='companion: upload digits')),
        ('request_space_hardware', dict(repo_id='jane/digits', hardware='cpu-upgrade'))]
    names = {f for f, _ in plan['files']}
    assert {'app.py', 'README.md', 'requirements.txt', 'companion_runtime.py', 'model/model.onnx', 'model/preprocess.json'} <= names
    assert plan['url'] == 'https://huggingface.co/spaces/jane/digits'
    z = push_space(zero, 'jane/digits', dry_run=True, whoami=ACCOUNTS['free'][0])
    assert 'mismatch' not in z and z['calls'][0][1]['space_sdk'] == 'gradio' and z['calls'][0][1]['space_hardware'] == 'zero-a10g'
    assert z['calls'][-1] == ('request_space_hardware', dict(repo_id='jane/digits', hardware='zero-a10g'))
    forced = push_space(zero, 'jane/digits', dry_run=True, whoami=ACCOUNTS['new'][0], target='zerogpu')   # --target wins over the account
    assert forced['target'] == 'zerogpu' and 'mismatch' not in forced and 'target=zerogpu was asked for' in forced['why']
    r = run_cli('space', 'push', space, 'jane/digits', '--dry-run')   # no token here: the folder goes as built
    assert r.returncode == 0 and "would call HfApi.create_commit(repo_id='jane/digits'" in r.stdout and 'nothing pushed' in r.stdout, r.stdout + r.stderr
    assert all(f'  upload  {f} ' in r.stdout for f, _ in plan['files']), r.stdout   # the dry run lists every file it would upload
    assert 'target: cpu (folder built for cpu)' in r.stdout
    r = run_cli('space', 'push', space, 'jane/digits', '--dry-run', '--target', 'static')
    assert r.returncode == 1 and r.stderr.startswith('companion space: ') and '--target static' in r.stderr and 'companion space build' in r.stderr, r.stderr
    r = run_cli('space', '--help')
    assert r.returncode == 0 and all(f'    {c} ' in r.stdout for c in ('build', 'check', 'push', 'serve', 'upgrade')), r.stdout

def test_push_without_token_says_how_to_log_in(space, tmp_path):
    r = run_cli('space', 'push', space, 'jane/digits', env={'HF_HOME': str(tmp_path/'hf'), 'HF_TOKEN': ''})
    assert r.returncode == 1
    assert 'no Hugging Face token' in r.stderr and 'hf auth login' in r.stderr, r.stderr
    from companion.hub import push_space, PushError
    with pytest.raises(PushError, match='valid Space name'): push_space(space, 'not a name', token='hf_x')

def test_display_labels_reach_every_target(model_dir, digits_path, tmp_path):
    "`--labels 3=three,7=seven` (the course's categories): the app answers with the names, the static page and README show them."
    from gradio_client import Client, handle_file
    from companion.spacecheck import AppServer
    out = tmp_path/'named'
    r = run_cli('space', 'build', model_dir, out, '--target', 'cpu', '--labels', '3=three,7=seven', '--examples', digits_path/'valid')
    assert r.returncode == 0, r.stderr
    shipped = json.loads((out/'model'/'preprocess.json').read_text())
    assert shipped['vocab'][3] == 'three' and shipped['vocab'][7] == 'seven' and shipped['trained_vocab'][3] == '3'
    assert any('three' in f.name for f in (out/'examples').iterdir())
    sevens = sorted((digits_path/'valid'/'7').glob('*.png'))[:3]
    with AppServer(out) as srv:
        got = [Client(srv.url, verbose=False).predict(handle_file(str(f)), api_name='/predict')[0]['label'] for f in sevens]
    assert 'seven' in got and '7' not in got, got
    st = tmp_path/'named_static'
    assert run_cli('space', 'build', model_dir, st, '--target', 'static', '--labels', '3=three').returncode == 0
    assert json.loads((st/'model'/'preprocess.json').read_text())['vocab'][3] == 'three'
    r = run_cli('space', 'build', model_dir, tmp_path/'bad', '--target', 'cpu', '--labels', 'cat=Cat')
    assert r.returncode == 1 and r.stderr.startswith('companion space: ') and "doesn't know" in r.stderr, r.stderr

def test_folder_and_space_written_before_preprocess_json(model_dir, tmp_path):
    "A model folder holding only recipe.json (exported before the rename) builds a Space with model/preprocess.json; a Space whose copy is still recipe.json serves and checks."
    import shutil
    from companion.deploy import build_space
    from companion.spacecheck import check_space
    old = shutil.copytree(model_dir, tmp_path/'old_model')
    (old/'preprocess.json').rename(old/'recipe.json')
    out = build_space(old, tmp_path/'space', target='cpu', n_examples=2)
    assert (out/'model'/'preprocess.json').is_file() and not (out/'model'/'recipe.json').exists()
    (out/'model'/'preprocess.json').rename(out/'model'/'recipe.json')   # as a Space built before has it
    r = check_space(out, uploads=False)
    assert r.ok and len(r.examples) == 2 and r.startup.startswith('model='), repr(r)

def test_rebuild_for_another_target_replaces_the_build(model_dir, tmp_path):
    "The same folder built static, then cpu, then static again: each time one Space of the asked kind, nothing of the other left; a folder of someone else's files is refused."
    from huggingface_hub import SpaceCard
    from companion.deploy import build_space
    from companion.static import PAGE_FILES
    out = tmp_path/'space'
    for target, sdk in (('static', 'static'), ('cpu', 'gradio'), ('static', 'static')):
        build_space(model_dir, out, target=target)
        assert SpaceCard.load(out/'README.md').data.sdk == sdk
        assert (out/'app.py').exists() == (target == 'cpu') and all((out/f).exists() == (target == 'static') for f in PAGE_FILES), sorted(p.name for p in out.iterdir())
        assert (out/'space.json').exists() == (target == 'cpu') and (out/'config.json').exists() == (target == 'static')
    with pytest.raises(ValueError, match="doesn't know"): build_space(model_dir, out, target='cpu', labels={'nope': 'x'})
    assert (out/'index.html').is_file() and (out/'model'/'model.onnx').is_file()   # a rebuild that can't be made leaves the old build as it was
    mine = tmp_path/'mine'; mine.mkdir(); (mine/'notes.txt').write_text('mine')
    with pytest.raises(FileExistsError, match='not a Space built by companion'): build_space(model_dir, mine, target='cpu')
    (mine/'index.html').write_text('<p>my page</p>')
    with pytest.raises(FileExistsError, match='not a Space built by companion'): build_space(model_dir, mine, target='static')
    assert sorted(p.name for p in mine.iterdir()) == ['index.html', 'notes.txt']

def test_a_static_space_pushes_as_built_to_any_account(model_dir, tmp_path):
    "Every account may host a static Space: a PRO or a ZeroGPU-able account pushes it as built (no rebuild asked for); a cpu Space still needs a paid plan."
    from companion.deploy import build_space
    from companion.hub import push_space, hosts
    out = build_space(model_dir, tmp_path/'static', target='static')
    for kind in ('pro', 'free', 'new'):
        who, owner, best, _ = ACCOUNTS[kind]
        plan = push_space(out, f'{owner}/digits', dry_run=True, whoami=who)
        assert (plan['target'], 'mismatch' in plan) == ('static', False), (kind, plan.get('mismatch'))
    assert hosts('cpu', 'zerogpu') and hosts('zerogpu', 'static') and not hosts('zerogpu', 'cpu') and not hosts('static', 'zerogpu')

STUDENT_APP = '''import gradio as gr
import numpy as np
from PIL import Image

def brightness(path):
    "A student's own classifier: how bright the picture is."
    m = float(np.asarray(Image.open(path).convert('L')).mean()) / 255
    return {'bright': m, 'dark': 1 - m}

gr.Interface(brightness, gr.Image(type='filepath'), gr.Label(), api_name='classify').launch()
'''

def test_check_space_on_the_students_own_app(model_dir, digits_path, tmp_path):
    "build_space(app=their_app.py) leaves model/preprocess.json in the folder, yet check_space reads the endpoint and outputs from the app itself."
    from companion.deploy import build_space
    from companion.spacecheck import check_space
    (tmp_path/'their_app.py').write_text(STUDENT_APP)
    out = build_space(model_dir, tmp_path/'space', target='cpu', app=tmp_path/'their_app.py', examples=digits_path/'valid', n_examples=2)
    assert (out/'model'/'preprocess.json').is_file() and (out/'app.py').read_text() == STUDENT_APP
    r = check_space(out)
    assert r.ok, repr(r)
    assert r.startup == 'your own app: endpoint /classify -> Label', r.startup
    assert len(r.examples) == 2 and {e['app'] for e in r.examples} <= {'bright', 'dark'}, r.examples
    assert {u['kind'] for u in r.uploads} == {'not_image', 'empty', 'truncated', 'bomb', 'huge', 'oversize', 'cmyk', '16bit', 'rgba', 'palette', 'animated'}

def test_max_file_size_reaches_app_and_check(model_dir, tmp_path):
    "`companion space build --max_file_size 1mb`: space.json says 1mb, and check_space's oversize upload (2 MB) is refused by that limit."
    from companion.images import MAX_FILE_SIZE
    from companion.spacecheck import check_space
    out = tmp_path/'small'
    r = run_cli('space', 'build', model_dir, out, '--target', 'cpu', '--max_file_size', '1mb')
    assert r.returncode == 0, r.stderr
    assert json.loads((out/'space.json').read_text())['max_file_size'] == '1mb' != MAX_FILE_SIZE
    res = check_space(out)
    assert res.ok, repr(res)
    big = next(u for u in res.uploads if u['kind'] == 'oversize')
    assert big['result'] == 'refused' and 'file size' in big['message'].lower(), big

def test_space_options_are_the_functions_parameters():
    "Each `companion space` subcommand's options are its function's parameters, with their defaults; a parameter the CLI can't take (whoami) is hidden."
    import inspect
    from companion.deploy import space_parser, build_space
    from companion.spacecheck import check_space, serve
    from companion.hub import push_space
    for argv, f in ((['build', 'M', 'O'], build_space), (['check', 'S'], check_space), (['push', 'S', 'u/n'], push_space), (['serve', 'S'], serve)):
        a = vars(space_parser().parse_args(argv))
        params = inspect.signature(f).parameters
        assert set(a) - {'cmd'} == set(params), (f.__name__, set(a) ^ set(params))
        assert all(a[k] == p.default for k, p in params.items() if p.default is not inspect.Parameter.empty), (f.__name__, a)
    r = run_cli('space', 'push', '--help')
    assert r.returncode == 0 and '--dry_run' in r.stdout and '--no-exist_ok' in r.stdout and '--whoami' not in r.stdout, r.stdout
    r = run_cli('space', 'serve', '--help')
    assert r.returncode == 0 and '--port' in r.stdout and '--args' not in r.stdout, r.stdout
