"""The loop: exact resume after a crash, learning on a fixed batch, checkpoint contents, logs and
plots, T2 -> T5 transfer with its freeze schedule, AMP choice."""
from __future__ import annotations

import csv

import pytest
import torch

from training import checkpoint as ckpt
from training.config import from_dict
from training.loop import SimulatedCrash, Trainer, amp_dtype


def test_killed_run_resumed_ends_with_the_same_weights(tiny_cfg, tmp_path):
    over = dict(optim__epochs=2, optim__iters_per_epoch=4, checkpoint_every=2, loss__balancing="gradnorm")
    full = Trainer(tiny_cfg(out=str(tmp_path / "full"), **over), progress=False)
    full.run()
    crashed = Trainer(tiny_cfg(out=str(tmp_path / "b"), **over), progress=False, crash_at=7)   # epoch 1, iteration 3
    with pytest.raises(SimulatedCrash):
        crashed.run()
    state = ckpt.read(tmp_path / "b" / "last.pt")
    assert (state["epoch"], state["iteration"]) == (1, 2)    # the last checkpoint, mid-epoch; iteration 2 was lost
    resumed = Trainer(tiny_cfg(out=str(tmp_path / "b"), **over), progress=False, resume=tmp_path / "b" / "last.pt")
    resumed.run()
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    ea, eb = full.ema.module.state_dict(), resumed.ema.module.state_dict()
    assert all(torch.equal(ea[k], eb[k]) for k in ea)
    assert full.balancer.task_weights() == resumed.balancer.task_weights()
    steps = [int(r["step"]) for r in csv.DictReader((tmp_path / "b" / "metrics.csv").open())]
    assert steps == sorted(set(steps))                                   # no duplicated rows after the resume


def test_loss_falls_on_a_fixed_batch(tiny_cfg, tmp_path):
    # Two images seen over and over, no augmentation: the model must fit them.
    cfg = tiny_cfg(data__augment={"flip": 0, "photometric": 0, "cutout": 0, "mosaic": 0, "condition": 0, "scale": [1, 1], "translate": 0},
                   optim__iters_per_epoch=1, optim__epochs=30, optim__warmup_iters=0, optim__batch=2, log_every=1, optim__ema=None)
    trainer = Trainer(cfg, progress=False)
    trainer.dataset.source.images = trainer.dataset.source.images[:2]
    trainer.run()
    rows = list(csv.DictReader((tmp_path / "run" / "metrics.csv").open()))
    first = sum(float(r["loss_total"]) for r in rows[:3]) / 3
    last = sum(float(r["loss_total"]) for r in rows[-3:]) / 3
    assert last < 0.6 * first, (first, last)
    assert (tmp_path / "run" / "curves.png").stat().st_size > 1000


def test_checkpoint_carries_config_and_dimensions_and_rebuilds(tiny_cfg, tmp_path):
    Trainer(tiny_cfg(), progress=False).run()
    data = ckpt.read(tmp_path / "run" / "last.pt")
    assert data["dims"]["input_size"] == 96 and data["dims"]["grid"] == 6 and data["dims"]["num_classes"] == 80
    assert data["config"]["model"]["backbone"] == "mobilenet_v2" and len(data["labels"]) == 80
    net, cfg, labels = ckpt.model_from(tmp_path / "run" / "last.pt")
    assert cfg.model.input_size == 96 and labels[0] == "person"
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ckpt.CheckpointError, match="not a readable MaxSight checkpoint"):
        ckpt.read(tmp_path / "junk.pt")


def test_t2_to_t5_transfer_with_freeze_schedule_and_group_rates(tiny_cfg, tmp_path):
    Trainer(tiny_cfg(model__preset="t2", out=str(tmp_path / "t2")), progress=False).run()
    cfg = tiny_cfg(model__preset="t5", out=str(tmp_path / "t5"), optim__epochs=2, optim__iters_per_epoch=1,
                   transfer={"source": str(tmp_path / "t2" / "last.pt"),
                             "lr_groups": {"cnn": 0.2, "vit_low": 0.5, "vit_top": 0.5, "detection": 0.6, "temporal": 1.0, "new_heads": 1.3},
                             "freeze": [{"until_epoch": 1, "frozen": ["cnn", "vit_low", "vit_top", "detection"]}, {"frozen": []}]})
    t = Trainer(cfg, progress=False)
    assert "tensors copied" in t.notes[0]
    t2 = ckpt.read(tmp_path / "t2" / "last.pt")["model"]
    before = {k: v.clone() for k, v in t.model.state_dict().items()}
    assert torch.equal(before["stage_a.fuse.weight"], t2["stage_a.fuse.weight"])          # transferred
    rates = {g["name"]: g["lr"] / cfg.optim.lr for g in t.opt.param_groups}
    assert rates["cnn"] == pytest.approx(0.2) and rates["new_heads"] == pytest.approx(1.3) and rates["temporal"] == pytest.approx(1.0)
    seen = {}
    real_step = t._optimizer_step

    def spy():
        seen[t.epoch] = {n: p.requires_grad for n, p in t.model.named_parameters()}
        seen.setdefault(f"heads at epoch {t.epoch}", t.model.heads.box.conv.weight.detach().clone())
        return real_step()
    t._optimizer_step = spy
    t.run()
    assert not seen[0]["stage_a.fuse.weight"] and not seen[0]["heads.box.conv.weight"] and seen[0]["temporal.cell.gates.weight"]
    assert seen[1]["stage_a.fuse.weight"] and seen[1]["heads.box.conv.weight"]
    # Epoch 0 trained only the new parts: the transferred heads were still as copied when epoch 1 began.
    assert torch.equal(seen["heads at epoch 1"], before["heads.box.conv.weight"])
    assert not torch.equal(t.model.heads.box.conv.weight, before["heads.box.conv.weight"])


def test_pcgrad_and_accumulation_in_the_loop(tiny_cfg, tmp_path):
    t = Trainer(tiny_cfg(loss__balancing="pcgrad", optim__accum=2, optim__iters_per_epoch=4), progress=False)
    before = {k: v.clone() for k, v in t.model.state_dict().items()}
    r = t.run()
    assert r.iterations == 4 and r.steps == 2                            # two micro-batches per optimizer step
    assert t.balancer.conflicts > 0                                      # real Tier-1 tasks do pull against each other
    assert any(not torch.equal(before[k], v) for k, v in t.model.state_dict().items())
    assert ckpt.read(tmp_path / "run" / "last.pt")["balancer"]["conflicts"] == t.balancer.conflicts


def test_deterministic_option_turns_on_deterministic_kernels(tiny_cfg):
    was = torch.are_deterministic_algorithms_enabled()
    try:
        Trainer(tiny_cfg(deterministic=True), progress=False)
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(was)


def test_amp_choice_by_device():
    assert amp_dtype("auto", torch.device("cpu")) is None
    assert amp_dtype("bf16", torch.device("cpu")) == torch.bfloat16
    assert amp_dtype("off", torch.device("cuda", 0)) is None
