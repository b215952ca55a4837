"The notebooks' numbers are dependency order, except where the index says why."
import json, re
from pathlib import Path
from imports import PKG, imports, modules

def notebook_of() -> dict:
    "Each library module's name -> the notebook it is exported from, read from the module's `# %% ../nbs/X.ipynb` lines."
    out = {}
    for f in modules():
        if m := re.search(r'# %% \.\./(?:\.\./)?nbs/(\w+)\.ipynb', f.read_text(encoding='utf-8')): out[f.stem] = m.group(1)
    return out

def uses(f: Path) -> set:
    "The companion modules `f` imports, at the top or inside a function (`from .x import`, `from companion.x import`, `import companion.x`)."
    return {i.module.split('.')[-1] for i in imports(f.read_text(encoding='utf-8')) if re.match(r'(\.+|companion\.)\w', i.module)}

def later_uses() -> set:
    "(notebook, later notebook it uses) for every library module."
    nb = notebook_of()
    return {(nb[f.stem], nb[u]) for f in modules() if f.stem in nb
            for u in uses(f) if u in nb and nb[u] > nb[f.stem]}

def listed() -> set:
    "The exceptions the index lists under 'Reading order and dependency order': `A` uses `B`, `C` and `D`: ..."
    src = ''.join(''.join(c['source']) for c in json.loads((PKG.parent/'nbs'/'index.ipynb').read_text())['cells'])
    section = src.split('### Reading order and dependency order')[1].split('\n#')[0]
    out = set()
    for line in re.findall(r'^- `(\w+)` uses (.*?):', section, re.M):
        out |= {(line[0], b) for b in re.findall(r'`(\w+)`', line[1])}
    return out

def test_the_check_reads_real_imports():
    nb = notebook_of()
    assert nb['deploy'] == '08e_deploy' and nb['sgd'] == '10_sgd' and len(nb) > 30
    assert {'clean', 'clean_gallery', 'clean_journal', 'cli'} <= uses(PKG/'clean_cli.py')
    assert ('01_data', '07_images') in later_uses()          # a lazy import inside a function counts
    assert {i.lazy for i in imports((PKG/'data.py').read_text()) if i.module == 'companion.images'} == {True}   # read as lazy

def test_notebook_order_is_dependency_order_or_explained():
    assert later_uses() == listed()
