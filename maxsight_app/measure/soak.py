"""`maxsight soak --minutes N`: does MaxSight stay healthy for an hour? A benchmark, not a test.

A real video with a real speech track is replayed in real time, looping, through the whole runtime
at the window's tier (Stage A, sounds, captions, reading, personal objects; speech and earcons
rendered to a WAV). Every 10 s it samples the main process's resident memory, threads and open
files, the Stage B worker's memory, and Stage A's p95 over the last 10 s. At the end it times the
shutdown and checks the targets:
  * main RSS growth < 2% (after the first minute, when models and caches have loaded);
  * the worker's RSS never above its ceiling (it is restarted when it goes over);
  * no Stage B hang;
  * clean exit within 2 s;
  * Stage A p95 of the last 10 minutes no more than 10% above the first 10 (shorter runs: first
    and last thirds); faster is fine;
  * Stage A p95 with Stage B under the 100 ms frame interval of a 10 fps camera.

Stage A with and without Stage B, in the same run: every PAUSE_EVERY-th 10 s window runs with the
Stage B worker detached (it idles; its audio for that window is not captioned), everything else as
it was (real-time pacing, the door and stairs model's cadence, speech rendered). The two p95s over
all frames of their windows are one number for the app as it runs and its reference, measured on
the same machine at the same time: a benchmark run beside Stage B on a quiet machine and a soak
that paces in real time and renders speech were telling two different stories.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.types import AudioChunk, Frame
from maxsight_app.capture.feed import Feed
from maxsight_app.capture.video import VideoFileSource
from maxsight_app.compose import Runtime

SAMPLE_EVERY_S = 10.0
WARMUP_S = 60.0
PAUSE_EVERY = 4            # every 4th sample window runs without Stage B (the reference)
FRAME_BUDGET_MS = 100.0    # a 10 fps camera's frame interval


def _rss_mb(pid: int | None = None) -> float:
    try:
        with open(f"/proc/{pid or 'self'}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def _count(folder: str) -> int:
    try:
        return len(os.listdir(folder))
    except OSError:
        return 0


@dataclass
class SoakResult:
    minutes: float
    source: str
    tier: str
    samples: list[dict] = field(default_factory=list)
    frames: int = 0
    loops: int = 0
    exit_s: float = 0.0
    memory_ceiling_mb: float = 0.0
    stage_b_restarts: int = 0
    hangs: int = 0
    problems: list[str] = field(default_factory=list)
    stage_a_with_b_ms: list[float] = field(default_factory=list)      # every frame's Stage A time, Stage B on
    stage_a_without_b_ms: list[float] = field(default_factory=list)   # ... in the windows it was detached

    def stage_a_paired(self) -> dict:
        """Stage A median and p95 with and without Stage B over this run's frames, and their ratio."""
        def stats(x):
            x = np.asarray([v for v in x if v == v], float)
            return {"frames": int(len(x)), "median_ms": round(float(np.median(x)), 2) if len(x) else None,
                    "p95_ms": round(float(np.percentile(x, 95)), 2) if len(x) else None}
        on, off = stats(self.stage_a_with_b_ms), stats(self.stage_a_without_b_ms)
        ratio = round(on["p95_ms"] / off["p95_ms"], 3) if on["p95_ms"] and off["p95_ms"] else None
        return {"with_stage_b": on, "without_stage_b": off, "p95_ratio": ratio}

    def checks(self) -> dict[str, dict]:
        s = self.samples
        late = [x for x in s if x["t_s"] >= min(WARMUP_S, 0.2 * self.minutes * 60)]
        out = {}
        if len(late) >= 2:
            growth = (late[-1]["main_rss_mb"] - late[0]["main_rss_mb"]) / late[0]["main_rss_mb"] * 100
            out["main RSS growth < 2%"] = {"value": f"{growth:+.2f}%", "pass": growth < 2.0}
        worker_max = max((x["worker_rss_mb"] for x in s), default=0.0)
        out["worker RSS <= ceiling"] = {"value": f"max {worker_max:.0f} MB of {self.memory_ceiling_mb:.0f}",
                                        "pass": worker_max <= self.memory_ceiling_mb}
        out["no Stage B hang"] = {"value": str(self.hangs), "pass": self.hangs == 0}
        out["clean exit within 2 s"] = {"value": f"{self.exit_s:.2f} s", "pass": self.exit_s <= 2.0}
        window = min(600.0, self.minutes * 60 / 3)
        end = s[-1]["t_s"] if s else 0.0
        first = [x["stage_a_p95_ms"] for x in s if x["t_s"] <= window and x["stage_a_p95_ms"] == x["stage_a_p95_ms"]]
        last = [x["stage_a_p95_ms"] for x in s if x["t_s"] >= end - window and x["stage_a_p95_ms"] == x["stage_a_p95_ms"]]
        if first and last:
            a, b = float(np.median(first)), float(np.median(last))
            # One-sided: only a slower Stage A is a regression; getting faster (caches warm, a
            # neighbour finished) passes.
            out["Stage A p95 no more than 10% slower"] = {"value": f"{a:.1f} -> {b:.1f} ms ({(b / a - 1) * 100:+.1f}%)",
                                                         "pass": b <= a * 1.10}
        paired = self.stage_a_paired()
        on, off = paired["with_stage_b"], paired["without_stage_b"]
        if on["p95_ms"] is not None:
            ref = f" (without Stage B {off['p95_ms']:.1f} ms, x{paired['p95_ratio']:.2f})" if off["p95_ms"] else ""
            out[f"Stage A with Stage B: p95 < {FRAME_BUDGET_MS:.0f} ms"] = {"value": f"{on['p95_ms']:.1f} ms{ref}",
                                                                      "pass": on["p95_ms"] < FRAME_BUDGET_MS}
        return out

    @property
    def passed(self) -> bool:
        return all(c["pass"] for c in self.checks().values())

    def to_json(self) -> dict:
        return {"minutes": self.minutes, "source": self.source, "tier": self.tier, "frames": self.frames, "loops": self.loops,
                "exit_s": self.exit_s, "memory_ceiling_mb": self.memory_ceiling_mb, "stage_b_restarts": self.stage_b_restarts,
                "hangs": self.hangs, "problems": self.problems, "samples": self.samples, "checks": self.checks(),
                "stage_a_paired": self.stage_a_paired(), "passed": self.passed}


