"""The package as users get it: a wheel built from this tree, installed (not editable) into a fresh venv, builds and checks Spaces;
and a ZeroGPU Space's requirements installed into a fresh Python 3.10 venv, where check_space serves it."""
import os, re, shutil, subprocess, sys, time, zipfile
from pathlib import Path
import pytest
from conftest import require

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ('setup.py', 'settings.ini', 'pyproject.toml', 'README.md', 'MANIFEST.in', 'companion')

def run(*cmd, **kw):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert r.returncode == 0, f'{cmd}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}'
    return r

@pytest.fixture(scope='module')
def wheel(tmp_path_factory) -> Path:
    "`pip wheel --no-deps` of a copy of the project (so the build leaves nothing in the tree)."
    src, out = tmp_path_factory.mktemp('src'), tmp_path_factory.mktemp('wheel')
    for f in SOURCES:
        if (ROOT/f).is_dir(): shutil.copytree(ROOT/f, src/f, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        elif (ROOT/f).exists(): shutil.copy(ROOT/f, src/f)
    run(sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w', out, src)
    return next(out.glob('companion-*.whl'))

def test_wheel_holds_what_a_space_is_built_from(wheel):
    "The app, the modules a Space runs, the deploy modules and every template file of the source tree are in the wheel."
    from companion.deploy import space_modules
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {'companion/app.py', 'companion/deploy.py', 'companion/spacecheck.py', 'companion/hub.py'} <= names
    assert {f'companion/{p.name}' for p in space_modules().values()} == {'companion/runtime.py', 'companion/images.py'} <= names
    templates = {f.relative_to(ROOT).as_posix() for f in (ROOT/'companion'/'templates').rglob('*') if f.is_file() and '__pycache__' not in f.parts}
    assert templates and templates <= names, templates - names

@pytest.fixture(scope='module')
def wheel_venv(wheel, tmp_path_factory) -> Path:
    "A fresh venv of this Python with the wheel installed --no-deps; the dev venv's site-packages come after its own (a .pth) for the dependencies."
    import site, sysconfig
    venv = tmp_path_factory.mktemp('venv')/'v'
    run(sys.executable, '-m', 'venv', venv)
    py = venv/'bin'/'python'
    own = Path(run(py, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])').stdout.strip())
    (own/'zz_dev_site_packages.pth').write_text(sysconfig.get_paths()['purelib'] + '\n')   # appended after own site-packages
    run(py, '-m', 'pip', 'install', '--no-deps', '-q', wheel)
    return venv

def _norm(name: str) -> str: return re.sub(r'[-_.]+', '_', name).lower()

def extras_of(wheel: Path) -> dict:
    "{extra: package names} of the wheel's optional requirements, as its METADATA lists them (Requires-Dist: name; extra == \"deploy\")."
    meta = next(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith('.dist-info/METADATA'))
    res = {}
    for l in zipfile.ZipFile(wheel).read(meta).decode().splitlines():
        if m := re.match(r'Requires-Dist: ([A-Za-z0-9_.-]+)[^;]*(?:; extra == "(\w+)")?', l): res.setdefault(m[2], set()).add(_norm(m[1]))
    return res

@pytest.fixture(scope='module')
def bare_venv(wheel, tmp_path_factory) -> Path:
    """The wheel installed --no-deps in a venv that has the dev venv's packages except the deploy and distrib extras' (links to the others
    in a folder of its own, after the venv's site-packages): `pip install companion` without extras, with no download."""
    import sysconfig
    ex = extras_of(wheel)
    hidden = ex['deploy'] | ex['distrib']
    venv, farm = tmp_path_factory.mktemp('bare')/'v', tmp_path_factory.mktemp('bare_site')
    for p in Path(sysconfig.get_paths()['purelib']).iterdir():
        name = _norm(p.name.split('-')[0].removesuffix('.py').removesuffix('.pth'))
        if name not in hidden and name != 'companion' and not p.name.startswith('__editable__'): (farm/p.name).symlink_to(p)
    run(sys.executable, '-m', 'venv', venv)
    py = venv/'bin'/'python'
    own = Path(run(py, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])').stdout.strip())
    (own/'zz_dev_site_packages.pth').write_text(f'{farm}\n')
    run(py, '-m', 'pip', 'install', '--no-deps', '-q', wheel)
    return venv

README = """
import sys, os, matplotlib; matplotlib.use('Agg')
from pathlib import Path
here = Path(sys.argv[1])
import time; t0 = time.time()
def step(name): print(f'-- {name} at {time.time()-t0:.0f} s', flush=True)
for m in HIDDEN:
    try: __import__(m); raise SystemExit(f'{m} is installed: this is not an environment without extras')
    except ModuleNotFoundError: pass
from fastai.vision.all import *
from companion.all import *                # companion's names; learn.lr_report(), learn.coach(), learn.interpret() on every Learner
print(doctor(timeout=1)); step('doctor')
path = digits(here/'d37', classes=('3', '7'))
print(audit_images(path)); step('audit_images')
learn, report = train(image_dls(path), epochs=3); step('train')
learn.interpret().plot_top_losses(9); step('interpret')
path = Path(sys.argv[2])
bears = DataBlock(blocks=(ImageBlock, CategoryBlock), get_items=get_image_files, splitter=RandomSplitter(valid_pct=0.2, seed=42),
                  get_y=parent_label, item_tfms=RandomResizedCrop(64, min_scale=0.3), batch_tfms=aug_transforms())
learn = vision_learner(bears.dataloaders(path, bs=16, num_workers=0), resnet18, metrics=error_rate, pretrained=False)   # offline: no weights
rep = learn.lr_report(show_plot=False); print(rep); step('lr_report')
learn.fine_tune(1, rep.pick)
learn.coach(show_plot=False); step('coach')
export_model(learn, 'model'); step('export_model')   # no pickle; checked against learn.predict (without onnx: the torch files)
try: build_space('model', 'space')                    # the README's next cell needs the deploy extra
except ModuleNotFoundError as e: print('build_space:', explain(e))
"""

@pytest.fixture(scope='module')
def bare_readme(wheel, bare_venv, tmp_path_factory):
    "The README's notebook cells, up to export_model, run by the wheel without extras: (exit code, output, seconds, folder)."
    from standins import unsplit_folder
    tmp = tmp_path_factory.mktemp('bare_readme')
    folder = unsplit_folder(tmp/'bears', n_per_class=12, classes=range(3))
    ex = extras_of(wheel)
    (tmp/'nb.py').write_text(README.replace('HIDDEN', repr(sorted(ex['deploy'] | ex['distrib']))))
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'} | {'HF_HUB_OFFLINE': '1', 'MPLBACKEND': 'Agg'}
    t = time.time()
    r = subprocess.run([bare_venv/'bin'/'python', 'nb.py', tmp, folder], capture_output=True, text=True, cwd=tmp, env=env, timeout=600)
    return r.returncode, r.stdout + r.stderr, time.time() - t, tmp

def test_wheel_requires_no_extra(wheel):
    "`pip install companion` brings neither the deploy nor the distrib extra; `[test]` (and so `[dev]`) brings both."
    ex = extras_of(wheel)
    assert ex['deploy'] >= {'gradio', 'gradio_client', 'huggingface_hub', 'onnx', 'onnxruntime'} and ex['distrib'] == {'accelerate'}, ex
    assert not (ex[None] & (ex['deploy'] | ex['distrib'])) and (ex['deploy'] | ex['distrib']) <= ex['test'] <= ex['dev'], ex

def test_readme_cells_without_extras(bare_readme):
    "The README's notebook cells run from `pip install companion` (no extras) up to and with export_model; build_space, next, names the extra it needs."
    rc, out, secs, tmp = bare_readme
    print(f'\nREADME cells without extras: {secs:.0f} s')
    assert rc == 0, out[-3000:]
    print(re.findall(r'^-- (.*)$', out, re.M))
    steps = re.findall(r'^-- (\w+) at \d+ s$', out, re.M)
    assert steps == ['doctor', 'audit_images', 'train', 'interpret', 'lr_report', 'coach', 'export_model'], out[-3000:]
    assert (tmp/'model'/'preprocess.json').is_file() and 'pip install "companion[deploy]"' in out   # export_model says how to add model.onnx
    assert 'build_space: needs the deploy extra: pip install "companion[deploy]"' in out, out[-1500:]

def test_space_build_without_extras_names_the_extra(bare_venv, tmp_path):
    "`companion space build` without the deploy extra: one line on stderr that says what to install, exit 1."
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'} | {'HF_HUB_OFFLINE': '1'}
    r = subprocess.run([bare_venv/'bin'/'companion', 'space', 'build', 'model', 'space'], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert (r.returncode, r.stdout, r.stderr) == (1, '', 'companion space: needs the deploy extra: pip install "companion[deploy]"\n'), r

CHAPTER2 = """
from fastai.vision.all import *
from companion.all import *
import sys
path = Path(sys.argv[1])
bears = DataBlock(blocks=(ImageBlock, CategoryBlock), get_items=get_image_files, splitter=RandomSplitter(valid_pct=0.2, seed=42),
                  get_y=parent_label, item_tfms=RandomResizedCrop(64, min_scale=0.5), batch_tfms=aug_transforms())
learn = vision_learner(bears.dataloaders(path, bs=16, num_workers=0), resnet18, metrics=error_rate, pretrained=False)
r = learn.lr_report(show_plot=False); print(r)
learn.fine_tune(1, r.pick)
print('verdict:', learn.coach(show_plot=False).verdict)
export_model(learn, 'model')
build_space('model', 'space', target='static')
"""

def test_readme_chapter2_cells_from_the_installed_wheel(wheel_venv, tmp_path):
    "The README's own-DataBlock cells (book chapter 2: RandomResizedCrop, aug_transforms, parent_label on an unsplit folder of mixed sizes), run by the installed wheel."
    from standins import unsplit_folder
    folder = unsplit_folder(tmp_path/'bears', n_per_class=12, classes=range(3))
    (tmp_path/'nb.py').write_text(CHAPTER2)
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'} | {'HF_HUB_OFFLINE': '1'}
    r = run(wheel_venv/'bin'/'python', 'nb.py', folder, cwd=tmp_path, env=env)
    assert 'verdict: ' in r.stdout and 'pick: ' in r.stdout, r.stdout[-2000:]
    assert (tmp_path/'model'/'preprocess.json').is_file() and (tmp_path/'model'/'model.onnx').is_file()
    assert {'index.html', 'app.js', 'model'} <= {p.name for p in (tmp_path/'space').iterdir()}


def test_installed_wheel_builds_and_checks_spaces(wheel_venv, tmp_path, digits_path):
    "From the installed wheel: companion comes from the venv, `companion space build` (cpu, static) and `companion space check` work."
    from test_deploy import train_export
    py, cli = wheel_venv/'bin'/'python', wheel_venv/'bin'/'companion'
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'} | {'HF_HUB_OFFLINE': '1', 'GRADIO_ANALYTICS_ENABLED': 'False'}   # a user's shell: no source tree on the path
    where = run(py, '-c', 'import companion, companion.app, companion.runtime; print(companion.__file__)', cwd=tmp_path, env=env).stdout.strip()
    assert Path(where).is_relative_to(wheel_venv) and not Path(where).is_relative_to(ROOT), where
    model = train_export(digits_path, tmp_path/'model')
    r = run(cli, 'space', 'build', model, tmp_path/'cpu', '--target', 'cpu', '--examples', digits_path/'valid', cwd=tmp_path, env=env)
    assert 'wrote a cpu Space' in r.stdout
    assert (tmp_path/'cpu'/'app.py').read_text() == (Path(where).parent/'app.py').read_text()
    r = run(cli, 'space', 'check', tmp_path/'cpu', cwd=tmp_path, env=env)
    assert 'check_space: OK' in r.stdout and 'predictor_module=companion_runtime' in r.stdout, r.stdout
    r = run(py, '-c', 'import companion.static', cwd=tmp_path, env=env)   # the static target needs the package's templates
    r = run(cli, 'space', 'build', model, tmp_path/'static', '--target', 'static', '--examples', digits_path/'valid', cwd=tmp_path, env=env)
    assert (tmp_path/'static'/'index.html').is_file() and (tmp_path/'static'/'app.js').is_file()

def python310() -> str|None:
    "A Python 3.10 interpreter: pyenv's 3.10.13 (as on this machine), or python3.10 on PATH."
    pyenv = shutil.which('pyenv')
    if pyenv:
        r = subprocess.run([pyenv, 'which', 'python3.10'], capture_output=True, text=True, env={**os.environ, 'PYENV_VERSION': '3.10.13'})
        if r.returncode == 0 and r.stdout.strip(): return r.stdout.strip()
    return shutil.which('python3.10')

def test_zerogpu_requirements_install_in_python310(tmp_path, digits_path):
    """A ZeroGPU Space's requirements.txt (+ gradio at the README's sdk_version) installs into a fresh Python 3.10 venv, and check_space
    passes with that venv's python. Cost: ~5.4 GB of disk and 2.5–5 min here with pip's cache warm (torch 2.11 and its CUDA wheels)."""
    from huggingface_hub import SpaceCard
    from companion.deploy import build_space
    from companion.spacecheck import check_space
    from test_deploy import train_export
    py310 = python310()
    require(py310 is not None, 'Python 3.10 (pyenv install 3.10.13)')
    model = train_export(digits_path, tmp_path/'model')
    space = build_space(model, tmp_path/'zero', 'zerogpu', title='Digits', examples=digits_path/'valid', n_examples=3)
    card = SpaceCard.load(space/'README.md').data
    venv = tmp_path/'py310'
    t0 = time.time()
    run(py310, '-m', 'venv', venv)
    run(venv/'bin'/'python', '-m', 'pip', 'install', '-q', '-r', space/'requirements.txt', f'gradio=={card.sdk_version}')
    print(f'\nzerogpu venv (Python 3.10): created and installed in {time.time() - t0:.0f} s')
    r = check_space(space, python=str(venv/'bin'/'python'), uploads=False, timeout=240)
    assert r.ok and 'backend=torch' in r.startup and 'zerogpu=True' in r.startup, repr(r)   # `spaces` imported, outside a Space: CPU
