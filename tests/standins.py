"Stand-in folders shaped like the students' own data, made from scikit-learn's handwritten digits: unsplit label folders with every image size, and pets-style flat folders with the label in the file name."
from pathlib import Path
import numpy as np
from PIL import Image

NAMES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine']

def _digit_images(n_per_class: int, classes, seed: int):
    "(label index, PIL image) pairs: each 8x8 digit scaled to a random size and aspect, some in colour, some inverted to dark on light."
    from sklearn.datasets import load_digits
    d = load_digits()
    rng = np.random.default_rng(seed)
    for c in classes:
        idx = rng.permutation(np.flatnonzero(d.target == c))[:n_per_class]
        for i in idx:
            a = (d.images[i]*(255/16)).astype(np.uint8)
            w, h = int(rng.integers(20, 96)), int(rng.integers(20, 96))
            im = Image.fromarray(a).resize((w, h), Image.BILINEAR)
            if rng.random() < 0.3:   # a tinted photo-like picture
                tint = rng.integers(120, 256, 3)
                im = Image.fromarray((np.asarray(im)[..., None]*tint/255).astype(np.uint8))
            yield c, im

def unsplit_folder(dest, n_per_class: int=30, classes=range(10), seed: int=0) -> Path:
    "An image search saved as `dest/<label>/NNN.{png,jpg}`: no train/valid split, every image size, PNG and JPEG mixed."
    dest = Path(dest)
    for k, (c, im) in enumerate(_digit_images(n_per_class, classes, seed)):
        (dest/NAMES[c]).mkdir(parents=True, exist_ok=True)
        ext = 'jpg' if k % 3 == 0 else 'png'
        im.convert('RGB').save(dest/NAMES[c]/f'{k:04d}.{ext}')
    return dest

def names_folder(dest, n_per_class: int=30, classes=range(10), seed: int=1) -> Path:
    "A pets-style flat folder: `dest/<label>_<n>.png`, the label in the file name; labels of odd digits start with a capital (like the pets' cats)."
    dest = Path(dest); dest.mkdir(parents=True, exist_ok=True)
    for k, (c, im) in enumerate(_digit_images(n_per_class, classes, seed)):
        name = NAMES[c].capitalize() if c % 2 else NAMES[c]
        im.convert('RGB').save(dest/f'{name}_{k}.png')
    return dest
