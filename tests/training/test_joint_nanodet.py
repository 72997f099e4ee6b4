"""The joint detector's training (training/joint.py) on a tiny real subset of accessibility_objects:
at step 0 the distillation terms are zero (the student is the teacher plus new rows); after a few
steps the 80 old outputs stay close to the teacher's on real frames; a run resumes from its
checkpoint at the step it reached."""
from __future__ import annotations

import pytest
import torch

from engine.samples import sample_frames


@pytest.fixture(scope="module")
def cfg(installed_models, eval_data):
    from training import joint as J
    from training import nanodet_torch as N
    if not all(p.is_file() for p in N.tfjs_files()):
        pytest.skip("NanoDet's TF.js graph is not installed; run `maxsight models fetch`")
    # the recipe's own start: lr 1e-3 warmed up over 100 steps, the body at a tenth
    return J.validate(J.JointConfig(batch=2, iters=3000, warmup_iters=100, lr=0.001, body_lr_mult=0.1, checkpoint_every=0,
                                    log_every=1, workers=0, device="cpu"))


def test_distillation_terms_are_zero_at_step_0(cfg, tmp_path):
    from training import joint as J
    tr = J.JointTrainer(cfg, out_dir=tmp_path, resume=None, progress=False)
    batch = J.collate([tr.data[(0, j, int(i))] for j, i in enumerate(tr.data.index(0, 2))])
    x = J.N.normalise(batch["image"])
    with torch.no_grad():
        losses = J.joint_loss(tr.model(x), tr.teacher(x), batch["targets"], cfg, tr.grid)
    assert abs(float(losses["distill_cls"])) < 1e-6, losses
    assert abs(float(losses["distill_box"])) < 1e-5, losses
    assert float(losses["new_cls"]) > 0 and float(losses["total"]) > 0


def test_a_few_steps_keep_the_old_classes_and_resume(cfg, tmp_path):
    from training import joint as J
    tr = J.JointTrainer(cfg, out_dir=tmp_path, resume=None, progress=False)
    new_rows = tr.model.heads[0].weight[80:86].detach().clone()
    r = tr.run(max_iters=2)
    assert r.step == 2 and r.iterations == 2 and r.first_loss == r.first_loss and r.last_loss == r.last_loss
    assert not torch.equal(new_rows, tr.model.heads[0].weight[80:86].detach()), "the new class rows did not train"
    params = list(tr.model.parameters())
    assert all(p.requires_grad for p in params) and not any(p.requires_grad for p in tr.teacher.parameters())
    assert len(tr.opt.state) == len(params), f"only {len(tr.opt.state)} of {len(params)} parameters were trained"
    drift = J.old_class_drift(tr.model, tr.teacher, sample_frames(2, every=100))
    # (two steps cannot show that distillation helps over a long run; docs/measurements/issue24.md)
    assert drift["max_abs_score"] < 0.05, drift
    assert drift["mean_abs_box_px"] < 1.0, drift
    assert (tmp_path / "last.pt").is_file() and (tmp_path / "curve.csv").is_file()
    again = J.JointTrainer(cfg, out_dir=tmp_path, progress=False)          # resume="auto": OUT/last.pt
    assert again.step == 2 and len(again.curve) == 2
    for a, b in zip(again.model.state_dict().values(), tr.model.state_dict().values()):
        assert torch.equal(a, b)
    assert again.run(max_iters=1).step == 3
    w = again.save_weights(tmp_path / "w" / "joint_weights.pt")          # what a GPU run hands back
    net, _, labels = J.model_from(w)
    assert labels[-1] == "stair_up" and all(torch.equal(a, b) for a, b in zip(net.state_dict().values(),
                                                                                again.model.state_dict().values()))
    third = J.JointTrainer(cfg, out_dir=tmp_path / "w", resume=w, progress=False)
    assert third.step == 3 and "afresh" in third.notes[-1]