def soak(rt: Runtime, video: Path, minutes: float, progress=None) -> SoakResult:
    """Run `rt` on `video`, looped in real time, for `minutes`; close it and time the close."""
    res = SoakResult(minutes, str(video), rt.config.tier.value, memory_ceiling_mb=rt.config.stage_b_memory_mb)
    t_start = time.monotonic()
    end = t_start + minutes * 60
    next_sample = t_start + SAMPLE_EVERY_S
    window: list[float] = []
    offset_t, offset_i = 0.0, 0
    stage_b, windows = rt.session.pipeline.stage_b, 0
    try:
        while time.monotonic() < end:
            last_t, last_i = 0.0, 0
            with Feed(VideoFileSource(video), realtime=True, audio=rt.stage_b is not None) as feed:
                for frame, audio in feed:
                    last_t, last_i = frame.timestamp, frame.index
                    # One continuous stream across loops, as a camera would give.
                    f = Frame(frame.index + offset_i, frame.timestamp + offset_t, frame.image)
                    a = AudioChunk(audio.timestamp + offset_t, audio.samples, audio.sample_rate) if audio is not None else None
                    paused = stage_b is not None and windows % PAUSE_EVERY == PAUSE_EVERY - 1
                    rt.session.pipeline.stage_b = None if paused else stage_b
                    tick = rt.session.handle(f, a)
                    res.frames += 1
                    stage_a_ms = tick.result.timings_ms.get("stage_a", float("nan"))
                    window.append(stage_a_ms)
                    (res.stage_a_without_b_ms if paused else res.stage_a_with_b_ms).append(stage_a_ms)
                    for p in tick.result.problems:
                        if p not in res.problems:
                            res.problems.append(p)
                        if "no answer within" in p:
                            res.hangs += 1
                    now = time.monotonic()
                    if now >= next_sample:
                        sched = rt.stage_b
                        sample = {
                            "t_s": round(now - t_start, 1),
                            "main_rss_mb": round(_rss_mb(), 1),
                            "worker_rss_mb": round(_rss_mb(sched.worker_pid) if sched and sched.worker_pid else 0.0, 1),
                            "threads": _count("/proc/self/task"),
                            "open_files": _count("/proc/self/fd"),
                            "stage_a_p95_ms": round(float(np.nanpercentile(window, 95)), 2) if window else float("nan"),
                            "stage_a_median_ms": round(float(np.nanmedian(window)), 2) if window else float("nan"),
                            "frames": res.frames,
                            "stage_b_restarts": sched.status.restarts if sched else 0,
                            "stage_b": "off" if paused else ("on" if stage_b is not None else "none"),
                        }
                        windows += 1
                        res.samples.append(sample)
                        window = []
                        next_sample += SAMPLE_EVERY_S
                        if progress:
                            progress(sample)
                    if now >= end:
                        break
            offset_t += last_t + 0.1
            offset_i += last_i + 1
            res.loops += 1
    finally:
        rt.session.pipeline.stage_b = stage_b          # attached again, so close() ends the worker
        res.stage_b_restarts = rt.stage_b.status.restarts if rt.stage_b else 0
        t0 = time.monotonic()
        rt.close()
        res.exit_s = time.monotonic() - t0
    return res


