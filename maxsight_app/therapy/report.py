"""Reports for therapists: a user's session history as plots (PNG and PDF) and CSV files.

Page: accuracy and mean response time per session; contrast threshold per session (the
geometric mean contrast of the last 6 contrast-chart trials, the staircase's resting point);
and the latest session trial by trial, response time with the fatigue estimate over it. With the
near-miss log (maxsight_app/nearmiss.py): warnings and dangers per day and find mode's findability
per finding on the same page, then the log as a timeline with its pictures (PDF, newest
LOG_PAGES * LOG_PER_PAGE entries) and all of it in a CSV. Entries that cannot be read are
skipped and listed in `Report.skipped`."""
from __future__ import annotations

import csv
import math
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")        # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from maxsight_app.nearmiss import Entry, read_log  # noqa: E402
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
    near_misses_csv: Path | None = None
    near_misses: int = 0                 # log entries in the report (warnings, dangers, findings)
    skipped: tuple[str, ...] = ()        # one sentence per log entry that could not be read


LOG_PER_PAGE = 8
LOG_PAGES = 10
LOG_FIELDS = ("at", "media_s", "kind", "urgency", "text", "label", "distance_m", "clock", "find_score", "find_level",
              "find_size_deg", "find_contrast", "find_field", "detail")


def _threshold(trials: list[dict]) -> float | None:
    levels = [t["level"] for t in trials if t["task"] == "contrast chart" and t["level"]][-6:]
    return math.exp(sum(math.log(x) for x in levels) / len(levels)) if levels else None


def generate(store: ProfileStore, user_id: int, out_dir: Path) -> Report:
    out_dir = Path(out_dir)
    name = store.user_name(user_id)
    sessions = store.therapy_sessions(user_id)
    log_entries, skipped = read_log(store, user_id)
    if not sessions and not log_entries:
        raise ValueError(f"{name} has no therapy sessions yet and no near-miss log; run one first")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the report folder {out_dir} ({why_not_written(exc)})") from None
    trials = {s["id"]: store.therapy_trials(s["id"]) for s in sessions}
    stem = f"maxsight-report-{safe_stem(name)}"
    final = [out_dir / f"{stem}-sessions.csv", out_dir / f"{stem}-trials.csv", out_dir / f"{stem}.png", out_dir / f"{stem}.pdf",
             out_dir / f"{stem}-near-misses.csv"]
    with atomic_paths(final) as (sessions_csv, trials_csv, png, pdf, log_csv):    # all five, or none
        _write(sessions, trials, name, sessions_csv, trials_csv, png, pdf, log_entries, skipped, log_csv)
    return Report(final[2], final[3], final[0], final[1], len(sessions), final[4], len(log_entries), tuple(skipped))


def safe_stem(name: str) -> str:
    """A profile name as part of a file name: letters, digits, '-', '_' and '.' only, never a path
    (names written before `/` and `..` were refused may still hold them)."""
    stem = re.sub(r"[^\w.-]+", "_", name).strip("._") or "profile"
    return stem.replace("..", "_")[:80]


def _write_log_csv(entries: list[Entry], path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(LOG_FIELDS))
        w.writeheader()
        for e in entries:
            w.writerow({k: getattr(e, k) for k in LOG_FIELDS})


