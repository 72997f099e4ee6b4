"""`maxsight train` and `maxsight export`: the training toolkit's commands (need torch)."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from maxsight_app.commands.common import NEEDS_TORCH, CommandError, check_output_folder, note, torch_available


def add_parser(sub) -> None:
    t = sub.add_parser("train", help="train a MaxSight detector from a YAML config (see configs/)")
    t.add_argument("config", help="YAML config, e.g. configs/t0.yaml")
    t.add_argument("--dry-run", action="store_true", help="check the config and data, run one batch, train nothing")
    t.add_argument("--resume", help="continue from this checkpoint (e.g. runs/NAME/last.pt)")
    t.add_argument("--out", help="run folder (overrides the config's out)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a setting, e.g. --set optim.lr=0.0005 (repeatable)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--hyperparameters", metavar="JSON", help="apply the settings of a best_hyperparameters.json (from maxsight tune) "
                   "before any --set")
    t.add_argument("--find-lr", action="store_true", help="sweep the learning rate instead of training: RUN/lr_find/lr_find.png "
                   "(loss against lr) and a suggested optim.lr with the rule it used")
    t.add_argument("--lr-steps", type=int, default=100, help="--find-lr: batches in the sweep (default 100)")
    t.add_argument("--lr-range", type=float, nargs=2, default=(1e-6, 1.0), metavar=("MIN", "MAX"),
                   help="--find-lr: the learning rates swept (default 1e-6 1)")
    t.add_argument("--crash-at", type=int, help=argparse.SUPPRESS)   # tests: die at this iteration, as a killed run would
    t.set_defaults(func=cmd_train)

    x = sub.add_parser("export", help="export a checkpoint: ONNX (parity-checked), TorchScript, CoreML, ExecuTorch, INT8")
    x.add_argument("checkpoint")
    x.add_argument("--out", default="exports", help="folder for the files (default: exports)")
    x.add_argument("--format", default="onnx,torchscript,int8", help="comma-separated: onnx, torchscript, coreml, executorch, int8")
    x.add_argument("--name", help="file name stem (default: the checkpoint's)")
    x.add_argument("--register", metavar="NAME", help="also register the ONNX export(s) as NAME (and NAME-int8)")
    x.add_argument("--split", choices=["dev", "test", "all", "train", "val", "val-dev", "val-test"],
                   help="split for the accuracy check (default: dev of a COCO val set, val of YOLO sets)")
    x.add_argument("--limit", type=int, help="at most N images for the INT8 accuracy check")
    x.set_defaults(func=cmd_export)


def cmd_train(args) -> int:
    check_output_folder("--out", args.out)
    if not torch_available():
        raise CommandError(NEEDS_TORCH)
    from training.compat import check_resume, check_sources
    from training.loop import Trainer, dry_run
    from training.sections import load_with_sections, read_hyperparameters
    params = read_hyperparameters(args.hyperparameters) if args.hyperparameters else None
    # A search: section is the tuner's (maxsight tune); train runs the config itself, with
    # --hyperparameters giving the settings the tuner found.
    cfg, sections = load_with_sections(args.config, args.set or [], params)
    if args.out:
        cfg.out = args.out
    if "pretrain" in sections:
        return _pretrain(args, cfg, sections["pretrain"])
    if "continual" in sections:
        return _continual(args, cfg, sections["continual"])
    for n in check_sources(cfg):
        print(f"  note: {n}")
    if args.find_lr:
        return _find_lr(args, cfg)
    if args.resume:
        check_resume(args.resume, cfg, args.config)
    if args.dry_run:
        info = dry_run(cfg)
        print(f"Config {args.config} and its data are valid.")
        for k, v in info.items():
            print(f"  {k:<22} {v}")
        return 0
    result = _guarded(cfg, lambda: Trainer(cfg, resume=args.resume, progress=not args.quiet, crash_at=args.crash_at).run())
    if result is None:
        return 3
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


def _find_lr(args, cfg) -> int:
    from training.lr_finder import find_lr
    lo, hi = args.lr_range
    if not 0 < lo < hi:
        raise CommandError(f"--lr-range needs 0 < MIN < MAX, got {lo:g} {hi:g}")
    if args.lr_steps < 5:
        raise CommandError(f"--lr-steps must be at least 5, got {args.lr_steps}")
    if args.resume or args.dry_run:
        raise CommandError("--find-lr starts from the config's initial weights; leave out --resume and --dry-run")
    res, files = find_lr(cfg, steps=args.lr_steps, lr_min=lo, lr_max=hi)
    print(f"Learning-rate sweep of {cfg.name}: {len(res.lrs)} steps from {res.lrs[0]:.2g} to {res.lrs[-1]:.2g} "
          f"(batch {cfg.optim.batch}; {res.stopped})")
    if res.suggestion is None:
        raise CommandError("the sweep ended before it had 3 usable steps, so there is no suggestion; lower --lr-range MIN or check the data")
    print(f"  suggested optim.lr: {res.suggestion:.3g} (rule: {res.rule}: lowest at {res.lowest_at:.3g})")
    if res.steepest:
        print(f"  steepest fall of the loss at {res.steepest:.3g} (for reference)")
    print(f"  plot: {files['png']}\n  curve: {files['csv']}\n  use it: --set optim.lr={res.suggestion:.3g}")
    return 0


def _pretrain(args, cfg, section) -> int:
    from training.pretrain import Pretrainer, parse, report
    pc = parse(section, cfg)
    if args.find_lr:
        raise CommandError("--find-lr sweeps a detector's training; a pretrain: config has no detection loss to sweep")
    if args.dry_run:
        from training.unlabelled import UnlabelledImages
        imgs = UnlabelledImages([cfg.resolve(s) for s in pc.sources], pc.every_n, max_images=pc.max_images)
        print(f"Config {args.config} and its data are valid.")
        print(f"  {'task':<22} {pc.task}\n  {'model':<22} {cfg.model.preset} {cfg.model.backbone} {cfg.model.input_size}")
        print(f"  {'unlabelled images':<22} {len(imgs)} ({imgs.describe()})")
        print(f"  {'out':<22} {cfg.out_dir()}")
        return 0
    result = _guarded(cfg, lambda: Pretrainer(cfg, pc, resume=args.resume, progress=not args.quiet, crash_at=args.crash_at).run())
    if result is None:
        return 3
    for n in result.notes:
        print(f"  note: {n}")
    for line in report(result, pc):
        print(line)
    return 0


def _continual(args, cfg, section) -> int:
    import json

    from training.ewc import make_trainer, old_class_report, parse
    cc = parse(section, cfg)
    if args.find_lr or args.dry_run:
        raise CommandError("--find-lr and --dry-run are not offered for a continual: config; run it, or drop the section to sweep the plain config")
    if args.resume:
        from training.compat import check_resume
        check_resume(args.resume, cfg, args.config)
    trainer = make_trainer(cfg, cc, resume=args.resume, progress=not args.quiet, crash_at=args.crash_at)
    result = _guarded(cfg, trainer.run)
    if result is None:
        return 3
    for n in result.notes:
        print(f"  note: {n}")
    i = trainer.ewc_info
    print(f"Trained {cfg.name} (continual, EWC weight {cc.ewc_weight:g}, Fisher from {i['fisher_batches']} batches of {i['batch']}): "
          f"{result.iterations} iterations in {result.seconds:.0f} s; loss {result.first_loss:.3f} -> {result.last_loss:.3f}")
    print(f"  checkpoint: {result.checkpoint}")
    rep = old_class_report(cfg, cc, trainer.source_data, result.checkpoint)
    (cfg.out_dir() / "continual.json").write_text(json.dumps(rep, indent=1))
    b, a = rep["before"], rep["after"]
    print(f"  old classes on {rep['split']} of {', '.join(rep['data'])} ({b['images']} images, {b['boxes']} boxes), AP50 before -> after:")
    for name, row in b["per_class"].items():
        after = a["per_class"].get(name, {}).get("AP50", float("nan"))
        print(f"    {name:<28} {row['boxes']:>5} boxes  {row['AP50']:6.1f} -> {after:6.1f}")
    if b["mean_AP50"] is not None:
        print(f"    {'mean':<28} {'':>11}  {b['mean_AP50']:6.1f} -> {a['mean_AP50']:6.1f}")
    if result.evaluation:
        e = result.evaluation
        print(f"  all classes on {cfg.data.val_split} of {cfg.data.val} ({e['images']} images, {e['boxes']} boxes): mAP50 {e['coco']['mAP50']:.1f}")
    return 0


def _guarded(cfg, run):
    """run()'s result; None after a simulated crash (said, with how to resume). A diverged loss is
    one sentence naming the last good checkpoint."""
    from training.loop import SimulatedCrash
    try:
        return run()
    except SimulatedCrash as exc:
        note(f"{exc}; resume with --resume {cfg.out_dir() / 'last.pt'}")
        return None
    except FloatingPointError as exc:          # the loss diverged: say how to go on from the last checkpoint
        raise CommandError(f"{exc}; the last good checkpoint is {cfg.out_dir() / 'last.pt'}") from None


def cmd_export(args) -> int:
    check_output_folder("--out", args.out)
    if not torch_available():
        raise CommandError(NEEDS_TORCH)
    from engine.models.registry import register_user_model
    from training.export import FORMATS, export
    from training.export_mobile import missing_package
    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    for f in formats:
        if f not in FORMATS:
            raise CommandError(f"unknown export format {f!r}; choose from {', '.join(FORMATS)}")
        why = missing_package(f)
        if why:                       # asked for by name: a missing package is an error, before any work
            raise CommandError(why)
    rep = export(Path(args.checkpoint), Path(args.out), formats, name=args.name, eval_split=args.split, eval_limit=args.limit)
    for fmt, path in rep.files.items():
        par = rep.parity.get(fmt)
        extra = (f"  parity on {par['images']} images: max |score diff| {par['max_abs_score']:.2e}, max |box diff| "
                 f"{par['max_abs_box_px']:.3f} px, top-100 agreement {100 * par['top100_agreement']:.0f}%") if par else ""
        print(f"{fmt:<12} {path}{extra}")
    for fmt, why in rep.skipped.items():
        print(f"{fmt:<12} {why}")
    if "executorch" in rep.parity and "latency_ms_median" in rep.parity["executorch"]:
        p = rep.parity["executorch"]
        print(f"{'':<12} ExecuTorch runtime (XNNPACK) {p['latency_ms_median']:.1f} ms median, eager torch {p['eager_latency_ms_median']:.1f} ms, "
              f"on the same {p['images']} images")
    if "coreml" in rep.checks:
        c = rep.checks["coreml"]
        print(f"{'':<12} CoreML spec checked: input image {c['input']['image']}, outputs {', '.join(c['outputs'])}; {c['note']}")
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
