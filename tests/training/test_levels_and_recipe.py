"""The accessibility-detector fixes (issue 13): FCOS-style P3-P5 heads with per-level scale ranges,
IoU-aware objectness, cutout that no longer keeps labels on hidden objects, and a frozen ImageNet
backbone (the `backbone` parameter group) for cheap CPU training."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.eval_data import require
from tests.training.conftest import tiny
from training import losses as LF
from training.config import AugmentConfig, ConfigError, from_dict
from training.heads import Cells, Level, ObjectnessHead, assign, head_levels
from training.model import build_model

CLASSES = ["door", "handle", "cabinet door", "refrigerator door", "stair_down", "stair_up"]


def _targets(*boxes, classes=None):
    b = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    n = len(b)
    return [{"boxes": b, "classes": torch.tensor(classes or [0] * n, dtype=torch.long), "zones": torch.zeros(n, dtype=torch.long),
             "scores": torch.ones(n)}]


# ---- levels and assignment ------------------------------------------------------------------

def test_level_ranges_follow_fcos():
    lv = head_levels(416, [8, 16, 32])
    assert [(v.stride, v.size, v.lo, v.hi) for v in lv] == [(8, 52, 0, 64), (16, 26, 64, 128), (32, 13, 128, math.inf)]
    assert [(v.lo, v.hi) for v in head_levels(320, [8])] == [(0, math.inf)]
    assert [(v.lo, v.hi) for v in head_levels(320, [8, 32])] == [(0, 64), (64, math.inf)]     # no gap between levels
    with pytest.raises(ValueError, match="ascending"):
        head_levels(320, [16, 8])


def test_each_box_is_learnt_on_the_level_of_its_size():
    levels = head_levels(416, [8, 16, 32])
    cells = Cells.of(levels, "cpu")
    handle, door, stairs = [200., 100, 212, 114], [110., 100, 210, 260], [20., 60, 400, 380]
    a = assign(_targets(handle, door, stairs, classes=[1, 0, 5]), torch.tensor([0]), levels=levels)
    lv = cells.level[a.pos[0]]
    by_class = {c: sorted(set(lv[a.cls[0, a.pos[0]] == c].tolist())) for c in (0, 1, 5)}
    assert by_class == {1: [0], 0: [1], 5: [2]}           # handle on P3, door (reach 80-104 px) on P4, stairs on P5
    # Every positive cell is inside its box, and within 1.5 of its level's strides of the box centre.
    for c, box in ((1, handle), (0, door), (5, stairs)):
        sel = a.pos[0] & (a.cls[0] == c)
        xy, s = cells.centres[sel], cells.stride[sel]
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        assert ((xy[:, 0] > box[0]) & (xy[:, 0] < box[2]) & (xy[:, 1] > box[1]) & (xy[:, 1] < box[3])).all()
        assert (((xy[:, 0] - cx).abs() < 1.5 * s) & ((xy[:, 1] - cy).abs() < 1.5 * s)).all()
        reach = torch.stack([xy[:, 0] - box[0], xy[:, 1] - box[1], box[2] - xy[:, 0], box[3] - xy[:, 1]], 1).max(1).values
        assert ((reach >= cells.lo[sel]) & (reach <= cells.hi[sel])).all()
    assert int((a.cls[0, a.pos[0]] == 5).sum()) >= 4     # the stairs get a block of coarse cells, not one


def test_one_level_assignment_is_the_fused_grid_rule():
    big, small = [0., 0, 96, 96], [40., 40, 50, 50]
    t = _targets(big, small, classes=[1, 5])
    one = assign(t, torch.tensor([0]), g=6, stride=16)
    same = assign(t, torch.tensor([0]), levels=[Level(16, 6, 0.0, math.inf)])
    assert torch.equal(one.pos, same.pos) and torch.equal(one.cls, same.cls)
    # A tiny box between cell centres still gets the nearest cell on its own level.
    a = assign(_targets([61., 61, 63, 63]), torch.tensor([0]), levels=head_levels(128, [8, 16, 32]))
    cells = Cells.of(head_levels(128, [8, 16, 32]), "cpu")
    assert int(a.pos.sum()) == 1 and int(cells.level[a.pos[0]][0]) == 0


def test_box_head_decodes_cells_in_the_order_assignment_uses(tmp_path):
    """Perfect distances at every assigned cell give zero box loss: decode and assign agree on
    where each level's cells are."""
    cfg = from_dict(tiny(tmp_path, model__input_size=128, model__head_levels=[8, 16, 32]))
    net = build_model(cfg)
    a = assign(_targets([10., 10, 120, 118], [60., 30, 70, 42], classes=[5, 1]), torch.tensor([0]), levels=net.levels)
    c = net.heads.box.centres
    ltrb = torch.ones(1, len(c), 4)
    ltrb[a.pos] = torch.cat([c[a.pos[0]] - a.box[a.pos][:, :2], a.box[a.pos][:, 2:] - c[a.pos[0]]], 1)
    loss, _, iou = net.heads.box.loss({"box": ltrb}, a)
    assert float(loss["box"]) == pytest.approx(0.0, abs=1e-5) and torch.allclose(iou, torch.ones_like(iou))
    assert len(c) == 16 * 16 + 8 * 8 + 4 * 4


