"A name one companion module uses from another is public: no module imports (or reads) an underscore name of another."
import ast
from pathlib import Path

PKG = Path(__file__).parent.parent/'companion'
private = lambda s: s.startswith('_') and not s.startswith('__')
ours = lambda n: n.level > 0 or (n.module or '').split('.')[0] == 'companion'

def borrows(src: str) -> list:
    "Places in `src` that import a private name from a companion module, or read one from a companion module it imported."
    tree, out, mods = ast.parse(src), [], set()
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and ours(n):
            out += [f'line {n.lineno}: imports {a.name} from {n.module or "."}' for a in n.names if private(a.name)]
            if not n.module or n.module == 'companion': mods |= {a.asname or a.name for a in n.names}   # from . import x
        elif isinstance(n, ast.Import):
            mods |= {a.asname or a.name for a in n.names if a.name.split('.')[0] == 'companion'}
    for n in ast.walk(tree):
        if isinstance(n, ast.Attribute) and private(n.attr) and ast.unparse(n.value) in mods:
            out.append(f'line {n.lineno}: reads {ast.unparse(n)}')
    return out

def test_the_check_sees_each_kind_of_borrowing():
    assert borrows('from .clean_files import _sha')
    assert borrows('from companion.clean_files import write_atomic, _free')
    assert borrows('from . import clean_files\nclean_files._move')
    assert borrows('import companion.clean_files as cf\ncf._free')
    assert not borrows('from .clean_files import write_atomic\nfrom os import _exit\nx._y\nfrom . import __version__')

def test_no_module_borrows_a_private_name():
    found = {f.name: r for f in sorted(PKG.rglob('*.py')) if f.name != '_modidx.py' if (r := borrows(f.read_text()))}
    assert not found, f'make these names public (a docstring, a clear name) or move the code to its one user: {found}'
