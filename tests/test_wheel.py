"""The package as users get it: a wheel built from this tree, installed (not editable) into a fresh venv, builds and checks Spaces;
and a ZeroGPU Space's requirements installed into a fresh Python 3.10 venv, where check_space serves it."""
import os, shutil, subprocess, sys, time, zipfile
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
    assert (tmp_path/'model'/'recipe.json').is_file() and (tmp_path/'model'/'model.onnx').is_file()
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
