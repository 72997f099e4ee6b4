"""The soak's Stage A check is one-sided: a Stage A that gets faster over the hour passes, one
that gets more than 10% slower fails."""
from __future__ import annotations

from maxsight_app.measure.soak import SoakResult


def _result(first_ms: float, last_ms: float) -> SoakResult:
    r = SoakResult(minutes=3.0, source="v.mp4", tier="T4", memory_ceiling_mb=900.0, exit_s=0.5)
    for t in range(0, 181, 10):
        r.samples.append({"t_s": float(t), "main_rss_mb": 500.0, "worker_rss_mb": 300.0,
                          "stage_a_p95_ms": first_ms if t < 90 else last_ms})
    return r


def _stage_a(r: SoakResult) -> dict:
    (check,) = [v for k, v in r.checks().items() if k.startswith("Stage A p95")]
    return check


def test_a_faster_stage_a_passes():
    r = _result(40.0, 25.0)
    assert _stage_a(r)["pass"] and r.passed


def test_a_slower_stage_a_fails():
    assert _stage_a(_result(40.0, 44.5))["pass"] is False
    assert _stage_a(_result(40.0, 43.9))["pass"] is True
