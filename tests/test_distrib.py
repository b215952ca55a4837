"Training in several real processes (gloo on 127.0.0.1): sharding, gathered metrics, one voice, the shared lr, and a rank killed mid-epoch."
import json, os, signal
from functools import partial
from pathlib import Path
import pytest, torch
from fastai.vision.all import Callback, find_bs, rank_distrib, num_distrib, set_seed
from conftest import run_cli
from companion.learner import image_dls
from companion.train import train
from companion.distrib import DistribError

class Record(Callback):
    "Per rank: the training item indices of each epoch, how many items went through the model and the top lr (a JSON file); lr_find runs."
    order = 20                                               # after fastai's DistributedTrainer (11) has put its DistributedDL in `learn.dl`
    def __init__(self, folder): self.folder, self.epochs, self.top_lr = Path(folder), [], 0.
    def before_fit(self):
        if hasattr(self.learn, 'lr_finder'):                 # a file, since lr_report puts callbacks' attributes back afterwards
            with open(self.folder/f'lr_find{rank_distrib()}.txt', 'a') as f: f.write('ran\n')
    def before_train(self):
        if hasattr(self.learn, 'lr_finder'): return
        self.rec = dict(idxs=[], seen=0); self.epochs.append(self.rec)
        dl = self.learn.dl
        if getattr(dl, 'recorded', False): return
        get = dl.get_idxs
        def recording():
            idxs = get(); self.rec['idxs'] = [int(i) for i in idxs]; return idxs
        dl.get_idxs, dl.recorded = recording, True           # what this rank's loader iterates over, each epoch
    def after_batch(self):
        if not self.training or hasattr(self.learn, 'lr_finder'): return
        self.rec['seen'] += find_bs(self.yb); self.top_lr = max(self.top_lr, self.opt.hypers[-1]['lr'])
    def after_fit(self):
        (self.folder/f'rank{rank_distrib()}.json').write_text(json.dumps(dict(world=num_distrib(), epochs=self.epochs,
                                                                               top_lr=self.top_lr)))

def _ranks(folder, n=2): return [json.loads((Path(folder)/f'rank{r}.json').read_text()) for r in range(n)]

def test_two_processes_match_one(digits_path, tmp_path, capfd):
    "2 ranks × bs 32 vs 1 process × bs 64, same lr: every item once per epoch, gathered metrics = one process's get_preds, accuracy within 2 points."
    epochs, lr = 4, 1e-2
    set_seed(0)
    learn, r = train(partial(image_dls, digits_path, bs=32, drop_last=False), epochs, lr=lr, nproc=2, show=False, cbs=[Record(tmp_path)])
    out = capfd.readouterr().out
    assert (r.nproc, r.bs, r.backend) == (2, 32, 'gloo')
    n_train = len(learn.dls.train_ds)
    ranks = _ranks(tmp_path)
    assert all(k['world'] == 2 and len(k['epochs']) == epochs for k in ranks)
    for e in range(epochs):
        shares = [k['epochs'][e] for k in ranks]
        assert sorted(shares[0]['idxs'] + shares[1]['idxs']) == list(range(n_train)), f'epoch {e}: not every item exactly once'
        assert [s['seen'] for s in shares] == [len(s['idxs']) for s in shares]              # and each rank trained on all of its share
        assert abs(len(shares[0]['idxs']) - len(shares[1]['idxs'])) <= 1
    assert ranks[0]['epochs'][0]['idxs'] != ranks[0]['epochs'][1]['idxs']                   # reshuffled each epoch
    preds, targs, losses = learn.get_preds(with_loss=True)                                 # rank 0's weights, here, in one process
    assert len(targs) == len(learn.dls.valid_ds)
    assert abs((preds.argmax(1) == targs).float().mean().item() - r.accuracy) < 1e-6
    assert abs(losses.mean().item() - r.valid_loss) < 1e-4
    assert out.count('● fit') == 1 and out.count('▶ epoch 1/4 · TRAIN') == 1 and out.count('✔ VALID') == epochs, out   # one voice: rank 0
    assert '32 per process × 2 processes' in out and 'batch size 32 per process, 64 per step' in out
    set_seed(0)
    _, one = train(partial(image_dls, digits_path, bs=64), epochs, lr=lr, show=False, announce=False)
    assert one.nproc == 1 and abs(one.accuracy - r.accuracy) <= 0.02, (one.accuracy, r.accuracy)

def test_lr_picked_once_and_shared(digits37_path, tmp_path, capfd):
    learn, r = train(lambda: image_dls(digits37_path, bs=32), 1, nproc=2, show=False, lr_kws=dict(num_it=30), cbs=[Record(tmp_path)])
    out = capfd.readouterr().out
    k0, k1 = _ranks(tmp_path)
    runs = [len(f.read_text().split()) if f.exists() else 0 for f in (tmp_path/'lr_find0.txt', tmp_path/'lr_find1.txt')]
    assert runs == [1, 0]                                                                  # lr_find ran once, on rank 0
    assert r.lr == r.lr_report.pick and k0['top_lr'] == k1['top_lr'] and 0.9*r.lr <= k1['top_lr'] <= r.lr   # both ranks trained with rank 0's pick
    assert out.count('✔ lr_find') == 1 and '(lr_find on rank 0, shared with every rank)' in out

class KillAt(Callback):
    "SIGKILL this process when it is rank `rank` at training batch `at` (as the out-of-memory killer would)."
    def __init__(self, rank=1, at=3): self.rank, self.at, self.n = rank, at, 0
    def after_batch(self):
        if not self.training: return
        self.n += 1
        if self.n == self.at and rank_distrib() == self.rank: os.kill(os.getpid(), signal.SIGKILL)

def test_killed_rank_ends_the_run(digits37_path):
    "A rank killed mid-epoch ends the run naming it (how long that takes: bench/bench_distrib.py)."
    with pytest.raises(DistribError) as ei:
        train(lambda: image_dls(digits37_path, bs=16), 2, lr=1e-2, nproc=2, show=False, cbs=[KillAt(1, 3)])
    e = ei.value
    assert e.rank == 1 and e.exitcode == -signal.SIGKILL and 'rank 1 of 2 was killed by SIGKILL' in str(e), str(e)

def test_failing_rank_names_its_error(digits37_path):
    def bad_dls():
        if rank_distrib() == 1: raise FileNotFoundError('valid/ is missing on this machine')
        return image_dls(digits37_path, bs=32)
    with pytest.raises(DistribError, match=r'rank 1 of 2 failed with FileNotFoundError: valid/ is missing') as ei:
        train(bad_dls, 1, lr=1e-2, nproc=2, show=False)
    assert "rank 1's traceback" in str(ei.value)

def test_cli_nproc(digits37_path, tmp_path):
    out = tmp_path/'run'
    res = run_cli('train', digits37_path, '--epochs', '1', '--lr_steps', '30', '--nproc', '2', '--out', out, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    rep = json.loads((out/'report.json').read_text())
    assert (rep['nproc'], rep['bs'], rep['backend']) == (2, 32, 'gloo') and rep['recipe']['lr'] == rep['lr_report']['pick']
    for f in ('model.pth', 'export.pkl', 'lr_find.png', 'losses.png', 'report.txt', 'train_log.jsonl'): assert (out/f).stat().st_size > 0, f
    assert res.stdout.count('● fit') == 1 and res.stdout.count('verdict:') == 1 and 'on 2 processes (gloo)' in res.stdout
    log = [json.loads(l) for l in (out/'train_log.jsonl').read_text().splitlines()]
    assert sum(1 for l in log if l['kind'] == 'epoch') == 1                              # one log, written by rank 0 alone
