"""Structured pruning (issue 18): removing channels nothing reads leaves the model's outputs
unchanged (so the surgery is exact), a pruned checkpoint rebuilds its own shape through
checkpoint.model_from, and `maxsight prune` reports accuracy and latency before and after."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
import yaml

from tests.training.conftest import tiny
from training import checkpoint as ckpt
from training.config import from_dict
from training.loop import Trainer
from training.model import Predictor, build_model
from training.prune import PruneError, apply_structure, kept, macs, prune, prune_unit, units


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trained_prune")
    Trainer(from_dict(tiny(tmp, optim__iters_per_epoch=2)), progress=False).run()
    return tmp / "run" / "last.pt"


@pytest.mark.parametrize("backbone,norm", [("mobilenet_v2", "frozen_bn"), ("resnet18", "bn")])
def test_removing_channels_nothing_reads_changes_no_output(tmp_path, backbone, norm):
    torch.manual_seed(0)
    cfg = from_dict(tiny(tmp_path, model__backbone=backbone, model__norm=norm, model__pretrained=backbone == "mobilenet_v2"))
    net = build_model(cfg).eval()
    x = torch.randn(2, 3, 96, 96)
    found = units(net)
    assert found and all(u.size >= 8 for u in found)
    with torch.no_grad():
        for u in found:                                                  # silence half of each unit's channels downstream
            block = net.get_submodule(u.path)
            consumer = block.conv[2] if u.kind == "mbv2" else (block.conv2 if u.kind in ("basic", "bottleneck_a") else block.conv3)
            consumer.weight[:, u.size // 2:] = 0
        ref = [t.clone() for t in Predictor(net)(x)]
        for u in found:
            prune_unit(net.get_submodule(u.path), u.kind, torch.arange(u.size // 2))
        got = Predictor(net)(x)
    for a, b in zip(ref, got):
        assert a.shape == b.shape and torch.allclose(a, b, rtol=1e-4, atol=1e-5), float((a - b).abs().max())   # summation order only


def test_pruned_checkpoint_rebuilds_and_is_smaller(trained, tmp_path):
    net, cfg, labels = ckpt.model_from(trained)
    x = torch.zeros(1, 3, 96, 96)
    full = macs(Predictor(net), x), sum(p.numel() for p in net.parameters())
    sizes = [u.size for u in units(net)]
    record = prune(net, 0.5)
    assert list(record["units"].values()) == [kept(s, 0.5) for s in sizes] == [u.size for u in units(net)]
    small = macs(Predictor(net), x), sum(p.numel() for p in net.parameters())
    assert small[0] < 0.85 * full[0] and small[1] < 0.85 * full[1], (full, small)
    data = ckpt.read(trained)
    ckpt.write(tmp_path / "p.pt", {**data, "model": net.state_dict(), "ema": None, "pruning": record})
    again, _, _ = ckpt.model_from(tmp_path / "p.pt")
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(Predictor(net.eval())(x), Predictor(again)(x)))
    fresh = build_model(cfg)
    apply_structure(fresh, record)
    assert sum(p.numel() for p in fresh.parameters()) == small[1]
    with pytest.raises(PruneError, match="between 0 and 1"):
        prune(net, 1.0)


def test_prune_command_measures_accuracy_and_latency(trained, tmp_path):
    r = subprocess.run([sys.executable, "-m", "maxsight_app", "prune", str(trained), "--ratio", "0.5", "--finetune", "2",
                        "--out", str(tmp_path / "p"), "--limit", "2", "--quiet"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Pruned 50% of the backbone's inner channels" in r.stdout and "ms per image" in r.stdout
    rep = json.loads((tmp_path / "p" / "prune.json").read_text())
    a = rep["accuracy"]
    assert a["full"]["images"] == a["pruned"]["images"] == 2 and a["full"]["split"] == a["pruned"]["split"] == "dev"
    assert rep["after"]["macs"] < rep["before"]["macs"] and rep["latency_interleaved_ms"]["pruned"] > 0
    pruned = ckpt.read(rep["pruned"])
    assert pruned["pruning"]["ratio"] == 0.5 and pruned["step"] == 2               # the fine-tuned one
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(tiny(tmp_path)))
    again = subprocess.run([sys.executable, "-m", "maxsight_app", "train", str(tmp_path / "c.yaml"), "--resume", rep["pruned"]],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "is a pruned checkpoint, which --resume cannot continue" in again.stderr
