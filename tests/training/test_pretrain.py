"""Self-supervised pretraining (issue 18): MAE masks the asked share and its reconstruction loss
falls; SimCLR pulls two views of one image together against views of two images; the checkpoint
feeds a detector config's transfer.source; a killed run resumes exactly; bad input is one sentence."""
from __future__ import annotations


import cv2
import numpy as np
import pytest
import torch
import yaml

from engine.eval_data import require
from tests.cli import maxsight
from training import checkpoint as ckpt
from training.config import from_dict
from training.pretrain import (PretrainConfig, Pretext, Pretrainer, check, mask_pixels, patchify, random_mask, simclr_view,
                               to_tensor, view_similarity)


def _images(n: int, size: int = 64) -> list[np.ndarray]:
    files = sorted((require("coco_val2017_128") / "images").iterdir())[:n]
    out = []
    for f in files:
        im = cv2.imread(str(f))
        h, w = im.shape[:2]
        s = min(h, w)
        out.append(cv2.resize(im[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s], (size, size), interpolation=cv2.INTER_AREA))
    return out


def _cfg(tmp_path, size=64, **over):
    data = {"name": "pre", "out": str(tmp_path / "pre"), "seed": 0, "log_every": 1,
            "model": {"preset": "t0", "backbone": "mobilenet_v2", "pretrained": True, "norm": "bn", "input_size": size,
                      "fpn_channels": 32, "head_stride": 16, "tower_convs": 1},
            "optim": {"lr": 0.001, "epochs": 1, "iters_per_epoch": 4, "batch": 4, "warmup_iters": 1}}
    data.update(over)
    return from_dict(data)


@pytest.mark.parametrize("ratio,n", [(0.75, 4), (0.75, 16), (0.5, 49), (0.3, 10)])
def test_mae_masks_exactly_the_asked_share_of_squares(ratio, n):
    mask = random_mask(5, n, ratio, torch.Generator().manual_seed(1))
    assert mask.shape == (5, n) and (mask.sum(1) == round(ratio * n)).all()
    assert len({tuple(r.tolist()) for r in mask}) > 1                    # each image draws its own squares


def test_masked_squares_are_blank_and_the_rest_untouched():
    x = to_tensor(_images(2, 64))
    mask = random_mask(2, 4, 0.5, torch.Generator().manual_seed(0))       # 32 px squares: 2 x 2 grid
    y = mask_pixels(x, mask, 32)
    sq, sy = patchify(x, 32), patchify(y, 32)
    assert torch.equal(sy[mask], torch.zeros_like(sy[mask]))
    assert torch.equal(sy[~mask], sq[~mask])


def test_mae_reconstruction_loss_falls_on_real_images(tmp_path):
    torch.manual_seed(0)
    cfg = _cfg(tmp_path)
    pc = check(PretrainConfig(task="mae", mask_ratio=0.75, patch=32, decoder_dim=64), cfg)
    model = Pretext(cfg, pc)
    x = to_tensor(_images(4, 64))
    mask = random_mask(4, 4, 0.75, torch.Generator().manual_seed(0))
    assert float(mask.float().mean()) == 0.75
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    model.train()
    with torch.no_grad():
        first = float(model.mae(x, mask))
    for _ in range(25):
        opt.zero_grad()
        model.mae(x, mask).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        last = float(model.mae(x, mask))
    assert last < 0.7 * first, (first, last)


def test_simclr_two_views_of_one_image_end_closer_than_views_of_two_images(tmp_path):
    torch.manual_seed(0)
    cfg = _cfg(tmp_path)
    pc = check(PretrainConfig(task="simclr", temperature=0.2, projection_dim=32, crop_scale=[0.4, 1.0]), cfg)
    model = Pretext(cfg, pc)
    ims = _images(8, 96)
    rng = np.random.default_rng(0)
    held = [to_tensor([simclr_view(im, 64, rng, pc.crop_scale) for im in ims]) for _ in range(2)]
    model.eval()
    before = view_similarity(model, *held, pc.temperature)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    for step in range(12):                                                # fresh views every step
        r = np.random.default_rng(100 + step)
        v1 = to_tensor([simclr_view(im, 64, r, pc.crop_scale) for im in ims])
        v2 = to_tensor([simclr_view(im, 64, r, pc.crop_scale) for im in ims])
        opt.zero_grad()
        model.simclr(v1, v2).backward()
        opt.step()
    model.eval()
    after = view_similarity(model, *held, pc.temperature)
    assert after["positive_cos"] > after["negative_cos"] + 0.1, after
    assert after["positive_cos"] - after["negative_cos"] > before["positive_cos"] - before["negative_cos"], (before, after)
    assert after["nt_xent"] < before["nt_xent"]


