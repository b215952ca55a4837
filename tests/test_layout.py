"The notebooks' numbers are dependency order, except where the index says why."
import ast, json, re
from pathlib import Path

ROOT = Path(__file__).parent.parent

def notebook_of() -> dict:
    "Each library module's name -> the notebook it is exported from, read from the module's `# %% ../nbs/X.ipynb` lines."
    out = {}
    for f in (ROOT/'companion').rglob('*.py'):
        if m := re.search(r'# %% \.\./(?:\.\./)?nbs/(\w+)\.ipynb', f.read_text(encoding='utf-8')): out[f.stem] = m.group(1)
    return out

def uses(f: Path) -> set:
    "The companion modules `f` imports, at the top or inside a function (`from .x import`, `from companion.x import`, `import companion.x`)."
    names = set()
    for n in ast.walk(ast.parse(f.read_text(encoding='utf-8'))):
        if isinstance(n, ast.ImportFrom) and n.level and n.module: names.add(n.module.split('.')[-1])
        elif isinstance(n, ast.ImportFrom) and (n.module or '').startswith('companion.'): names.add(n.module.split('.')[-1])
        elif isinstance(n, ast.Import): names |= {a.name.split('.')[-1] for a in n.names if a.name.startswith('companion.')}
    return names

def later_uses() -> set:
    "(notebook, later notebook it uses) for every library module."
    nb = notebook_of()
    return {(nb[f.stem], nb[u]) for f in (ROOT/'companion').rglob('*.py') if f.stem in nb
            for u in uses(f) if u in nb and nb[u] > nb[f.stem]}

def listed() -> set:
    "The exceptions the index lists under 'Reading order and dependency order': `A` uses `B`, `C` and `D`: ..."
    src = ''.join(''.join(c['source']) for c in json.loads((ROOT/'nbs'/'index.ipynb').read_text())['cells'])
    section = src.split('### Reading order and dependency order')[1].split('\n#')[0]
    out = set()
    for line in re.findall(r'^- `(\w+)` uses (.*?):', section, re.M):
        out |= {(line[0], b) for b in re.findall(r'`(\w+)`', line[1])}
    return out

def test_the_check_reads_real_imports():
    nb = notebook_of()
    assert nb['deploy'] == '08e_deploy' and nb['sgd'] == '10_sgd' and len(nb) > 30
    assert {'clean', 'clean_gallery', 'clean_journal', 'cli'} <= uses(ROOT/'companion'/'clean_cli.py')
    assert ('01_data', '07_images') in later_uses()          # a lazy import inside a function counts

def test_notebook_order_is_dependency_order_or_explained():
    assert later_uses() == listed()
