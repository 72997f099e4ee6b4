"""`maxsight tune` (Optuna search over a config's search: section) and `maxsight prune`
(structured pruning with its accuracy and latency change): training-toolkit commands (need torch)."""
from __future__ import annotations

from pathlib import Path

from maxsight_app.commands.common import NEEDS_TORCH, CommandError, check_output_folder, torch_available


def add_parser(sub) -> None:
    t = sub.add_parser("tune", help="search hyperparameters with Optuna over the search: section of a training config")
    t.add_argument("config", help="YAML training config with a search: section (see training/tune.py)")
    t.add_argument("--trials", type=int, required=True, help="finished trials the study should hold (a killed search goes on from where it was)")
    t.add_argument("--out", help="folder for the study, the trials and best_hyperparameters.json (default: the config's out)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a setting of the base config (repeatable)")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    t.set_defaults(func=cmd_tune)

    p = sub.add_parser("prune", help="structured pruning of a checkpoint's backbone, with accuracy and latency measured before and after")
    p.add_argument("checkpoint")
    p.add_argument("--ratio", type=float, default=0.3, help="share of the blocks' inner channels removed (default 0.3)")
    p.add_argument("--finetune", type=int, default=0, metavar="N", help="fine-tune the pruned model N iterations on its training data")
    p.add_argument("--lr", type=float, help="learning rate of the fine-tune (default: the checkpoint config's optim.lr)")
    p.add_argument("--out", default="exports/pruned", help="folder for the pruned checkpoint, ONNX files and prune.json")
    p.add_argument("--split", choices=["dev", "test", "all", "train", "val"], help="split the accuracy is measured on")
    p.add_argument("--limit", type=int, help="at most N images for the accuracy check")
    p.add_argument("--threads", type=int, default=1, help="compute threads for the latency measurement (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_prune)


def cmd_tune(args) -> int:
    check_output_folder("--out", args.out)
    if not torch_available():
        raise CommandError(NEEDS_TORCH)
    import importlib.util
    if importlib.util.find_spec("optuna") is None:
        raise CommandError("maxsight tune needs the optuna package, which is not installed; install the training extra "
                           "(pip install -e '.[training]') or scripts/setup.sh --training")
    from training.tune import TuneError, tune
    print(f"Tuning {args.config}: {args.trials} finished trials wanted")
    try:
        res = tune(args.config, args.trials, args.set or [], out=args.out, progress=not args.quiet)
    except TuneError as exc:
        raise CommandError(str(exc)) from None
    print(f"Study {res.out_dir / 'study.db'}: {res.finished} finished trials ({len(res.new_trials)} run now); every trial in "
          f"{res.out_dir / 'trials.csv'} and {res.out_dir / 'trials'}/")
    if res.best:
        b = res.best
        shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in b["params"].items())
        print(f"  best: trial {b['trial']}, {b['metric']} {b['value']:.4g} ({shown})")
        print(f"  {res.out_dir / 'best_hyperparameters.json'}: train with it by "
              f"maxsight train {args.config} --hyperparameters {res.out_dir / 'best_hyperparameters.json'}")
    else:
        print("  no trial completed (all pruned or failed), so there is no best_hyperparameters.json yet")
    return 0


def cmd_prune(args) -> int:
    check_output_folder("--out", args.out)
    if not torch_available():
        raise CommandError(NEEDS_TORCH)
    from training.prune_run import run
    if args.finetune < 0:
        raise CommandError(f"--finetune must be 0 or more iterations, got {args.finetune}")
    rep = run(Path(args.checkpoint), args.ratio, Path(args.out), finetune=args.finetune, split=args.split, limit=args.limit,
              threads=args.threads, progress=not args.quiet, lr=args.lr)
    b, a = rep["before"], rep["after"]
    print(f"Pruned {args.ratio:.0%} of the backbone's inner channels ({len(rep['units'])} sets): parameters {b['parameters'] / 1e6:.2f} M -> "
          f"{a['parameters'] / 1e6:.2f} M, multiply-adds {b['macs'] / 1e9:.3f} G -> {a['macs'] / 1e9:.3f} G")
    for n in rep["notes"]:
        print(f"  {n}")
    f, p, c = rep["accuracy"]["full"], rep["accuracy"]["pruned"], rep["accuracy"]["change"]
    il = rep["latency_interleaved_ms"]
    print(f"ONNX on {f['images']} {f['split']} images ({f['boxes']} boxes): mAP {f['mAP']:.1f} -> {p['mAP']:.1f} ({c['mAP']:+.1f}), "
          f"mAP50 {f['mAP50']:.1f} -> {p['mAP50']:.1f} ({c['mAP50']:+.1f})")
    print(f"  latency ({rep['threads']} thread(s)): {f['latency_ms_median']:.1f} -> {p['latency_ms_median']:.1f} ms per image through the app's "
          f"runner (x{c['latency_ratio']:.2f}); timed in turn: {il['full']:.1f} -> {il['pruned']:.1f} ms (x{il['ratio']:.2f})")
    print(f"  pruned checkpoint: {rep['pruned']}\n  report: {Path(args.out) / 'prune.json'}")
    return 0