def test_multi_level_model_shapes_and_losses(tmp_path):
    cfg = from_dict(tiny(tmp_path, model__input_size=128, model__head_levels=[8, 16, 32], loss__objectness="iou"))
    net = build_model(cfg).train()
    out = net(torch.randn(2, 3, 128, 128))
    L = 16 * 16 + 8 * 8 + 4 * 4
    assert out["objectness"].shape == (2, L) and out["classification"].shape == (2, L, 80) and out["box"].shape == (2, L, 4)
    batch = {"targets": _targets([10., 10, 120, 118]) + _targets(), "urgency": torch.tensor([0, 0])}
    losses = net.loss(out, batch)
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    assert net.stage_a.fuse is None and net.stage_a.fpn.layer_blocks[0][0].weight.grad is not None
    assert net.heads.box.scale.shape == (3,)


def test_config_checks_levels_and_objectness(tmp_path):
    with pytest.raises(ConfigError, match="model.head_levels must list distinct strides"):
        from_dict(tiny(tmp_path, model__head_levels=[16, 8]))
    with pytest.raises(ConfigError, match="model.head_levels is for t0 and t2"):
        from_dict(tiny(tmp_path, model__preset="t5", model__head_levels=[8, 16]))
    with pytest.raises(ConfigError, match="loss.objectness must be binary or iou"):
        from_dict(tiny(tmp_path, loss__objectness="centerness"))


# ---- IoU-aware objectness -------------------------------------------------------------------

def test_iou_objectness_targets_the_predicted_box_quality():
    pos = torch.tensor([[True, False, True, False]])
    from training.heads import Assigned
    t = Assigned(pos, torch.zeros(1, 4, dtype=torch.long), torch.zeros(1, 4, 4), torch.zeros(1, 4, dtype=torch.long),
                 torch.zeros(1, 4), torch.tensor([0]), 2.0, 1.0)
    iou = torch.tensor([0.8, 0.3])
    exact = torch.tensor([[math.log(0.8 / 0.2), -30.0, math.log(0.3 / 0.7), -30.0]])
    head = ObjectnessHead(8, 0.25, 2.0, "iou")
    assert float(head.loss({"objectness": exact}, t, iou=iou)["objectness"]) == pytest.approx(0.0, abs=1e-6)
    overconfident = exact.clone()
    overconfident[0, 2] = 6.0                                       # scoring a poor box (IoU 0.3) as sure costs
    assert float(head.loss({"objectness": overconfident}, t, iou=iou)["objectness"]) > 0.5
    assert float(ObjectnessHead(8, 0.25, 2.0, "binary").loss({"objectness": exact}, t)["objectness"]) > 0.05
    assert float(LF.iou(torch.tensor([[0., 0, 10, 10]]), torch.tensor([[5., 0, 15, 10]]))) == pytest.approx(1 / 3)


# ---- cutout ---------------------------------------------------------------------------------

