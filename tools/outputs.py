"""Run lesson notebooks in a Jupyter kernel and keep their outputs, so each lesson shows its point on GitHub without running it.
Usage: python tools/outputs.py nbs/10_sgd.ipynb ...   (then nbdev_clean; `make lesson-outputs` does both)"""
import os, sys, time
from pathlib import Path
import nbformat
from nbclient import NotebookClient

# fastai's import makes torch warn that torch.jit.script is deprecated: noise in a lesson, left out of the outputs as companion.env leaves it out of a session
os.environ['PYTHONWARNINGS'] = 'ignore::FutureWarning:torch.jit._script'

for fn in map(Path, sys.argv[1:]):
    t = time.time()
    nb = nbformat.read(fn, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name='python3', resources={'metadata': {'path': str(fn.parent)}}).execute()
    nbformat.write(nb, fn)
    print(f'{fn}: {sum(len(c.get("outputs", [])) for c in nb.cells if c.cell_type == "code")} outputs in {time.time()-t:.0f} s')
