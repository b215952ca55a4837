"fastai's internals are named in one module, companion/compat.py; everywhere else companion only adds to fastai, never replaces."
import ast, json, subprocess, sys
from imports import PKG, imports, modules, private

def reaches(src: str) -> list:
    "Places in `src` that import a private fastai name, read a private attribute of a fastai object, or assign to an attribute of one."
    fastai = [i for i in imports(src) if i.module.startswith('fastai')]
    fa = {v.split('.')[0] for i in fastai for v in i.names.values() if v != '*'}   # `import fastai.x as fd`, `from fastai.x import Learner`
    out = [f'line {i.line}: imports {a} from {i.module}' for i in fastai for a in i.names if private(a)]
    for n in ast.walk(ast.parse(src)):
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in fa:
            if private(n.attr): out.append(f'line {n.lineno}: reads {n.value.id}.{n.attr}')
            if isinstance(n.ctx, ast.Store): out.append(f'line {n.lineno}: assigns {n.value.id}.{n.attr}')
    return out

def test_the_check_sees_each_kind_of_reach():
    "The checker itself: each way of reaching into fastai is caught, and the ordinary uses are not."
    assert reaches('from fastai.callback.core import _events')
    assert reaches('import fastai.distributed as fd\nfd.setup_distrib = print')
    assert reaches('from fastai.learner import Learner\nLearner._call_one')
    assert reaches('from fastai.learner import Learner\nLearner.no_bar = None')
    assert not reaches('from fastai.learner import Learner\nlearn = Learner\nlearn.fit\nx._y = 1\nfrom fastai.basics import *')

def test_only_compat_reaches_into_fastai():
    found = {f.name: r for f in modules() if f.name != 'compat.py' and (r := reaches(f.read_text(encoding='utf-8')))}
    assert found == {}, found
    assert reaches((PKG/'compat.py').read_text(encoding='utf-8'))   # compat does reach: the check reads real code

SNAPSHOT = r'''
import json, sys, inspect, importlib, pkgutil
import fastai.vision.all, fastai.callback.progress, fastai.tabular.all, fastai.distributed
mods = {n: m for n, m in sys.modules.items() if n.startswith('fastai') and m is not None}
def snap():
    s = {}
    for n, m in list(mods.items()):
        for k, v in list(vars(m).items()):
            s[f'{n}.{k}'] = id(v)
            if inspect.isclass(v) and v.__module__ == n:
                for a, w in list(vars(v).items()): s[f'{n}.{k}.{a}'] = id(w)
    return s
before = snap()
import companion.all
from companion.distrib import fastai_distributed
after = snap()
print(json.dumps(sorted(k for k in before if after.get(k) != before[k])))
'''

def test_importing_companion_replaces_nothing_of_fastais():
    "After `from companion.all import *`, every attribute fastai's modules and classes had is the same object: companion only adds (`@patch`)."
    r = subprocess.run([sys.executable, '-c', SNAPSHOT], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    changed = json.loads(r.stdout.strip().splitlines()[-1])
    assert changed == [], changed
