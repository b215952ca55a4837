"Phase announcements and event traces on real fits of the digits: to a log file, in a terminal, in a Jupyter kernel."
import json, os, re, subprocess, sys, textwrap
from pathlib import Path
import pytest
from conftest import run_in_kernel

FIT = textwrap.dedent('''
    import json, sys
    from companion.learner import image_dls, learner
    from companion.announce import PhaseAnnouncer
    data, values, log = sys.argv[1:4]
    learn = learner(image_dls(data), cbs=PhaseAnnouncer(log=log))
    learn.fit(2)
    json.dump([list(map(float, v)) for v in learn.recorder.values], open(values, 'w'))
''')

def _run_script(tmp_path, code, *args, **kw):
    script = tmp_path/'script.py'
    script.write_text(code)
    return subprocess.run([sys.executable, str(script), *map(str, args)], **kw)

def test_fit_to_a_file(digits_path, tmp_path):
    "A real fit with stdout sent to a file: phase lines in order, no carriage return, the Recorder's numbers, a JSONL log."
    out, values, log = tmp_path/'out.txt', tmp_path/'values.json', tmp_path/'logs'/'fit.jsonl'
    with open(out, 'w') as f: r = _run_script(tmp_path, FIT, digits_path, values, log, stdout=f, stderr=subprocess.PIPE, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    text = out.read_text(encoding='utf-8')
    assert '\r' not in text and '█' not in text
    lines = [l for l in text.splitlines() if l[:1] in '●▶✔']
    assert [l.split(' · ')[:2] for l in lines if l.startswith('▶')] == [
        ['▶ epoch 1/2', 'TRAIN'], ['▶ epoch 1/2', 'VALID'], ['▶ epoch 2/2', 'TRAIN'], ['▶ epoch 2/2', 'VALID']]
    assert [l[:7] for l in lines] == ['● fit ·'] + ['▶ epoch', '✔ TRAIN', '▶ epoch', '✔ VALID']*2
    assert '1,438 items' in lines[1] and 'weights update every batch' in lines[1] and 'no weight updates' in lines[3]
    def nums(l): return dict((k, float(v)) for k,v in re.findall(r' · (\w+) (-?[\d.]+)', l))
    printed = [{**nums(t), **nums(v)} for t,v in zip(lines[2::4], lines[4::4])]
    recorded = json.loads(values.read_text())
    assert len(printed) == len(recorded) == 2
    for p,rec in zip(printed, recorded):
        assert list(p) == ['train_loss', 'valid_loss', 'error_rate', 'accuracy']
        assert list(p.values()) == [round(v, 4) for v in rec]
    recs = [json.loads(l) for l in log.read_text().splitlines()]
    assert [r['kind'] for r in recs] == ['fit', 'phase', 'phase', 'epoch', 'phase', 'phase', 'epoch', 'end']
    epochs = [r for r in recs if r['kind'] == 'epoch']
    assert [[e[k] for k in ('train_loss', 'valid_loss', 'error_rate', 'accuracy')] for e in epochs] == recorded
    assert all(r['seconds'] > 0 for r in recs if r['kind'] in ('phase', 'epoch'))

CRASH = textwrap.dedent('''
    import sys
    from fastai.callback.core import Callback
    from companion.learner import image_dls, learner
    from companion.announce import PhaseAnnouncer, EventTrace
    class Broken(Callback):
        def after_batch(self):
            if self.epoch == 1 and self.iter == 1: raise KeyError('no such label')
    learn = learner(image_dls(sys.argv[1]), cbs=[PhaseAnnouncer(log=sys.argv[2]), EventTrace(), Broken()])
    learn.fit(2)
''')

def test_crash_in_a_callback(digits37_path, tmp_path):
    "An exception in a callback, with an EventTrace watching: announced with the callback's and the event's names, the traceback kept, the log readable."
    log = tmp_path/'crash.jsonl'
    r = _run_script(tmp_path, CRASH, digits37_path, log, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1
    assert "✖ KeyError in callback `Broken` at event `after_batch` during TRAIN (epoch 2, batch 2): " in r.stdout
    assert 'raise KeyError' in r.stderr and "in after_batch" in r.stderr           # the original traceback, to the line
    recs = [json.loads(l) for l in log.read_text().splitlines()]                    # every line is whole
    assert [r['kind'] for r in recs] == ['fit', 'phase', 'phase', 'epoch', 'error']
    assert recs[-1]['callback'] == 'Broken' and recs[-1]['event'] == 'after_batch' and recs[-1]['phase'] == 'train'

TERMINAL = textwrap.dedent('''
    import sys
    from companion.learner import image_dls, learner
    import companion.announce   # adds learn.announce()
    learn = learner(image_dls(sys.argv[1])).announce()
    learn.fit(1)
''')

def test_terminal_has_one_live_bar(digits37_path, tmp_path):
    "In a terminal (a real pseudo-terminal) the bar is live and labelled with the phase, and the ✔ line replaces it."
    import pty
    m, s = pty.openpty()
    script = tmp_path/'script.py'
    script.write_text(TERMINAL)
    p = subprocess.Popen([sys.executable, str(script), str(digits37_path)], stdout=s, stderr=open(tmp_path/'err.txt', 'w'))
    os.close(s)
    chunks = []
    while True:
        try: b = os.read(m, 65536)
        except OSError: break
        if not b: break
        chunks.append(b)
    os.close(m)
    assert p.wait(timeout=300) == 0, (tmp_path/'err.txt').read_text()
    text = b''.join(chunks).decode('utf-8', 'replace')
    assert '\repoch 1/1 · TRAIN |' in text and '\repoch 1/1 · VALID |' in text      # the live bar, labelled
    assert '%' not in text.split('fit · 1 epoch')[0]                                   # no bar before the fit
    assert '\n✔ TRAIN' not in text and '\r✔ TRAIN' in text                             # the line overwrites the bar
    assert 'Epoch 1/1' not in text                                                     # fastai's own bar sat out

# In a Jupyter kernel, the labelled bars and the one table are checked by tests/test_display.py.

def test_event_trace_sees_every_event(digits37_path):
    "Callbacks that cancel each part once make a fit fire every event fastai's callback core defines; the trace lists them all."
    from fastai.callback.core import Callback, CancelBackwardException, CancelStepException, CancelBatchException, \
        CancelTrainException, CancelValidException, CancelEpochException, CancelFitException
    from companion.learner import image_dls, learner
    from companion.announce import EventTrace
    from companion.compat import EVENTS
    class CancelOnce(Callback):
        "Cancel something at one moment of the run."
        def before_backward(self):
            if self.epoch == 0 and self.iter == 0: raise CancelBackwardException()
        def before_step(self):
            if self.epoch == 0 and self.iter == 1: raise CancelStepException()
        def after_pred(self):
            if self.epoch == 0 and self.training and self.iter == 2: raise CancelBatchException()
        def after_batch(self):
            if self.epoch == 1 and self.training and self.iter == 0: raise CancelTrainException()
            if self.epoch == 2 and self.training and self.iter == 0: raise CancelEpochException()
            if self.epoch == 3 and self.training and self.iter == 0: raise CancelFitException()
        def before_validate(self):
            if self.epoch == 1: raise CancelValidException()
    learn = learner(image_dls(digits37_path), cbs=[EventTrace(), CancelOnce()])
    learn.fit(5)
    tr = learn.event_trace
    assert tr.events == list(EVENTS)
    summ = tr.summary()
    assert list(summ.index) == list(EVENTS)
    assert 'CancelOnce' in summ.loc['before_backward', 'callbacks'] and 'Recorder' in summ.loc['after_cancel_train', 'callbacks']
    assert summ.loc['after_fit', 'count'] == 1 and summ.loc['after_cancel_fit', 'count'] == 1
    raised = {r[4] for r in tr.records if r[4]}
    assert raised == {'CancelBackwardException', 'CancelStepException', 'CancelBatchException', 'CancelTrainException',
                      'CancelValidException', 'CancelEpochException', 'CancelFitException'}
    text = learn.explain_loop(show=False)
    for e in EVENTS: assert re.search(rf'^\s*{e}\b.*fired', text, re.M), e
