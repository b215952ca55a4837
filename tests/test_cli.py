"The first wrong command and the terminal: a mistyped command, option or path fails at once in one line and writes nothing; output fits the terminal."
import os, pty, re, struct, fcntl, termios, subprocess, time
from pathlib import Path
import pytest
from conftest import run_cli, COMPANION

def _timed(*args, cwd):
    t = time.time(); r = run_cli(*args, cwd=cwd); return r, time.time() - t

@pytest.mark.parametrize('argv', [('lesson2', 'nosuchfolder'), ('train', 'nosuchfolder'), ('predict', 'model', 'nosuch.png')])
def test_wrong_path_fails_fast_once_and_writes_nothing(tmp_path, argv):
    "A folder or image that isn't there: exit 1 in under a second (no fastai import, no doctor), one line `companion CMD: ...`, no --out folder."
    (tmp_path/'model').mkdir()                                  # predict: the model folder is there, the image is not
    r, secs = _timed(*argv, cwd=tmp_path)
    assert r.returncode == 1 and r.stdout == '', (r.returncode, r.stdout)
    assert r.stderr.startswith(f'companion {argv[0]}: ') and r.stderr.count('\n') == 1 and 'nosuch' in r.stderr, r.stderr
    assert secs < 1, f'{argv}: {secs:.2f} s'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['model']   # nothing written

def test_mistyped_command_and_option_say_the_closest():
    r = run_cli('lesson22')
    assert r.returncode == 2 and r.stderr.startswith("companion: unknown command 'lesson22' (did you mean lesson2?)") and r.stderr.count('\n') == 1, r.stderr
    r = run_cli('train', '--epoch', '3', 'nosuchfolder')         # argparse would take --epoch for --epochs
    assert r.returncode == 2 and r.stderr.startswith('companion train: unknown option --epoch (did you mean --epochs?)') and r.stderr.count('\n') == 1, r.stderr
    r = run_cli('lesson2', '--apply-sugested')
    assert r.returncode == 2 and '(did you mean --apply_suggested?)' in r.stderr, r.stderr
    r = run_cli('clean', 'lst', '.')
    assert r.returncode == 2 and r.stderr.startswith('companion clean: ') and '(did you mean list?)' in r.stderr and r.stderr.count('\n') == 1, r.stderr

def test_closed_pipe_is_silent(tmp_path):
    "`companion clean list ROOT | head`: the reader has gone before the command writes, and nothing is said about it."
    p = subprocess.Popen([COMPANION, 'clean', 'list', str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    p.stdout.close()
    err = p.stderr.read(); p.wait()
    assert err == '' and p.returncode == 141, (p.returncode, err)

def _in_terminal(argv, cols: int=100, cwd=None) -> str:
    "What `argv` shows in a terminal `cols` wide (a pseudo-terminal, so the command sees a tty and its width)."
    m, s = pty.openpty()
    fcntl.ioctl(s, termios.TIOCSWINSZ, struct.pack('HHHH', 50, cols, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ('COLUMNS', 'LINES')}
    p = subprocess.Popen(argv, stdin=s, stdout=s, stderr=s, env=env, cwd=cwd); os.close(s)
    out = b''
    while True:
        try: b = os.read(m, 4096)
        except OSError: break                                    # the command has ended and closed the terminal
        if not b: break
        out += b
    p.wait(); os.close(m)
    return out.decode().replace('\r\n', '\n')

def test_terminal_lines_wrap_at_words(tmp_path):
    "A line longer than a 100-column terminal is broken at a space, never inside a word, and loses no word."
    root = tmp_path/('a_long_folder_name_that_makes_the_line_long'*2)
    root.mkdir()
    piped = run_cli('clean', 'list', root).stdout.strip()        # to a pipe: one line, as it is
    assert len(piped) > 100 and '\n' not in piped
    shown = _in_terminal([COMPANION, 'clean', 'list', str(root)]).strip().split('\n')
    assert len(shown) > 1 and all(len(l) <= 100 for l in shown if ' ' in l.strip()), shown   # a path longer than the terminal is a word of its own
    assert ' '.join(l.strip() for l in shown) == piped, shown

def test_messages_name_commands_not_python_calls(tmp_path):
    "A terminal user is told the command to run, not a Python call: `companion space build`, `companion clean undo ROOT`."
    r = run_cli('space', 'check', tmp_path)
    assert r.returncode == 1 and r.stderr.count('\n') == 1 and f'`companion space build MODEL_DIR {tmp_path}`' in r.stderr and 'build_space(' not in r.stderr, r.stderr
    root = tmp_path/'data'; (root/'3').mkdir(parents=True); (root/'3'/'a.png').write_bytes(b'x')
    assert run_cli('clean', 'mark', root, root/'3'/'a.png', '--delete').returncode == 0
    assert run_cli('clean', 'apply', root).returncode == 0
    r = run_cli('clean', 'mark', root, '3/a.png', '--keep')        # moved by the apply
    assert r.returncode == 1 and f'`companion clean undo {root}` brings it back' in r.stderr and 'undo()' not in r.stderr, r.stderr

HIDE = "import sys\nfor m in sys.argv[1].split(','): sys.modules[m] = None   # as if not installed: import raises ModuleNotFoundError\nfrom companion.cli import main\nsys.exit(main(sys.argv[2:]))"

@pytest.mark.parametrize('extra, modules, argv', [
    ('deploy', 'gradio,gradio_client,huggingface_hub,onnx,onnxruntime', ('space', 'build', 'model', 'space')),
    ('distrib', 'accelerate', ('train', 'DATA', '--nproc', '2', '--out', 'run'))])
def test_missing_extra_named_in_one_line(extra, modules, argv, tmp_path, digits37_path):
    "A command that needs an extra which is not installed: exit 1 and one stderr line naming the extra to install, before any process starts."
    import sys
    argv = [str(digits37_path) if a == 'DATA' else a for a in argv]
    r = subprocess.run([sys.executable, '-c', HIDE, modules, *argv], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert (r.returncode, r.stderr) == (1, f'companion {argv[0]}: needs the {extra} extra: pip install "companion[{extra}]"\n'), r

def test_a_switch_on_by_default_reads_the_right_way_round():
    "`--no-x` turns off what the docment describes, and its help says so (not the docment alone, which reads backwards)."
    from companion.cli import parser_for
    def f(exist_ok: bool=True, # upload into the Space when it exists already
          dry_run: bool=False): # push nothing
        "A command."
    h = parser_for(f, 'companion f').format_help()
    assert '--no-exist_ok' in h and 'by default: upload into the Space when it exists already; --no-exist_ok turns it off' in ' '.join(h.split())
    assert parser_for(f).parse_args(['--no-exist_ok']).exist_ok is False and parser_for(f).parse_args([]).exist_ok is True
