"""Shapes of every head for every preset, loss values against hand computations, assignment."""
from __future__ import annotations

import math

import pytest
import torch

from training import losses as LF
from training.heads import assign, grid_centres
from training.model import Predictor, build_model


def _batch(grid_size, clip=0):
    targets = [{"boxes": torch.tensor([[8., 8, 60, 70], [70, 10, 90, 30]]), "classes": torch.tensor([0, 2]),
                "zones": torch.tensor([0, 2]), "scores": torch.ones(2)},
               {"boxes": torch.zeros(0, 4), "classes": torch.zeros(0, dtype=torch.long), "zones": torch.zeros(0, dtype=torch.long),
                "scores": torch.zeros(0)}]
    b = {"targets": targets, "urgency": torch.tensor([3, 0])}
    if clip:
        b["flow"] = torch.zeros(2, 2, grid_size, grid_size)
    return b


@pytest.mark.parametrize("preset", ["t0", "t2", "t5"])
def test_head_shapes_and_losses_per_preset(tiny_cfg, preset):
    cfg = tiny_cfg(model__preset=preset)
    net = build_model(cfg).train()
    g = 96 // 16
    x = torch.randn(2, 3, 3, 96, 96) if preset == "t5" else torch.randn(2, 3, 96, 96)
    out = net(x)
    L = g * g
    assert out["objectness"].shape == (2, L) and out["classification"].shape == (2, L, 80)
    assert out["box"].shape == (2, L, 4) and (out["box"] > 0).all()
    assert out["distance"].shape == (2, L, 3) and out["urgency"].shape == (2, 4) and out["uncertainty"].shape == (2, 1)
    assert ("motion" in out) == (preset == "t5")
    if preset == "t5":
        assert out["motion"].shape == (2, 2, g, g)
    losses = net.loss(out, _batch(g, clip=preset == "t5"))
    expected = {"objectness", "classification", "box", "distance", "urgency", "uncertainty", "distill"} | ({"motion"} if preset == "t5" else set())
    assert set(losses) == expected
    assert all(torch.isfinite(v) and v >= 0 for v in losses.values())
    sum(losses.values()).backward()
    assert net.heads.classification.conv.weight.grad.abs().sum() > 0
    with torch.no_grad():
        scores, boxes, dist, urg, unc = Predictor(net.eval())(x)
    assert scores.shape == (2, L, 80) and 0 <= float(scores.min()) and float(scores.max()) <= 1
    assert torch.allclose(dist.sum(-1), torch.ones(2, L)) and torch.allclose(urg.sum(-1), torch.ones(2))
    assert ((unc >= 0) & (unc <= 1)).all()


def test_focal_loss_values():
    logits, target = torch.tensor([0.0, 2.0]), torch.tensor([1.0, 0.0])
    p = torch.sigmoid(logits)
    want = 0.25 * (1 - p[0]) ** 2 * -torch.log(p[0]) + 0.75 * p[1] ** 2 * -torch.log(1 - p[1])
    assert torch.isclose(LF.sigmoid_focal(logits, target), want)
    cls = torch.tensor([[2.0, 0.0, -1.0]])
    pt = torch.softmax(cls, -1)[0, 1]
    w = torch.tensor([1.0, 3.0, 1.0])
    assert torch.isclose(LF.softmax_focal(cls, torch.tensor([1]), weights=w), 3.0 * 0.25 * (1 - pt) ** 2 * -torch.log(pt))


def test_giou_ce_and_uncertainty_values():
    a = torch.tensor([[0., 0, 10, 10]])
    assert float(LF.giou(a, a)) == pytest.approx(0.0, abs=1e-6)
    far = torch.tensor([[20., 0, 30, 10]])
    assert float(LF.giou(a, far)) == pytest.approx(1 + (30 * 10 - 200) / 300, rel=1e-5)   # IoU 0, enclosing 300
    logits = torch.tensor([[1.0, 0.0, 0.0]])
    w = torch.tensor([0.5, 1.0, 2.0])
    assert float(LF.weighted_ce(logits, torch.tensor([0]), w)) == pytest.approx(0.5 * -math.log(math.e / (math.e + 2)), rel=1e-5)
    e = torch.tensor([0.3])
    assert float(LF.uncertainty_weighted(e, torch.log(e))) == pytest.approx(0.0, abs=1e-6)     # zero at u = log(error)
    assert float(LF.uncertainty_weighted(e, torch.tensor([1.0]))) > 0


def test_assignment_gives_every_box_a_cell_and_prefers_the_smaller_box():
    big, small = [0., 0, 96, 96], [40., 40, 50, 50]
    t = [{"boxes": torch.tensor([big, small]), "classes": torch.tensor([1, 5]), "zones": torch.tensor([0, 2]), "scores": torch.ones(2)}]
    a = assign(t, torch.tensor([0]), g=6, stride=16)
    centres = grid_centres(6, 16, "cpu")
    # The cell centred at (40, 40) lies in both boxes' centre regions: the smaller box wins it.
    cell = int(((centres - torch.tensor([40.0, 40.0])) ** 2).sum(1).argmin())
    assert a.pos[0, cell] and a.cls[0, cell] == 5 and a.zone[0, cell] == 2
    assert set(a.cls[0, a.pos[0]].tolist()) == {1, 5} and a.num_pos == float(a.pos.sum())
    # Teacher boxes below the hard score shape only the soft target.
    t[0]["scores"] = torch.tensor([0.3, 0.9])
    a = assign(t, torch.tensor([0]), g=6, stride=16, hard_score=0.5)
    assert set(a.cls[0, a.pos[0]].tolist()) == {5}
    assert float(a.soft.max()) == pytest.approx(0.9) and (a.soft == 0.3).any()
