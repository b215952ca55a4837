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

def photo_uploads(dest, img) -> dict:
    "What a student uploads, made from the picture `img`: a 4000×3000 JPEG, a portrait phone photo stored sideways with EXIF orientation 6, a PNG with alpha, a 16-bit PNG, a WEBP, a 20×20 icon and a 1×1000 strip; {kind: path}."
    dest = Path(dest); dest.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    im = img.convert('RGB')
    def photo(w, h):   # the picture on a noisy background, as a camera sees it
        bg = Image.fromarray(rng.integers(40, 90, (max(1, h//8), max(1, w//8), 3), dtype=np.uint8)).resize((w, h), Image.BICUBIC)
        s = max(1, min(w, h)*9//10)
        bg.paste(im.resize((s, s), Image.BICUBIC), ((w-s)//2, (h-s)//2))
        return bg
    p = {}
    photo(4000, 3000).save(p.setdefault('photo_4000x3000', dest/'photo_4000x3000.jpg'), quality=90)
    exif = Image.Exif(); exif[0x0112] = 6   # "rotate 90° clockwise to show": the phone stored the portrait photo sideways
    photo(900, 1200).rotate(90, expand=True).save(p.setdefault('portrait_exif6', dest/'portrait_exif6.jpg'), quality=90, exif=exif)
    rgba = photo(300, 240).convert('RGBA'); rgba.putalpha(Image.linear_gradient('L').resize((300, 240)))
    rgba.save(p.setdefault('alpha', dest/'alpha.png'))
    g = np.asarray(photo(200, 160).convert('L'), np.uint16)*257 + rng.integers(0, 200, (160, 200)).astype(np.uint16)
    Image.fromarray(g).save(p.setdefault('png16', dest/'png16.png'))
    photo(500, 400).save(p.setdefault('webp', dest/'photo.webp'), quality=80)
    photo(20, 20).save(p.setdefault('icon', dest/'icon_20.png'))
    photo(1, 1000).save(p.setdefault('strip', dest/'strip_1x1000.png'))
    return p

def real_folder(dest, n_per_class: int=8, classes=range(3), seed: int=0) -> Path:
    """A student's real folder (an image search per label): besides the pictures, a 0-byte .png and .jpg, an HTML page saved as .jpg, a JPEG cut
    off halfway, Jupyter's `.ipynb_checkpoints/` with a copy, a CMYK JPEG, a WEBP, an uppercase .JPG and a phone photo stored sideways (EXIF 6)."""
    d = unsplit_folder(dest, n_per_class=n_per_class, classes=classes, seed=seed)
    a, b = sorted(p for p in d.iterdir() if p.is_dir())[:2]
    pic = Image.open(sorted(a.glob('*.png'))[0]).convert('RGB').resize((60, 40))
    (a/'empty.png').write_bytes(b''); (b/'empty.jpg').write_bytes(b'')
    (a/'search.jpg').write_text('<!doctype html><html><body>403 Forbidden</body></html>')
    pic.save(b/'cut.jpg', quality=90); raw = (b/'cut.jpg').read_bytes(); (b/'cut.jpg').write_bytes(raw[:len(raw)//2])
    (a/'.ipynb_checkpoints').mkdir(); pic.save(a/'.ipynb_checkpoints'/'0001-checkpoint.png')
    pic.convert('CMYK').save(a/'cmyk.jpg'); pic.save(b/'photo.webp'); pic.save(b/'UPPER.JPG')
    exif = Image.Exif(); exif[0x0112] = 6; pic.rotate(90, expand=True).save(a/'phone.jpg', exif=exif)
    return d
