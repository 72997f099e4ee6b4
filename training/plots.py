"""Curves of a run from its metrics.csv: one panel per loss (log scale), the total, and the
learning rate, as a PNG beside the CSV."""
from __future__ import annotations

import csv
from pathlib import Path


def plot_curves(csv_path: Path, png_path: Path) -> Path | None:
    if not Path(csv_path).is_file():
        return None
    rows = list(csv.DictReader(Path(csv_path).open()))
    if not rows:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    steps = [int(r["step"]) for r in rows]
    losses = [k for k in rows[0] if k.startswith("loss_")]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for k in losses:
        vals = [float(r[k]) if r.get(k) not in (None, "") else float("nan") for r in rows]
        if any(v > 0 for v in vals):
            axes[0].plot(steps, vals, label=k[5:], linewidth=2.2 if k == "loss_total" else 1.0)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("optimizer step")
    axes[0].set_title("losses")
    axes[0].legend(fontsize=7)
    axes[1].plot(steps, [float(r["lr"]) for r in rows])
    axes[1].set_xlabel("optimizer step")
    axes[1].set_title("learning rate")
    fig.tight_layout()
    fig.savefig(png_path, dpi=90)
    plt.close(fig)
    return Path(png_path)
