"""Continual learning with EWC (issue 18): the penalty is zero at the anchor weights and only sees
the old rows of a grown class layer; on a toy two-task problem on real image features EWC keeps
the old task's loss lower than plain fine-tuning; a detector grows its classes from a trained
checkpoint (doors, then stairs) with the penalty logged and the old classes measured; a source
of another preset is one sentence."""
from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest
import torch
import yaml
from torch import nn

from engine.eval_data import require
from tests.cli import maxsight
from training.ewc import EWC, GrownClasses, fisher_diagonal, grow_into


def _features():
    """4 x 4 grey thumbnails of the COCO images (standardised); task A: the image's mean red level,
    task B: how much brighter its top half is than its bottom half (both standardised)."""
    X, A, B = [], [], []
    for f in sorted((require("coco_val2017_128") / "images").iterdir()):
        im = cv2.imread(str(f)).astype(np.float32) / 255
        X.append(cv2.resize(cv2.cvtColor(im, cv2.COLOR_BGR2GRAY), (4, 4), interpolation=cv2.INTER_AREA).ravel())
        h = im.shape[0]
        A.append(im[..., 2].mean())
        B.append(im[:h // 2].mean() - im[h // 2:].mean())
    z = lambda t: (t - t.mean(0)) / t.std(0)
    return z(torch.tensor(np.array(X))), z(torch.tensor(A)), z(torch.tensor(B))


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(16, 6), nn.Tanh())
        self.a, self.b = nn.Linear(6, 1), nn.Linear(6, 1)


def test_penalty_is_zero_at_the_anchor_and_sees_only_old_rows():
    torch.manual_seed(0)
    old = nn.Conv2d(4, 3, 1)
    anchors = {n: p.detach().clone() for n, p in old.named_parameters()}
    fisher = {n: torch.rand_like(p) + 0.1 for n, p in old.named_parameters()}
    ewc = EWC(anchors, fisher)
    assert float(ewc.penalty(old).detach()) == 0.0
    grown = nn.Conv2d(4, 5, 1)                                           # two classes added
    whole, rows = grow_into(grown, old.state_dict())
    assert rows == ["weight", "bias"] and float(ewc.penalty(grown).detach()) == 0.0
    with torch.no_grad():
        grown.weight[3:] += 1.0                                          # new rows move freely
    assert float(ewc.penalty(grown).detach()) == 0.0
    with torch.no_grad():
        grown.weight[0, 0] += 0.5
    expected = 0.5 * float(fisher["weight"][0, 0]) * 0.25
    assert float(ewc.penalty(grown).detach()) == pytest.approx(expected, rel=1e-5)


def test_ewc_keeps_the_old_task_better_than_plain_fine_tuning():
    X, A, B = _features()
    loss_a = lambda m, s=slice(None): ((m.a(m.trunk(X[s]))[:, 0] - A[s]) ** 2).mean()
    loss_b = lambda m: ((m.b(m.trunk(X))[:, 0] - B) ** 2).mean()
    torch.manual_seed(0)
    net = TwoHeads()
    opt = torch.optim.Adam([*net.trunk.parameters(), *net.a.parameters()], lr=0.01)
    for _ in range(300):
        opt.zero_grad()
        loss_a(net).backward()
        opt.step()
    before = float(loss_a(net).detach())
    anchors = {n: p.detach().clone() for n, p in net.named_parameters() if not n.startswith("b.")}
    fisher, n = fisher_diagonal(net, [slice(i, i + 8) for i in range(0, len(X), 8)], loss_a)
    ewc = EWC(anchors, {k: v for k, v in fisher.items() if k in anchors})
    assert n == 8 and float(ewc.penalty(net).detach()) == 0.0
    after = {}
    for lam in (0.0, 100.0):                                             # plain fine-tuning, then EWC
        m = TwoHeads()
        m.load_state_dict(net.state_dict())
        opt = torch.optim.Adam([*m.trunk.parameters(), *m.b.parameters()], lr=0.01)
        for _ in range(300):
            opt.zero_grad()
            (loss_b(m) + lam * ewc.penalty(m)).backward()
            opt.step()
        after[lam] = (float(loss_a(m).detach()), float(loss_b(m).detach()))
    plain, kept = after[0.0], after[100.0]
    assert plain[0] > 5 * before                                         # plain fine-tuning forgot task A
    assert kept[0] < 0.5 * plain[0], after                               # EWC kept it much better
    assert kept[1] < 0.1                                                 # and still learnt task B


def test_grown_classes_number_new_names_after_old_ones():
    from training.yolo import YoloDataset
    stairs = YoloDataset(require("accessibility_objects", "stairs"), "val")
    g = GrownClasses(stairs, ["door", "handle", "cabinet door", "refrigerator door"])
    assert g.label_names[4:] == stairs.label_names and len(g.label_names) == 6
    s = g.load(0)
    assert set(s.classes.tolist()) <= {4, 5}
    assert g.class_counts()[:4].sum() == 0 and g.class_counts()[4:].sum() == stairs.class_counts().sum()


def _yaml(path, data):
    path.write_text(yaml.safe_dump(data))
    return path


_cli = maxsight


def test_detector_grows_from_a_trained_checkpoint_with_the_penalty(tmp_path):
    model = {"preset": "t0", "backbone": "mobilenet_v2", "pretrained": True, "norm": "frozen_bn", "input_size": 64,
             "fpn_channels": 32, "head_stride": 16, "tower_convs": 1}
    optim = {"lr": 0.001, "epochs": 1, "iters_per_epoch": 2, "batch": 2, "warmup_iters": 1, "ema": 0.9}
    doors = "eval:accessibility_objects/doors"
    old = _yaml(tmp_path / "old.yaml", {"name": "old", "out": str(tmp_path / "old"), "log_every": 1, "evaluate": False,
                                        "model": {**model, "num_classes": 4}, "optim": optim,
                                        "data": {"train": doors, "train_split": "train", "val": doors, "val_split": "val"}})
    assert _cli("train", str(old), "--quiet").returncode == 0
    stairs = "eval:accessibility_objects/stairs"
    new = {"name": "new", "out": str(tmp_path / "new"), "log_every": 1, "evaluate": False, "model": {**model, "num_classes": 6},
           "optim": {**optim, "iters_per_epoch": 4, "warmup_iters": 0}, "data": {"train": stairs, "train_split": "train", "val": stairs, "val_split": "val"},
           "continual": {"source": str(tmp_path / "old" / "last.pt"), "ewc_weight": 10.0, "fisher_batches": 2}}
    r = _cli("train", str(_yaml(tmp_path / "new.yaml", new)), "--quiet")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "2 grown (heads.classification.conv.weight, heads.classification.conv.bias)" in r.stdout
    assert "old classes on val of" in r.stdout and "door" in r.stdout
    rows = list(csv.DictReader((tmp_path / "new" / "metrics.csv").open()))
    assert float(rows[-1]["loss_ewc"]) > 0                               # the weights moved, and the penalty saw it
    rep = json.loads((tmp_path / "new" / "continual.json").read_text())
    assert rep["old_classes"] == ["door", "handle", "cabinet door", "refrigerator door"] and rep["before"]["images"] > 0
    data = torch.load(tmp_path / "new" / "last.pt", map_location="cpu", weights_only=True)
    assert data["labels"] == rep["old_classes"] + ["stair_down", "stair_up"] and (tmp_path / "new" / "ewc.pt").is_file()

    # bad input: the new model's class count, and a source of another preset
    r = _cli("train", str(_yaml(tmp_path / "bad.yaml", {**new, "model": {**model, "num_classes": 7}})), "--quiet")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().startswith("maxsight: model.num_classes must be 6: the 4 classes of continual.source and the 2 new ones")
    t2 = {**model, "preset": "t2", "num_classes": 6, "vit": {"dim": 32, "depth": 1, "heads": 2}}
    r = _cli("train", str(_yaml(tmp_path / "bad2.yaml", {**new, "model": t2})), "--quiet")
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "is a model with model.preset 't0', but this config sets model.preset 't2'" in r.stderr
