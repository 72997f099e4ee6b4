"""The learning-rate finder (issue 18): on a toy problem whose good learning rates are known (least
squares on real image features with plain gradient descent: measured by training at every rate of
a grid, and bounded above by 2 / the largest Hessian eigenvalue), the suggestion lands inside the
good range; `maxsight train --find-lr` writes the plot and says the rule."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
import yaml

from engine.eval_data import require
from tests.cli import maxsight
from tests.training.conftest import tiny
from training.lr_finder import RULE, suggest, sweep


def _toy():
    """X: 4 x 4 grey thumbnails of the COCO images (standardised); y: each image's mean red level."""
    X, y = [], []
    for f in sorted((require("coco_val2017_128") / "images").iterdir()):
        im = cv2.imread(str(f))
        X.append(cv2.resize(cv2.cvtColor(im, cv2.COLOR_BGR2GRAY), (4, 4), interpolation=cv2.INTER_AREA).ravel() / 255.0)
        y.append(im[..., 2].mean() / 255.0)
    X, y = torch.tensor(np.array(X), dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    return (X - X.mean(0)) / X.std(0), (y - y.mean()) / y.std()


def _loss(X, y, w):
    return ((X @ w - y) ** 2).mean()


def _final_loss(X, y, lr: float, steps: int = 100) -> float:
    w = torch.zeros(X.shape[1], requires_grad=True)
    opt = torch.optim.SGD([w], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        _loss(X, y, w).backward()
        opt.step()
    with torch.no_grad():
        return float(_loss(X, y, w))


def test_suggestion_lands_in_the_known_good_range_of_a_toy_problem():
    X, y = _toy()
    bound = 2 / float(torch.linalg.eigvalsh(2 * X.T @ X / len(X)).max())   # gradient descent diverges above this
    grid = np.logspace(-4, 0.5, 28)
    finals = np.array([_final_loss(X, y, lr) for lr in grid])
    best = np.nanmin(np.where(np.isfinite(finals), finals, np.nan))
    good = [lr for lr, f in zip(grid, finals) if np.isfinite(f) and f <= 1.25 * best]
    assert min(good) < bound and max(good) < bound                        # the grid agrees with the analysis

    w = torch.zeros(X.shape[1], requires_grad=True)
    opt = torch.optim.SGD([w], lr=1.0)

    def step(lr):
        for g in opt.param_groups:
            g["lr"] = lr
        loss = _loss(X, y, w)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss.detach())

    r = sweep(step, 1e-4, 10.0, 100)
    assert "passed 4x its lowest" in r.stopped or "became" in r.stopped      # it saw the divergence and stopped
    assert min(good) <= r.suggestion <= max(good), (r.suggestion, min(good), max(good))
    assert r.suggestion < bound and r.suggestion == pytest.approx(r.lowest_at / 10)


def test_rule_on_a_known_curve():
    lrs = list(np.logspace(-5, 0, 11))
    curve = [5, 5, 4.9, 4.5, 3.5, 2.0, 1.0, 0.8, 2.0, 6.0, 20.0]           # lowest at lrs[7] = 1e-1.5
    s, lowest, steepest = suggest(lrs, curve)
    assert lowest == lrs[7] and s == pytest.approx(lrs[7] / 10)
    assert steepest in (lrs[4], lrs[5])                                    # the biggest drop per decade
    assert suggest(lrs[:2], curve[:2]) == (None, None, None)
    with pytest.raises(ValueError, match="lr_min < lr_max"):
        sweep(lambda lr: 1.0, 1.0, 0.1, 10)


def test_find_lr_command_writes_the_plot_and_the_rule(tmp_path):
    cfg = tiny(tmp_path)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    r = maxsight("train", str(path), "--find-lr", "--lr-steps", "8", "--lr-range", "1e-5", "1", timeout=300)
    assert r.returncode == 0, r.stderr[-1500:]
    assert "suggested optim.lr" in r.stdout and RULE in r.stdout
    out = tmp_path / "run" / "lr_find"
    data = json.loads((out / "lr_find.json").read_text())
    assert 1e-5 <= data["lrs"][0] and len(data["lrs"]) == len(data["losses"]) <= 8
    assert data["suggestion"] == pytest.approx(data["lowest_at"] / 10)
    assert (out / "lr_find.png").stat().st_size > 5000
    assert not (tmp_path / "run" / "last.pt").exists()                   # nothing was trained for real
    bad = maxsight("train", str(path), "--find-lr", "--lr-range", "1", "0.1", timeout=300)
    assert bad.returncode == 2 and bad.stderr.strip() == "maxsight: --lr-range needs 0 < MIN < MAX, got 1 0.1"
