"""Serve a model exported by companion with its Gradio app: `python apps/classifier/app.py --model DIR [--examples DIR]`.

The app itself ships inside the package as `companion/app.py` (source: nbs/08a_app.ipynb); `companion space build` copies it
into a Space folder as `app.py`. This file only launches it from a clone of the repository.
"""
import sys
from companion.app import main

if __name__ == '__main__': sys.exit(main())
