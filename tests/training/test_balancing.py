"""GradNorm moves weight toward the slower task; PCGrad removes conflicts; phased unlock."""
from __future__ import annotations

import torch

from training.balancing import GradNorm, PCGrad, StaticBalancer, phase_weights
from training.config import Phase


def test_gradnorm_weights_move_toward_the_slower_task():
    torch.manual_seed(0)
    x = torch.randn(256, 8)
    y_fast = x @ torch.randn(8, 1)                                     # linear: learned quickly
    y_slow = torch.sin(3 * x[:, :1]) * torch.cos(2 * x[:, 1:2])        # hard for the model: learned slowly
    shared = torch.nn.Linear(8, 32)
    heads = torch.nn.ModuleList([torch.nn.Linear(32, 1), torch.nn.Linear(32, 1)])
    params = list(shared.parameters()) + list(heads.parameters())
    opt = torch.optim.SGD(params, lr=0.05)
    gn = GradNorm(alpha=1.5, lr=0.01)
    base = {"fast": 1.0, "slow": 1.0}
    for _ in range(150):
        h = torch.relu(shared(x))
        losses = {"fast": ((heads[0](h) - y_fast) ** 2).mean(), "slow": ((heads[1](h) - y_slow) ** 2).mean()}
        gn.update(losses, base, [shared.weight])
        opt.zero_grad()
        gn.total(losses, base).backward()
        opt.step()
    rel_fast = float(losses["fast"]) / gn.initial["fast"]
    rel_slow = float(losses["slow"]) / gn.initial["slow"]
    assert rel_slow > rel_fast                                          # the premise: 'slow' really is slower
    w = gn.task_weights()
    assert w["slow"] > 1.0 > w["fast"] and abs(w["slow"] + w["fast"] - 2.0) < 1e-6


def test_gradnorm_state_round_trips():
    gn = GradNorm()
    gn.w, gn.initial, gn.steps = {"a": 1.2, "b": 0.8}, {"a": 2.0, "b": 1.0}, 7
    other = GradNorm()
    other.load_state_dict(gn.state_dict())
    assert other.task_weights() == gn.task_weights() and other.steps == 7


def test_pcgrad_projects_away_conflicting_gradients():
    p = torch.nn.Parameter(torch.zeros(2))
    target_a, target_b = torch.tensor([1.0, 0.0]), torch.tensor([-2.0, 1.0])   # gradients point against each other
    losses = {"a": -(p * target_a).sum(), "b": -(p * target_b).sum()}
    pc = PCGrad(seed=0)
    pc.backward(losses, {"a": 1.0, "b": 1.0}, [p])
    g = -p.grad                                                          # descent direction
    assert pc.conflicts == 2
    assert float(g @ target_a) >= -1e-6 and float(g @ target_b) >= -1e-6   # neither task is made worse
    plain = target_a + target_b
    assert float(plain @ target_a) < 0                                   # whereas the plain sum would hurt task a


def test_phased_unlock_and_static_total():
    phases = [Phase(2, {"box": 3.0}), Phase(None, {"box": 3.0, "motion": 0.6})]
    assert phase_weights(phases, 0) == {"box": 3.0} and phase_weights(phases, 5)["motion"] == 0.6
    losses = {"box": torch.tensor(2.0), "motion": torch.tensor(5.0)}
    assert float(StaticBalancer().total(losses, phase_weights(phases, 0))) == 6.0
    assert float(StaticBalancer().total(losses, phase_weights(phases, 2))) == 9.0