def table(r: SoakResult) -> str:
    lines = [f"Soak: {r.minutes:g} min at {r.tier} on {Path(r.source).name} (looped {r.loops}x, {r.frames} frames, "
             f"{len(r.samples)} samples every {SAMPLE_EVERY_S:.0f} s)",
             f"{'t (s)':>7} {'main MB':>8} {'worker MB':>9} {'threads':>7} {'files':>5} {'A p95 ms':>9}"]
    step = max(1, len(r.samples) // 12)
    for s in r.samples[::step] + (r.samples[-1:] if r.samples and (len(r.samples) - 1) % step else []):
        lines.append(f"{s['t_s']:>7.0f} {s['main_rss_mb']:>8.1f} {s['worker_rss_mb']:>9.1f} {s['threads']:>7} "
                     f"{s['open_files']:>5} {s['stage_a_p95_ms']:>9.1f}")
    paired = r.stage_a_paired()
    for label, key in (("with Stage B", "with_stage_b"), ("without Stage B", "without_stage_b")):
        x = paired[key]
        if x["frames"]:
            lines.append(f"Stage A {label:<16} median {x['median_ms']:>6.1f} ms  p95 {x['p95_ms']:>6.1f} ms  ({x['frames']} frames)")
    for name, c in r.checks().items():
        lines.append(f"{'PASS' if c['pass'] else 'FAIL'}  {name}: {c['value']}")
    lines.append(f"{'PASS' if r.passed else 'FAIL'}: soak targets ({sum(c['pass'] for c in r.checks().values())}/{len(r.checks())})")
    if r.problems:
        lines.append("problems reported: " + "; ".join(r.problems[:5]))
    return "\n".join(lines)


def plot(r: SoakResult, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    t = [s["t_s"] / 60 for s in r.samples]
    fig, axes = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
    axes[0].plot(t, [s["main_rss_mb"] for s in r.samples], label="main")
    axes[0].plot(t, [s["worker_rss_mb"] for s in r.samples], label="Stage B worker")
    axes[0].axhline(r.memory_ceiling_mb, ls="--", c="grey", label="worker ceiling")
    axes[0].set_ylabel("RSS (MB)")
    axes[0].legend()
    axes[1].plot(t, [s["stage_a_p95_ms"] for s in r.samples], label="p95")
    axes[1].plot(t, [s["stage_a_median_ms"] for s in r.samples], label="median")
    axes[1].set_ylabel("Stage A (ms)")
    axes[1].legend()
    axes[2].plot(t, [s["threads"] for s in r.samples], label="threads")
    axes[2].plot(t, [s["open_files"] for s in r.samples], label="open files")
    axes[2].set_xlabel("minutes")
    axes[2].legend()
    fig.suptitle(f"MaxSight soak, {r.tier}: {'PASS' if r.passed else 'FAIL'}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
