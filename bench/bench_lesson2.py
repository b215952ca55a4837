"""Benchmark: the lesson-2 journey on the built-in digits with the demo's settings (`companion lesson2 --apply_suggested`),
then the same command again, which finds every step done and skips it. Prints the seconds of each run and of each step.
Run: .venv/bin/python bench/bench_lesson2.py [OUT]   (default: a fresh temporary folder)"""
import sys, json, time, tempfile, subprocess
from pathlib import Path
from companion.lesson2 import Steps

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())/'l2'
cmd = [str(Path(sys.executable).parent/'companion'), 'lesson2', '--out', str(out), '--apply_suggested']

def timed() -> float:
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode: sys.exit(f'companion lesson2 failed ({r.returncode}):\n{r.stderr[-3000:]}')
    return time.perf_counter() - t

first = timed()
steps = {k: v['secs'] for k,v in json.loads((out/Steps.fname).read_text()).items()}
again = timed()
print(f'first run: {first:6.1f} s   ' + '  '.join(f'{k} {v:.0f} s' for k,v in steps.items()))
print(f'resumed:   {again:6.1f} s   (every step skipped; the command itself, Python and imports included)')
