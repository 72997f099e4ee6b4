"""`maxsight train` and `maxsight export`: the training toolkit's commands (need torch)."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from maxsight_app.commands.common import NEEDS_TORCH, CommandError, note, torch_available


def add_parser(sub) -> None:
    t = sub.add_parser("train", help="train a MaxSight detector from a YAML config (see configs/)")
    t.add_argument("config", help="YAML config, e.g. configs/t0.yaml")
    t.add_argument("--dry-run", action="store_true", help="check the config and data, run one batch, train nothing")
    t.add_argument("--resume", help="continue from this checkpoint (e.g. runs/NAME/last.pt)")
    t.add_argument("--out", help="run folder (overrides the config's out)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a setting, e.g. --set optim.lr=0.0005 (repeatable)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--crash-at", type=int, help=argparse.SUPPRESS)   # tests: die at this iteration, as a killed run would
    t.set_defaults(func=cmd_train)

    x = sub.add_parser("export", help="export a checkpoint: ONNX (parity-checked), TorchScript, CoreML, ExecuTorch, INT8")
    x.add_argument("checkpoint")
    x.add_argument("--out", default="exports", help="folder for the files (default: exports)")
    x.add_argument("--format", default="onnx,torchscript,int8", help="comma-separated: onnx, torchscript, coreml, executorch, int8")
    x.add_argument("--name", help="file name stem (default: the checkpoint's)")
    x.add_argument("--register", metavar="NAME", help="also register the ONNX export(s) as NAME (and NAME-int8)")
    x.add_argument("--split", choices=["dev", "test", "all", "train", "val"],
                   help="split for the accuracy check (default: dev of a COCO val set, val of YOLO sets)")
    x.add_argument("--limit", type=int, help="at most N images for the INT8 accuracy check")
    x.set_defaults(func=cmd_export)


def cmd_train(args) -> int:
    if not torch_available():
        raise CommandError(NEEDS_TORCH)
    from training.config import load
    from training.loop import SimulatedCrash, Trainer, dry_run
    cfg = load(args.config, args.set or [])
    if args.out:
        cfg.out = args.out
    if args.dry_run:
        info = dry_run(cfg)
        print(f"Config {args.config} and its data are valid.")
        for k, v in info.items():
            print(f"  {k:<22} {v}")
        return 0
    try:
        result = Trainer(cfg, resume=args.resume, progress=not args.quiet, crash_at=args.crash_at).run()
    except SimulatedCrash as exc:
        note(f"{exc}; resume with --resume {cfg.out_dir() / 'last.pt'}")
        return 3
    except FloatingPointError as exc:          # the loss diverged: say how to go on from the last checkpoint
        raise CommandError(f"{exc}; the last good checkpoint is {cfg.out_dir() / 'last.pt'}") from None
    if int(os.environ.get("RANK", "0")):
        return 0
    for n in result.notes:
        print(f"  note: {n}")
    print(f"Trained {cfg.name}: {result.iterations} iterations, {result.steps} optimizer steps in {result.seconds:.0f} s "
          f"({result.images_per_s:.1f} images/s median); loss {result.first_loss:.3f} at the first step, {result.last_loss:.3f} at the last")
    print(f"  checkpoint: {result.checkpoint}\n  logs: {result.out_dir / 'metrics.csv'}, {result.out_dir / 'curves.png'}")
    if result.evaluation:
        e = result.evaluation
        s = e["safety"]["all"]
        print(f"  evaluation ({cfg.data.val_split} split, {e['images']} images, {e['boxes']} boxes): mAP {e['coco']['mAP']:.1f}, "
              f"mAP50 {e['coco']['mAP50']:.1f}, safety recall {s['found']}/{s['total']} at 90% precision")
    return 0


def cmd_export(args) -> int:
    if not torch_available():
        raise CommandError(NEEDS_TORCH)
    from engine.models.registry import register_user_model
    from training.export import export
    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    rep = export(Path(args.checkpoint), Path(args.out), formats, name=args.name, eval_split=args.split, eval_limit=args.limit)
    for fmt, path in rep.files.items():
        par = rep.parity.get(fmt)
        extra = (f"  parity on {par['images']} images: max |score diff| {par['max_abs_score']:.2e}, max |box diff| "
                 f"{par['max_abs_box_px']:.3f} px, top-100 agreement {100 * par['top100_agreement']:.0f}%") if par else ""
        print(f"{fmt:<12} {path}{extra}")
    for fmt, why in rep.skipped.items():
        print(f"{fmt:<12} {why}")
    a = rep.accuracy
    if "fp32" in a:
        f, s = a["fp32"], a["fp32"]["safety_recall"]
        print(f"ONNX on {f['images']} {f['split']} images ({f['boxes']} boxes): mAP {f['mAP']:.1f}, mAP50 {f['mAP50']:.1f}, "
              f"hazard recall {s['found']}/{s['total']} at 90% precision, {f['latency_ms_median']:.1f} ms median")
    if "int8" in a:
        print(f"INT8 against fp32 on {a['fp32']['images']} {a['fp32']['split']} images ({a['fp32']['boxes']} boxes): "
              f"mAP {a['fp32']['mAP']:.1f} -> {a['int8']['mAP']:.1f} ({a['change']['mAP']:+.1f}), mAP50 {a['fp32']['mAP50']:.1f} -> "
              f"{a['int8']['mAP50']:.1f}, latency {a['fp32']['latency_ms_median']:.1f} -> {a['int8']['latency_ms_median']:.1f} ms "
              f"(x{a['change']['latency_ratio']:.2f})")
    if args.register:
        for fmt, suffix in (("onnx", ""), ("int8", "-int8")):
            if fmt in rep.files:
                target = register_user_model(args.register + suffix, Path(rep.files[fmt]))
                print(f"registered {args.register + suffix}: {target} (use --model {args.register + suffix})")
    return 0
