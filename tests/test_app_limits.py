"""The app bounds its work whatever the input: data: URLs (which skip the server's upload limit) are size-checked before decoding and their
pixels before decoding the image; a huge picture for a model with no Resize never reaches the model whole. Memory is read from /proc (VmHWM)."""
import base64, io, json, os, time
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from test_deploy import train_export

MB = 2**20

def peak_rss(pid) -> int:
    "The peak resident memory (VmHWM) of process `pid`, in bytes."
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmHWM:'): return int(line.split()[1])*1024
    raise RuntimeError('no VmHWM')

def png_bytes(w, h, mode='L') -> bytes:
    buf = io.BytesIO(); Image.new(mode, (w, h)).save(buf, 'PNG', optimize=True); return buf.getvalue()

@pytest.fixture(scope='module')
def server(digits_path, tmp_path_factory):
    "A CPU Space for a digits model trained without Resize (its preprocessing fixes no size), served on 127.0.0.1."
    from companion.deploy import build_space
    from companion.spacecheck import AppServer
    d = tmp_path_factory.mktemp('limits')
    space = build_space(train_export(digits_path, d/'model'), d/'space', examples=digits_path/'valid', target='cpu')
    with AppServer(space, timeout=120) as srv: yield srv

def call(srv, arg):
    "One request through Gradio's REST API: ('complete', data) or ('error', message), and the seconds it took."
    import httpx
    t = time.perf_counter()
    with httpx.Client(base_url=srv.url.rstrip('/') + '/gradio_api', timeout=120) as http:
        r = http.post('/call/predict', json={'data': [arg]}); r.raise_for_status()
        event = None
        with http.stream('GET', f'/call/predict/{r.json()["event_id"]}') as s:
            for line in s.iter_lines():
                if line.startswith('event:'): event = line[6:].strip()
                elif line.startswith('data:') and event in ('complete', 'error'): return event, line[5:].strip(), time.perf_counter() - t
    raise AssertionError(f'no result (last event {event})')

def upload(srv, data: bytes, name='x.png') -> dict:
    import httpx
    r = httpx.post(srv.url.rstrip('/') + '/gradio_api/upload', files={'files': (name, data, 'image/png')}, timeout=60); r.raise_for_status()
    return {'path': r.json()[0], 'meta': {'_type': 'gradio.FileData'}}

def data_url(data: bytes) -> dict:
    return {'url': 'data:image/png;base64,' + base64.b64encode(data).decode(), 'meta': {'_type': 'gradio.FileData'}}

def test_data_url_bomb_is_refused_before_decoding(server, digits_path):
    good = sorted((digits_path/'valid'/'3').glob('*.png'))[0].read_bytes()
    event, out, _ = call(server, data_url(good))
    assert event == 'complete' and json.loads(out)[0]['label'] in [str(i) for i in range(10)]   # a good data: URL still works
    before = peak_rss(server.proc.pid)
    bomb = png_bytes(13_300, 13_300)                        # 177 megapixels in a ~60 kB file
    event, out, _ = call(server, data_url(bomb))
    assert event == 'error' and 'Too many pixels' in out, out
    assert peak_rss(server.proc.pid) - before < 100*MB      # decoded whole, the L image alone would take 169 MB
    event, out, _ = call(server, data_url(os.urandom(11_000_000)))
    assert event == 'error' and 'File too large' in out, out
    assert peak_rss(server.proc.pid) - before < 100*MB
    assert 'Traceback' not in server.log

def test_huge_picture_for_a_model_without_resize(server):
    "A 39 kB PNG of 6300×6300 pixels (under the 40-megapixel limit): answered in seconds, the model sees at most 4× its training size."
    before = peak_rss(server.proc.pid)
    event, out, secs = call(server, upload(server, png_bytes(6300, 6300)))
    assert event == 'complete', out
    assert secs < 10, secs
    grown = peak_rss(server.proc.pid) - before
    print(f'6300x6300 upload: {secs:.1f} s, peak RSS grew {grown/MB:.0f} MB')
    assert grown < 400*MB, grown/MB                          # the RGB image itself is 119 MB; the model's input is 112x112

def test_request_body_is_cut_off_while_streaming(server):
    "A 60 MB data: URL (Gradio's upload limit doesn't see it) is refused from its Content-Length, before the server holds it."
    import httpx
    before = peak_rss(server.proc.pid)
    body = b'{"data": [{"url": "data:image/png;base64,' + b'A'*60_000_000 + b'", "meta": {"_type": "gradio.FileData"}}]}'
    r = httpx.post(server.url.rstrip('/') + '/gradio_api/call/predict', content=body, headers={'content-type': 'application/json'}, timeout=60)
    assert r.status_code == 413 and 'File too large' in r.text, (r.status_code, r.text[:200])
    assert peak_rss(server.proc.pid) - before < 30*MB

def _ico_over(png: bytes) -> bytes:
    "An icon whose directory says 16×16 while its one picture is the PNG `png`."
    import struct
    return struct.pack('<HHH', 0, 1, 1) + struct.pack('<BBBBHHII', 16, 16, 0, 0, 1, 32, len(png), 22) + png

