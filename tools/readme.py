"Write README.md from nbs/index.ipynb (its markdown cells, in order): `python tools/readme.py`; `--check` exits 1 when README.md differs."
import json, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
cells = json.loads((root/'nbs'/'index.ipynb').read_text())['cells']
text = '\n\n'.join(''.join(c['source']).strip() for c in cells if c['cell_type'] == 'markdown') + '\n'
readme = root/'README.md'
if '--check' in sys.argv:
    if readme.read_text() != text: sys.exit('README.md is not what nbs/index.ipynb makes: run `python tools/readme.py` and commit the result')
else: readme.write_text(text)
