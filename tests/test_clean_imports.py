"A name one companion module uses from another is public: no module imports (or reads) an underscore name of another."
import ast
from imports import imports, modules, private

ours = lambda i: i.module.startswith('.') or i.module.split('.')[0] == 'companion'

def borrows(src: str) -> list:
    "Places in `src` that import a private name from a companion module, or read one from a companion module it imported."
    mine = [i for i in imports(src) if ours(i)]
    out = [f'line {i.line}: imports {a} from {i.module.lstrip(".") or "."}' for i in mine for a in i.names if private(a)]
    mods = {v for i in mine if i.plain or i.module in ('.', 'companion') for v in i.names.values()}   # import companion.x, from . import x
    for n in ast.walk(ast.parse(src)):
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
    found = {f.name: r for f in modules() if (r := borrows(f.read_text()))}
    assert not found, f'make these names public (a docstring, a clear name) or move the code to its one user: {found}'