def test_cutout_drops_only_the_boxes_it_hides():
    from training.augment import Augmenter, _drop_hidden
    from training.sample import Sample
    img = np.full((64, 64, 3), 255, np.uint8)
    s = Sample(img, np.array([[4, 4, 12, 12], [30, 30, 60, 60], [40, 0, 50, 8]], np.float32), np.array([1, 0, 1]),
               np.zeros(3, np.int64), np.zeros(3, np.int64))
    mask = np.zeros((64, 64), bool)
    mask[0:16, 0:16] = True                                         # hides the first box whole
    mask[30:40, 30:60] = True                                       # a third of the second
    out = _drop_hidden(s, mask)
    assert out.boxes.tolist() == [[30, 30, 60, 60], [40, 0, 50, 8]] and out.classes.tolist() == [0, 1]
    # Through the augmenter, on a white photo with many small boxes: no kept box is mostly grey.
    rng = np.random.default_rng(0)
    xy = rng.integers(0, 300, (60, 2))
    boxes = np.concatenate([xy, xy + 12], 1).astype(np.float32)
    s = Sample(np.full((320, 320, 3), 255, np.uint8), boxes, np.ones(60, np.int64), np.zeros(60, np.int64), np.zeros(60, np.int64))
    aug = Augmenter(AugmentConfig(flip=0, scale=[1, 1], translate=0, photometric=0, cutout=1.0, condition=0), 320)
    dropped = 0
    for seed in range(5):
        out = aug(s, np.random.default_rng(seed))
        grey = (out.image == (104, 116, 124)).all(-1)
        for x1, y1, x2, y2 in out.boxes.astype(int):
            assert grey[y1:y2, x1:x2].mean() <= 0.5
        dropped += 60 - len(out.boxes)
    assert dropped > 0


# ---- frozen backbone ------------------------------------------------------------------------

def test_backbone_group_freezes_and_scales_only_the_backbone(tmp_path):
    from training.loop import Trainer
    cfg = from_dict(tiny(tmp_path, optim__iters_per_epoch=2, optim__ema=None, model__head_levels=[16, 32],
                         transfer={"lr_groups": {"cnn": 1.0, "backbone": 0.1}, "freeze": [{"frozen": ["backbone"]}]}))
    t = Trainer(cfg, progress=False)
    rates = {g["name"]: g["lr"] / cfg.optim.lr for g in t.opt.param_groups}
    assert rates["backbone"] == pytest.approx(0.1) and rates["cnn"] == pytest.approx(1.0)
    before = {k: v.clone() for k, v in t.model.state_dict().items()}
    t.run()
    after = t.model.state_dict()
    bb = [k for k in before if k.startswith("stage_a.backbone.") and before[k].is_floating_point()]
    assert bb and all(torch.equal(before[k], after[k]) for k in bb)
    assert not torch.equal(before["stage_a.fpn.layer_blocks.1.0.weight"], after["stage_a.fpn.layer_blocks.1.0.weight"])
    # Naming cnn still freezes the backbone with it (the t2 -> t5 schedule's meaning is unchanged).
    from training.transfer import apply_freeze
    apply_freeze(t.model, ["cnn"])
    assert not any(p.requires_grad for n, p in t.model.named_parameters() if n.startswith("stage_a."))


# ---- learning on real photos ----------------------------------------------------------------

@pytest.mark.slow
def test_multi_level_heads_learn_a_staircase_and_a_door_on_real_photos(tmp_path):
    """A few steps on two real training photos (a staircase filling most of the frame, doors with
    handles) with a frozen ImageNet backbone: the heads find the staircase."""
    from training.data import collate
    from training.model import Predictor
    from training.yolo import YoloDataset
    from training.augment import Augmenter
    root = require("accessibility_objects")
    ds = YoloDataset([root / "doors", root / "stairs"], "train", CLASSES)
    stair = next(i for i, it in enumerate(ds.items) if len(it.classes) == 1 and it.classes[0] == 5)
    door = next(i for i, it in enumerate(ds.items) if 0 in it.classes and 1 in it.classes)
    torch.manual_seed(0)
    cfg = from_dict(tiny(tmp_path, data__classes=CLASSES, model__num_classes=6, model__input_size=192, model__fpn_channels=48,
                         model__head_levels=[8, 16, 32], loss__objectness="iou"))
    net = build_model(cfg).train()
    for p in net.stage_a.backbone.parameters():
        p.requires_grad_(False)
    aug = Augmenter(AugmentConfig(flip=0, scale=[1, 1], translate=0, photometric=0, cutout=0, condition=0), 192, train=False)
    from training.data import _target, to_chw
    items = []
    for i in (stair, door):
        s = aug(ds.load(i), np.random.default_rng(0))
        items.append({"image": to_chw(s.image), **_target(s, 0.999)})
    batch = collate(items)
    opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=3e-3)
    w = {"objectness": 1.0, "classification": 1.0, "box": 2.0}
    for _ in range(80):
        losses = net.loss(net(batch["image"]), batch)
        opt.zero_grad()
        sum(w[k] * losses[k] for k in w).backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        scores, boxes, *_ = Predictor(net)(batch["image"][:1])
    s = scores[0, :, 5]
    best = int(s.argmax())
    gt = batch["targets"][0]["boxes"]
    assert float(LF.iou(boxes[0, best:best + 1], gt)) > 0.6 and float(s[best]) > 0.3