def test_pretrain_checkpoint_feeds_a_detector_and_a_killed_run_resumes_exactly(tmp_path):
    from training.loop import SimulatedCrash, Trainer
    from tests.training.conftest import tiny
    src = [str(require("coco_val2017_128"))]
    pc = check(PretrainConfig(task="mae", sources=src, holdout=4, decoder_dim=32), _cfg(tmp_path))
    over = {"optim": {"lr": 0.001, "epochs": 2, "iters_per_epoch": 3, "batch": 2, "warmup_iters": 1}, "checkpoint_every": 2}
    full = Pretrainer(_cfg(tmp_path, out=str(tmp_path / "full"), **over), pc, progress=False)
    res = full.run()
    assert res.steps == 6 and res.images == 28 and res.probe_before["masked_share"] == 0.75
    cut = Pretrainer(_cfg(tmp_path, out=str(tmp_path / "cut"), **over), pc, progress=False, crash_at=4)
    with pytest.raises(SimulatedCrash):
        cut.run()
    Pretrainer(_cfg(tmp_path, out=str(tmp_path / "cut"), **over), pc, progress=False, resume=tmp_path / "cut" / "last.pt").run()
    a, b = ckpt.read(tmp_path / "full" / "last.pt"), ckpt.read(tmp_path / "cut" / "last.pt")
    assert a["kind"] == "pretrain" and all(k.startswith("stage_a.backbone.") for k in a["model"])
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    # a detector config takes it as its transfer source: the backbone arrives, the rest is new
    t = Trainer(from_dict(tiny(tmp_path, transfer={"source": str(tmp_path / "full" / "last.pt")})), progress=False)
    own = t.model.state_dict()
    w = "stage_a.backbone.stages.0.1.conv.0.0.weight"
    assert torch.equal(own[w], a["model"][w])
    assert "tensors copied" in t.notes[0]


def _cli(*args):
    return maxsight(*args, timeout=300)


def test_bad_input_is_one_sentence(tmp_path):
    cfg = {"name": "p", "out": str(tmp_path / "p"), "model": {"preset": "t0", "backbone": "mobilenet_v2", "pretrained": True,
           "norm": "bn", "input_size": 64, "fpn_channels": 32}, "pretrain": {"task": "rotation", "sources": ["eval:coco_val2017_128"]},
           "optim": {"epochs": 1, "iters_per_epoch": 2, "batch": 2}}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(cfg))
    r = _cli("train", str(path))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip() == "maxsight: pretrain.task must be one of mae, simclr, got 'rotation'"
    # a checkpoint pretrained for another preset, given to a detector config
    cfg["pretrain"]["task"] = "mae"
    cfg["optim"]["iters_per_epoch"] = 1
    path.write_text(yaml.safe_dump(cfg))
    assert _cli("train", str(path), "--quiet").returncode == 0
    det = {**{k: cfg[k] for k in ("model", "optim")}, "name": "d", "out": str(tmp_path / "d"), "evaluate": False,
           "transfer": {"source": str(tmp_path / "p" / "last.pt")}}
    det["model"] = {**det["model"], "preset": "t2", "vit": {"dim": 32, "depth": 1, "heads": 2}}
    (tmp_path / "d.yaml").write_text(yaml.safe_dump(det))
    r = _cli("train", str(tmp_path / "d.yaml"))
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "was pretrained for model.preset 't0'" in r.stderr and "builds model.preset 't2'" in r.stderr
