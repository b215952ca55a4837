"""Write README.md from nbs/index.ipynb: `python tools/readme.py`; `--check` exits 1 when README.md differs.
The README is the index's markdown cells, in order, and the Markdown each hidden code cell (`#| echo: false`) shows,
computed now from the library (e.g. `hosting_table()`), so facts kept in code reach the README from their one place."""
import ast, json, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent

def shown(src: str) -> str:
    "The Markdown the last expression of the cell `src` shows."
    tree, env = ast.parse(src), {}
    last = tree.body.pop()
    exec(compile(tree, 'index.ipynb', 'exec'), env)
    res = eval(compile(ast.Expression(last.value), 'index.ipynb', 'eval'), env)
    return res._repr_markdown_() if hasattr(res, '_repr_markdown_') else str(res)

def readme() -> str:
    parts = []
    for c in json.loads((root/'nbs'/'index.ipynb').read_text())['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'markdown': parts.append(src.strip())
        elif '#| echo: false' in src: parts.append(shown(src).strip())
    return '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    sys.path.insert(0, str(root))
    text, out = readme(), root/'README.md'
    if '--check' not in sys.argv: out.write_text(text)
    elif out.read_text() != text:
        sys.exit('README.md is not what nbs/index.ipynb makes: run `python tools/readme.py` and commit the result')
