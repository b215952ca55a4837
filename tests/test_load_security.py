"""Loading a model folder runs no code it brings, and no preprocess.json field allocates unbounded memory or reaches the network (issue 23 holes 1, 2, 6).
Each attack writes a marker file if its code ran; the tests check that the marker is absent and the refusal names the reason."""
import io, json, os, subprocess, sys, zipfile
from pathlib import Path
import pytest
import torch
from companion.runtime import (Predictor, ModelFolderError, PREPROCESS_FILE, OLD_PREPROCESS_FILE, check_preprocess, read_preprocess,
                               check_program, build_model)

PREP = dict(vocab=['a', 'b'], mode='RGB', size=[8, 8], item=[dict(op='resize', size=[8, 8], method='squish', pad_mode='zeros')],
              batch=[dict(op='div', div=255.)])

class Marker:
    "A pickle that writes `path` when it is loaded."
    def __init__(self, path): self.path = str(path)
    def __reduce__(self): return (exec, (f"open({self.path!r}, 'w').write('code ran')",))

def _program(folder: Path) -> Path:
    "A plain torch.export archive of a tiny model, with its preprocess.json."
    folder.mkdir(parents=True, exist_ok=True)
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 2)).eval()
    torch.export.save(torch.export.export(m, (torch.zeros(1, 3, 8, 8),)), folder/'model.pt2')
    (folder/PREPROCESS_FILE).write_text(json.dumps(PREP))
    return folder

def _rewrite(pt2: Path, change):
    "Rewrite the archive `pt2`, passing each (name, bytes) through `change`."
    with zipfile.ZipFile(pt2) as z: items = [(n, z.read(n)) for n in z.namelist()]
    with zipfile.ZipFile(pt2, 'w') as z:
        for n, b in items: z.writestr(n, change(n, b))

def _pickled(obj) -> bytes:
    b = io.BytesIO(); torch.save(obj, b); return b.getvalue()

def test_plain_program_loads(tmp_path):
    p = Predictor.load(_program(tmp_path/'m'), backend='torch')
    assert p.predict(torch.zeros(8, 8, 3, dtype=torch.uint8).numpy())[0] in ('a', 'b')

def test_pt2_pickled_weight_is_refused(tmp_path):
    "Hole 1: a weight marked use_pickle runs its __reduce__ under torch.export.load; the archive is refused before that."
    m, marker = _program(tmp_path/'m'), tmp_path/'marker'
    def change(n, b):
        if n.endswith('model_weights_config.json'):
            cfg = json.loads(b); cfg['config']['0.weight']['use_pickle'] = True; return json.dumps(cfg).encode()
        return _pickled(Marker(marker)) if n.endswith('/data/weights/weight_0') else b
    _rewrite(m/'model.pt2', change)
    with pytest.raises(ModelFolderError, match="stored as a pickle.*backend='onnx'"): Predictor.load(m, backend='torch')
    assert not marker.exists()

def test_pt2_pickled_sample_inputs_are_refused(tmp_path):
    "torch.export.load retries sample inputs that fail a safe load with pickle: such an archive is refused too."
    m, marker = _program(tmp_path/'m'), tmp_path/'marker'
    _rewrite(m/'model.pt2', lambda n, b: _pickled((Marker(marker), {})) if '/data/sample_inputs/' in n else b)
    with pytest.raises(ModelFolderError, match='sample inputs are not plain tensors'): Predictor.load(m, backend='torch')
    assert not marker.exists()

def test_pt2_unknown_member_is_refused(tmp_path):
    "A compiled library or a legacy pickled weights file is not a plain tensor."
    m = _program(tmp_path/'m')
    with zipfile.ZipFile(m/'model.pt2', 'a') as z: z.writestr('m/data/aotinductor/model/model.so', b'\x7fELF')
    with pytest.raises(ModelFolderError, match='aotinductor'): check_program(m/'model.pt2')

def _arch_folder(m: Path, module: str) -> Path:
    "A model folder whose preprocess.json names `module` as its architecture, next to a package of that name that writes a marker."
    m.mkdir(parents=True)
    (m/PREPROCESS_FILE).write_text(json.dumps({**PREP, 'arch': dict(module=module, name='net', n_out=2, args=dict(n_in=3))}))
    (m/'model.safetensors').write_bytes(b'not read: the architecture comes first')
    return m

