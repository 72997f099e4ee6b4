"""Reports for therapists: a user's session history as plots (PNG and PDF) and CSV files.

Page: accuracy and mean response time per session; contrast threshold per session (the
geometric mean contrast of the last 6 contrast-chart trials, the staircase's resting point);
and the latest session trial by trial, response time with the fatigue estimate over it."""
from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")        # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402

from maxsight_app.files import OutputError, atomic_paths, why_not_written  # noqa: E402
from maxsight_app.profile.store import ProfileStore  # noqa: E402
from maxsight_app.profile.words import condition_name  # noqa: E402


@dataclass(frozen=True)
class Report:
    png: Path
    pdf: Path
    sessions_csv: Path
    trials_csv: Path
    sessions: int


def _threshold(trials: list[dict]) -> float | None:
    levels = [t["level"] for t in trials if t["task"] == "contrast chart" and t["level"]][-6:]
    return math.exp(sum(math.log(x) for x in levels) / len(levels)) if levels else None


def generate(store: ProfileStore, user_id: int, out_dir: Path) -> Report:
    out_dir = Path(out_dir)
    name = store.user_name(user_id)
    sessions = store.therapy_sessions(user_id)
    if not sessions:
        raise ValueError(f"{name} has no therapy sessions yet; run one first")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the report folder {out_dir} ({why_not_written(exc)})") from None
    trials = {s["id"]: store.therapy_trials(s["id"]) for s in sessions}
    stem = f"maxsight-report-{safe_stem(name)}"
    final = [out_dir / f"{stem}-sessions.csv", out_dir / f"{stem}-trials.csv", out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"]
    with atomic_paths(final) as (sessions_csv, trials_csv, png, pdf):    # all four, or none
        _write(sessions, trials, name, sessions_csv, trials_csv, png, pdf)
    return Report(final[2], final[3], final[0], final[1], len(sessions))


def safe_stem(name: str) -> str:
    """A profile name as part of a file name: letters, digits, '-', '_' and '.' only, never a path
    (names written before `/` and `..` were refused may still hold them)."""
    stem = re.sub(r"[^\w.-]+", "_", name).strip("._") or "profile"
    return stem.replace("..", "_")[:80]


def _write(sessions, trials, name, sessions_csv, trials_csv, png, pdf) -> None:
    with open(sessions_csv, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(sessions[0]) + ["contrast_threshold"])
        w.writeheader()
        for s in sessions:
            w.writerow({**s, "contrast_threshold": _threshold(trials[s["id"]])})
    with open(trials_csv, "w", newline="") as f:
        rows = [t for s in sessions for t in trials[s["id"]]]
        w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["session_id"])
        w.writeheader()
        w.writerows(rows)

    idx = list(range(1, len(sessions) + 1))
    acc = [100 * (s["correct"] or 0) / s["trials"] if s["trials"] else float("nan") for s in sessions]
    rt = [s["mean_rt_s"] if s["mean_rt_s"] is not None else float("nan") for s in sessions]
    thr = [_threshold(trials[s["id"]]) or float("nan") for s in sessions]
    fig, ax = plt.subplots(2, 2, figsize=(11, 8))
    fig.suptitle(f"MaxSight therapy report: {name} ({len(sessions)} session(s); "
                 f"condition {condition_name(sessions[-1]['condition'])}, "
                 f"severity {sessions[-1]['severity']:.2f})")
    ax[0, 0].plot(idx, acc, "o-", color="#1f5fbf")
    ax[0, 0].set(title="Accuracy per session", xlabel="session", ylabel="% correct", ylim=(0, 105))
    ax[0, 1].plot(idx, rt, "s-", color="#bf5f1f")
    ax[0, 1].set(title="Mean response time", xlabel="session", ylabel="seconds")
    ax[1, 0].semilogy(idx, thr, "^-", color="#2f8f2f")
    ax[1, 0].set(title="Contrast threshold (lower is better)", xlabel="session", ylabel="Weber contrast")
    last = trials[sessions[-1]["id"]]
    ax[1, 1].plot([t["n"] for t in last], [t["rt_s"] for t in last], ".-", color="#444444", label="response time (s)")
    ax[1, 1].set(title="Latest session, trial by trial", xlabel="trial", ylabel="seconds")
    twin = ax[1, 1].twinx()
    twin.plot([t["n"] for t in last], [t["fatigue"] for t in last], "-", color="#cc2222", label="fatigue (0-1)")
    twin.set(ylim=(0, 1.05), ylabel="fatigue")
    ax[1, 1].legend(loc="upper left")
    twin.legend(loc="upper right")
    from matplotlib.ticker import MaxNLocator
    for a in ax.flat:
        a.grid(alpha=0.3)
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    try:
        fig.savefig(png, dpi=110, format="png")
        fig.savefig(pdf, format="pdf")
    finally:
        plt.close(fig)