def _grown_mb(code: str) -> float:
    "MB the peak RSS of a fresh Python grows by while running `code` after importing companion.images."
    import subprocess, sys
    # VmHWM, not ru_maxrss: Linux starts a child's ru_maxrss at its parent's RSS, and pytest's can be over 1 GB
    hwm = "int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])"
    prog = f"import companion.images as ci\nr0 = {hwm}\n" + code + f"\nprint(({hwm} - r0)/1024)"
    r = subprocess.run([sys.executable, '-c', prog], capture_output=True, text=True, timeout=120, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert r.returncode == 0, r.stderr
    return float(r.stdout.split()[-1])

def test_icon_over_a_huge_png_is_refused_from_its_header(tmp_path):
    "Hole 5: Pillow decodes an icon's picture at open; a 13000×13000 PNG in a 16×16 icon is refused before that."
    f = tmp_path/'bomb.ico'; f.write_bytes(_ico_over(png_bytes(13_000, 13_000)))
    grown = _grown_mb(f"try: ci.load_image({str(f)!r}); raise SystemExit('decoded')\n"
                        "except ci.ImageError as e: assert e.title == 'Too many pixels' and '13000×13000' in str(e), e")
    print(f'icon over a 13000² PNG: peak RSS grew {grown:.0f} MB')
    assert grown < 50, grown                                  # decoded, it takes 169 MB

@pytest.mark.parametrize('mode', ['I;16', 'F'])
def test_legal_high_bit_upload_converts_in_bounded_memory(tmp_path, mode):
    "Hole 5: a legal 6300² 16-bit or float TIFF is brought to 8 bits a band at a time (it took 1.15-1.33 GB as float64 copies)."
    f = tmp_path/'big.tif'
    a = np.zeros((6300, 6300), np.uint16 if mode == 'I;16' else np.float32); a[::7] = 1000
    Image.fromarray(a).save(f, compression='tiff_adobe_deflate'); del a
    grown = _grown_mb(f"im, note = ci.load_image({str(f)!r}); assert im.size == (6300, 6300) and '8 bits' in note, note")
    print(f'{mode} 6300² TIFF: peak RSS grew {grown:.0f} MB')
    assert grown < (300 if mode == 'I;16' else 420), grown   # the image itself (79 or 159 MB) and its RGB copy (119 MB)

def _gif(frames: list, screen=(16, 16)) -> bytes:
    "A GIF whose first frame is a real 16×16 picture, followed by `frames` as (x, y, w, h) descriptors over a few bytes of data."
    import struct
    b = io.BytesIO(); Image.new('L', screen, 200).save(b, 'GIF'); g = b.getvalue()
    return g[:-1] + b''.join(b',' + struct.pack('<HHHHB', *f, 0) + bytes([8, 2, 0, 1, 0]) for f in frames) + b';'

def _tiff(sizes: list) -> bytes:
    "A little-endian TIFF with one uncompressed 8-bit page per (w, h) in `sizes`, each backed by 16 bytes of pixels whatever its size."
    import struct
    out, ifds = bytearray(b'II*\0\0\0\0\0'), []
    for w, h in sizes:
        strip = len(out); out += bytes(range(16))
        tags = [(256, 4, w), (257, 4, h), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, strip), (277, 3, 1), (278, 4, h), (279, 4, 16)]
        ifds.append((len(out), tags)); out += bytes(2 + 12*len(tags) + 4)
    for i, (at, tags) in enumerate(ifds):
        nxt = ifds[i+1][0] if i+1 < len(ifds) else 0
        out[at:at+2+12*len(tags)+4] = (struct.pack('<H', len(tags)) + b''.join(struct.pack('<HHII', t, k, 1, v) for t, k, v in tags)
                                       + struct.pack('<I', nxt))
    out[4:8] = struct.pack('<I', ifds[0][0])
    return bytes(out)

HUGE_FIRST = {'gif_frame_over_screen': lambda: _gif_frame_over_screen(), 'tiff_first_page': lambda: _tiff([(20_000, 20_000)])}

@pytest.mark.parametrize('kind', list(HUGE_FIRST))
def test_gif_and_tiff_sizes_read_from_the_header(tmp_path, kind):
    "Hole 5: a GIF whose first frame is 12000×12000 on a 16×16 screen, or a 20000² TIFF page, is refused from its header, before decoding."
    from companion.images import header_size
    f = tmp_path/'bomb'; f.write_bytes(HUGE_FIRST[kind]())
    assert f.stat().st_size < 1000
    with open(f, 'rb') as o: assert header_size(o)[0] >= 12_000
    grown = _grown_mb(f"try: ci.load_image({str(f)!r}); raise SystemExit('decoded')\nexcept ci.ImageError as e: assert e.title == 'Too many pixels', e")
    print(f'{kind}: peak RSS grew {grown:.0f} MB')
    assert grown < 30, grown   # decoded, it takes 144 or 400 MB

def _gif_frame_over_screen() -> bytes:
    "A 16×16 GIF whose first (only) frame descriptor says 12000×12000."
    g = _gif([])
    i = g.index(b',\0\0\0\0\x10\0\x10\0')
    return g[:i+5] + (12_000).to_bytes(2, 'little')*2 + g[i+9:]

HUGE_LATER = {'gif': lambda: _gif([(0, 0, 12_000, 12_000), (0, 0, 60_000, 60_000)]),
              'tiff': lambda: _tiff([(16, 16), (60_000, 60_000), (20_000, 20_000)])}

@pytest.mark.parametrize('kind', list(HUGE_LATER))
def test_frames_and_pages_beyond_the_first_are_never_decoded(tmp_path, kind):
    "An animated GIF or multi-page TIFF is predicted on its first frame: huge later frames or pages cost nothing."
    f = tmp_path/'many'; f.write_bytes(HUGE_LATER[kind]())
    grown = _grown_mb(f"im, note = ci.load_image({str(f)!r}); assert im.size == (16, 16) and 'first of its 3 frames' in note, note")
    print(f'{kind} with huge later frames: peak RSS grew {grown:.0f} MB')
    assert grown < 30, grown