CODE = "from companion.runtime import Predictor\ntry: Predictor.load('.', backend='torch')\nexcept Exception as e: print(type(e).__name__, e)"

@pytest.mark.parametrize('module, words', [('companion_arch.evil', 'installed library'), ('companion_arch', "can't be imported"),
                                           ('torchvision.models', "can't be loaded into")])
def test_arch_from_working_directory_does_not_run(tmp_path, module, words):
    """Hole 2: `cd M && python -c "Predictor.load('.')"` runs no code from M: not M/companion_arch/evil.py (a namespace package),
    not M/companion_arch.py, not an M/torchvision/ that shadows the installed one."""
    m, marker = _arch_folder(tmp_path/'m', module), tmp_path/'marker'
    evil = f"open({str(marker)!r}, 'w').write('code ran')\ndef net(*a, **k): raise SystemExit\n"
    top = module.split('.')[0]
    if module == top: (m/f'{top}.py').write_text(evil)
    else: (m/top).mkdir(); (m/top/'__init__.py').write_text(evil); (m/top/f"{module.split('.')[1]}.py").write_text(evil)
    if top == 'torchvision':
        prep = json.loads((m/PREPROCESS_FILE).read_text()); prep['arch']['name'] = 'resnet18'; (m/PREPROCESS_FILE).write_text(json.dumps(prep))
    r = subprocess.run([sys.executable, '-c', CODE], cwd=m, capture_output=True, text=True, timeout=120,
                       env={**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': str(Path(__file__).parent.parent)})
    assert not marker.exists(), r.stdout + r.stderr
    assert words in r.stdout, r.stdout + r.stderr

@pytest.mark.parametrize('change, words', [
    (dict(div=0), 'div 0 is out of range'), (dict(div=1e-300), 'out of range'),
    (dict(batch=[dict(op='normalize', mean=[float('nan')]*3, std=[.2]*3)]), 'batch[0].mean[0] is nan'),
    (dict(batch=[dict(op='normalize', mean=[.5]*3, std=[float('inf')]*3)]), 'is inf'),
    (dict(mode='CMYK'), 'mode'), (dict(item=5), 'item must be a list'), (dict(extra=[[[[[[[[[1]]]]]]]]]), 'nested more than'),
    (dict(arch=dict(module='torchvision.models', name='resnet18', n_out=2, args=dict(weights='IMAGENET1K_V1'))), 'arch.args.weights'),
    (dict(arch=dict(module='torchvision.models', name='resnet18', n_out=2, args=dict(pretrained=True))), 'arch.args.pretrained'),
    (dict(mode='L', batch=[], arch=dict(module='torchvision.models', name='resnet18', n_out=2, args=dict(n_in=3))), 'n_in is 3'),
])
def test_damaged_preprocess_is_refused(change, words):
    "Hole 6: every damaged preprocess.json is refused at load with one sentence naming the field."
    prep = {**PREP, **change}
    if 'div' in change: prep = dict(vocab=['a', 'b'], div=change['div'], mean=[.5]*3, std=[.2]*3)   # format 1
    with pytest.raises(ModelFolderError) as e: check_preprocess(prep)
    assert words in str(e.value) and str(e.value).count('\n') == 0, str(e.value)

@pytest.mark.parametrize('name', [PREPROCESS_FILE, OLD_PREPROCESS_FILE])
def test_deep_preprocess_file_is_refused(tmp_path, name):
    "A preprocess.json (or the recipe.json of an older folder) nested 100000 deep is a RecursionError in json: refused with a sentence."
    (tmp_path/name).write_text('[' * 100_000 + ']' * 100_000)
    with pytest.raises(ModelFolderError, match=f'{name}: it is nested more than'): read_preprocess(tmp_path)

def test_huge_head_is_refused_before_allocating():
    "Hole 5/6: lin_ftrs=[60000, 60000] would allocate 14 GB at load; it is refused by the check, before any tensor."
    import resource
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    prep = {**PREP, 'arch': dict(module='torchvision.models', name='resnet18', n_out=2, args=dict(n_in=3, lin_ftrs=[60000, 60000]))}
    with pytest.raises(ModelFolderError, match='lin_ftrs'): build_model(prep)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000   # kB: nothing like 14 GB

def _greedy_onnx(fname: Path, mb_per_image: float):
    "An ONNX of a few hundred bytes that allocates `mb_per_image` MB per 16×16 image per call: ConstantOfShape([n, 3, 16k, 16]), summed."
    import numpy as np, onnx
    from onnx import helper as oh, numpy_helper as onh, TensorProto
    ints = lambda a, name: onh.from_array(np.array(a, np.int64), name)
    nodes = [oh.make_node('Shape', ['x'], ['s']), oh.make_node('Mul', ['s', 'k'], ['shape']),
             oh.make_node('ConstantOfShape', ['shape'], ['big'], value=onh.from_array(np.ones(1, np.float32))),
             oh.make_node('ReduceSum', ['big', 'axes'], ['sum'], keepdims=0), oh.make_node('Unsqueeze', ['sum', 'one'], ['col']),
             oh.make_node('Concat', ['col', 'col'], ['y'], axis=1)]
    k = int(mb_per_image*1e6/4/(3*16*16))
    g = oh.make_graph(nodes, 'greedy', [oh.make_tensor_value_info('x', TensorProto.FLOAT, ['n', 3, 'h', 'w'])],
                      [oh.make_tensor_value_info('y', TensorProto.FLOAT, ['n', 2])], [ints([1, 1, k, 1], 'k'), ints([1, 2, 3], 'axes'), ints([1], 'one')])
    onnx.save(oh.make_model(g, opset_imports=[oh.make_opsetid('', 17)]), fname)

GREEDY = """import numpy as np
from companion.runtime import Predictor, ModelMemoryError
img = np.zeros((16, 16, 3), np.uint8)
print('batch of 4:', len(Predictor.load({small!r}, backend='onnx').predict_batch([img]*4)))
try: Predictor.load({big!r}, backend='onnx').predict(img)
except ModelMemoryError as e: print('refused:', e)
import gradio as gr
from PIL import Image
from companion.app import classify_fn
Image.fromarray(img).save({png!r})
try: classify_fn(Predictor.load({big!r}, backend='onnx'))({png!r})
except gr.Error as e: print('the app says:', e.title)
print('peak MB', int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])/1024)   # not ru_maxrss: it starts at pytest's"""

def test_onnx_that_allocates_per_call_is_stopped_under_budget(tmp_path):
    """Hole 5: a 400-byte ONNX whose ConstantOfShape grows with its input ran to 5 GB; every ONNX call now takes its memory from one arena
    capped at MAX_MODEL_MEMORY: a 3 GB call is refused in a sentence, the process stays under MEMORY_BUDGET, and a batch over the cap
    (4 images of 150 MB) runs in halves; the app shows the refusal as an error titled 'Model out of memory'."""
    from companion.images import MEMORY_BUDGET, MAX_MODEL_MEMORY, mb_bytes
    small, big = tmp_path/'small', tmp_path/'big'
    for m, mb in ((small, 150), (big, 3000)):
        m.mkdir(); _greedy_onnx(m/'model.onnx', mb); (m/PREPROCESS_FILE).write_text(json.dumps({**PREP, 'size': [16, 16], 'item': []}))
    assert (big/'model.onnx').stat().st_size < 1000
    r = subprocess.run([sys.executable, '-c', GREEDY.format(small=str(small), big=str(big), png=str(tmp_path/'x.png'))], capture_output=True, text=True, timeout=120,
                       env={**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': str(Path(__file__).parent.parent)})
    print(r.stdout)
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'batch of 4: 4' in r.stdout
    assert f'asked for 3000.0 MB in one call, more than the {MAX_MODEL_MEMORY}' in r.stdout, r.stdout
    assert 'the app says: Model out of memory' in r.stdout, r.stdout
    assert float(r.stdout.split()[-1]) < mb_bytes(MEMORY_BUDGET)/2**20, r.stdout

def test_model_file_over_the_limit_is_refused_before_loading(tmp_path):
    "Hole 5: a 1 GB model.onnx peaked at 2 GB while loading; files over MAX_MODEL_FILE are refused from their size (a sparse file here)."
    from companion.images import MAX_MODEL_FILE
    m = tmp_path/'m'; m.mkdir(); (m/PREPROCESS_FILE).write_text(json.dumps(PREP))
    with open(m/'model.onnx', 'wb') as f: f.truncate(10**9)
    with pytest.raises(ModelFolderError, match=f'1000.0 MB, more than the {MAX_MODEL_FILE} a Space loads'): Predictor.load(m, backend='onnx')
