"One reader of Python imports for the tests that ask which module imports what (test_compat, test_clean_imports, test_layout)."
import ast
from pathlib import Path
from typing import Iterator, NamedTuple

PKG = Path(__file__).parent.parent/'companion'
private = lambda name: name.startswith('_') and not name.startswith('__')   # `_sha`, not `__version__`

class Import(NamedTuple):
    "One import: `from m import a, b` is one, `import a, b` is two (one per module)."
    module: str   # as written, a leading '.' per level of a relative import: 'fastai.learner', '.clean_files', '.'
    names: dict   # each name imported -> what the code calls it; for `import m as x` the name is the module: {'m': 'x'}
    line: int
    lazy: bool    # inside a function: imported when the function runs
    plain: bool   # `import m`, not `from m import ...`

def imports(src: str) -> Iterator[Import]:
    "Each import in `src`, at the top or inside a function or class, in the order written."
    def walk(node, lazy):
        for n in ast.iter_child_nodes(node):
            if isinstance(n, ast.Import):
                for a in n.names: yield Import(a.name, {a.name: a.asname or a.name}, n.lineno, lazy, True)
            elif isinstance(n, ast.ImportFrom):
                yield Import('.'*n.level + (n.module or ''), {a.name: a.asname or a.name for a in n.names}, n.lineno, lazy, False)
            yield from walk(n, lazy or isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
    return walk(ast.parse(src), False)

def modules() -> list:
    "The library's module files, less the generated index `_modidx.py`."
    return [f for f in sorted(PKG.rglob('*.py')) if f.name != '_modidx.py']