def _log_panels(ax_hazards, ax_find, entries: list[Entry]) -> None:
    """Warnings and dangers said per day; find mode's findability score per finding."""
    days = sorted({e.at[:10] for e in entries if e.kind == "hazard"})
    for i, (urg, colour) in enumerate((("warning", "#d08a00"), ("danger", "#cc2222"))):
        counts = [sum(1 for e in entries if e.kind == "hazard" and e.urgency == urg and e.at[:10] == d) for d in days]
        ax_hazards.bar([j + (i - 0.5) * 0.4 for j in range(len(days))], counts, width=0.4, color=colour, label=urg)
    ax_hazards.set_xticks(range(len(days)), days, rotation=30, fontsize=7)
    ax_hazards.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax_hazards.set(title=f"Near misses said per day ({sum(e.kind == 'hazard' for e in entries)} in the log)",
                   ylabel="cues")
    if days:
        ax_hazards.legend(loc="upper left")
    else:
        ax_hazards.text(0.5, 0.5, "no near misses logged", ha="center", va="center", transform=ax_hazards.transAxes)
    finds = [e for e in entries if e.kind == "find" and e.find_score is not None]
    ax_find.plot(range(1, len(finds) + 1), [e.find_score for e in finds], "o", color="#2f5f8f")
    for j, e in enumerate(finds, 1):
        ax_find.annotate(e.label, (j, e.find_score), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax_find.set(title="Findability of what find mode found (1 = easy)", xlabel="finding", ylabel="score", ylim=(0, 1.05),
                xlim=(0.5, max(1, len(finds)) + 0.5))
    if not finds:
        ax_find.text(0.5, 0.5, "no findings logged", ha="center", va="center", transform=ax_find.transAxes)


def _log_pages(pdf_pages, entries: list[Entry], skipped: list[str], name: str) -> None:
    """The log as a timeline: the newest LOG_PAGES * LOG_PER_PAGE entries, picture and words each."""
    shown = entries[-LOG_PER_PAGE * LOG_PAGES:]
    head = (f"Near-miss log: {name}, {len(entries)} entries" + (f" (the newest {len(shown)} here; all in the CSV)"
                                                                   if len(shown) < len(entries) else "")
            + (f"; {len(skipped)} could not be read and were skipped" if skipped else ""))
    for start in range(0, max(1, len(shown)), LOG_PER_PAGE):
        page = shown[start:start + LOG_PER_PAGE]
        fig = plt.figure(figsize=(8.27, 11.69))
        fig.suptitle(head, fontsize=10)
        if not page:
            fig.text(0.5, 0.5, "No entries.", ha="center")
        for i, e in enumerate(page):
            top = 0.93 - (i + 1) * 0.113
            if e.thumbnail is not None:
                pic = fig.add_axes((0.04, top, 0.2, 0.105))
                pic.imshow(e.thumbnail[:, :, ::-1])
                pic.set_axis_off()
            fig.text(0.27, top + 0.05, textwrap.fill(e.words(), 90), fontsize=8, va="center")
        pdf_pages.savefig(fig)
        plt.close(fig)


def _write(sessions, trials, name, sessions_csv, trials_csv, png, pdf, log_entries=(), skipped=(), log_csv=None) -> None:
    log_entries, skipped = list(log_entries), list(skipped)
    if log_csv is not None:
        _write_log_csv(log_entries, log_csv)
    with open(sessions_csv, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=(list(sessions[0]) if sessions else ["id"]) + ["contrast_threshold"])
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
    fig, ax = plt.subplots(3, 2, figsize=(11, 11.5))
    fig.suptitle(f"MaxSight therapy report: {name} ({len(sessions)} session(s)"
                 + (f"; condition {condition_name(sessions[-1]['condition'])}, severity {sessions[-1]['severity']:.2f})"
                    if sessions else ")"))
    ax[0, 0].plot(idx, acc, "o-", color="#1f5fbf")
    ax[0, 0].set(title="Accuracy per session", xlabel="session", ylabel="% correct", ylim=(0, 105))
    ax[0, 1].plot(idx, rt, "s-", color="#bf5f1f")
    ax[0, 1].set(title="Mean response time", xlabel="session", ylabel="seconds")
    ax[1, 0].semilogy(idx, thr, "^-", color="#2f8f2f")
    ax[1, 0].set(title="Contrast threshold (lower is better)", xlabel="session", ylabel="Weber contrast")
    last = trials[sessions[-1]["id"]] if sessions else []
    ax[1, 1].plot([t["n"] for t in last], [t["rt_s"] for t in last], ".-", color="#444444", label="response time (s)")
    ax[1, 1].set(title="Latest session, trial by trial", xlabel="trial", ylabel="seconds")
    twin = ax[1, 1].twinx()
    twin.plot([t["n"] for t in last], [t["fatigue"] for t in last], "-", color="#cc2222", label="fatigue (0-1)")
    twin.set(ylim=(0, 1.05), ylabel="fatigue")
    ax[1, 1].legend(loc="upper left")
    twin.legend(loc="upper right")
    if not sessions:
        for a in ax[:2].flat:
            a.text(0.5, 0.5, "no therapy sessions yet", ha="center", va="center", transform=a.transAxes)
    for a in ax.flat:
        a.grid(alpha=0.3)
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
    _log_panels(ax[2, 0], ax[2, 1], log_entries)       # after the locators: its ticks are days
    fig.tight_layout()
    try:
        fig.savefig(png, dpi=110, format="png")
        with PdfPages(pdf) as pages:
            pages.savefig(fig)
            if log_entries or skipped:
                _log_pages(pages, log_entries, skipped, name)
    finally:
        plt.close(fig)
