"""`maxsight bench ...`: speed benchmarks; a table on stdout and JSON (ratios against a reference
measured in the same run, never absolute targets in tests)."""
from __future__ import annotations

from pathlib import Path

from maxsight_app.commands.common import NEEDS_TORCH, CommandError, note, report, torch_available


def add_parser(sub) -> None:
    b = sub.add_parser("bench", help="speed benchmarks (print a table, write JSON)").add_subparsers(dest="bench_cmd", required=True)
    s = b.add_parser("stage-a", help="per-step Stage A latency on real video frames")
    s.add_argument("--video", action="append", help="video file (repeatable; default: the evaluation videos)")
    s.add_argument("--frames", type=int, default=60, help="frames per video (default 60)")
    s.add_argument("--detector", action="append", help="detector (repeatable; default the three fp32 detectors and their INT8 copies)")
    s.add_argument("--threads-list", type=int, nargs="+", default=[1, 2], help="thread counts to measure")
    s.add_argument("--access", default="access", metavar="MODEL|off",
                   help="add a row of the first detector with the door and stairs detector beside it (default access, "
                        "when installed; off to leave it out)")
    s.add_argument("--device", default="cpu", choices=["cpu", "cuda", "mps", "auto"],
                   help="where the detector runs (default cpu; cuda needs the GPU build: pip install 'maxsight[gpu]')")
    s.add_argument("--no-collision", dest="collision", action="store_false",
                   help="leave out the row with the collision lane (the first detector with the lane on)")
    s.add_argument("--json", default="bench-stage-a.json", help="JSON output path")
    s.set_defaults(func=cmd_stage_a)
    bb = b.add_parser("stage-b", help="Stage A latency with and without Stage B busy")
    bb.add_argument("--frames", type=int, default=40, help="frames per video (default 40)")
    bb.add_argument("--audio", help="audio clip Stage B works on (default: a crying-baby clip from the evaluation data)")
    bb.add_argument("--saturated", action="store_true", help="instead: YAMNet kept busy non-stop (the worst case), not the live tier")
    bb.add_argument("--seconds", type=float, default=40.0, help="seconds of video per run (live mode; default 40)")
    bb.add_argument("--tier", default="T4", help="the tier beside Stage A (live mode; default T4, the window's)")
    bb.add_argument("--json", default="bench-stage-b.json", help="JSON output path")
    bb.set_defaults(func=cmd_stage_b)
    bc = b.add_parser("conditions", help="latency of each vision-condition simulation on real frames")
    bc.add_argument("--video", action="append", help="video file (repeatable; default: the evaluation videos)")
    bc.add_argument("--frames", type=int, default=20, help="frames per video (default 20)")
    bc.add_argument("--severity", type=float, default=0.7)
    bc.add_argument("--json", default="bench-conditions.json", help="JSON output path")
    bc.set_defaults(func=cmd_conditions)
    bt = b.add_parser("train", help="training throughput (images/s) per preset and backbone on real COCO images")
    bt.add_argument("--row", action="append", metavar="PRESET:BACKBONE", help="e.g. t0:mobilenet_v2 (repeatable; default four rows)")
    bt.add_argument("--size", type=int, default=256, help="input size (default 256)")
    bt.add_argument("--batch", type=int, default=4)
    bt.add_argument("--steps", type=int, default=6, help="timed steps per row (default 6, after 2 warm-up steps)")
    bt.add_argument("--device", default="auto")
    bt.add_argument("--json", default="bench-train.json", help="JSON output path")
    bt.set_defaults(func=cmd_train)


def _videos(given):
    """The videos asked for; else the evaluation set's walking and driving videos; else (a clone
    alone) the sample clip shipped with MaxSight, said in one line, so the numbers are not mistaken
    for the evaluation set's."""
    from engine.eval_data import EvalDataMissing, require
    from engine.samples import sample_video
    if given:
        return [Path(v) for v in given]
    try:
        return sorted(require("videos_walking_driving").glob("*.[am][vp][i4]"))
    except EvalDataMissing as exc:
        note(f"{exc}: measuring on the shipped sample clip {sample_video().name} instead")
        return [sample_video()]


def cmd_stage_a(args) -> int:
    from engine.device import device_problem
    problem = device_problem(args.device)
    if problem:
        raise CommandError(problem)
    from maxsight_app.compose import make_registry
    from maxsight_app.measure.bench import bench_stage_a, table
    detectors = args.detector or ["nanodet", "nanodet-int8", "centernet", "centernet-int8", "fused", "fused-int8"]
    registry = make_registry()
    access = "" if args.access in ("off", "none", "") else args.access
    if access and access not in registry.names() and not access.endswith((".onnx", ".json", ".pt")):
        print(f"maxsight: no row with doors and stairs: there is no model called {access!r}")
        access = ""
    result = bench_stage_a(registry, detectors, _videos(args.video), args.frames,
                           thread_counts=tuple(args.threads_list), device=args.device, access=access,
                           collision=args.collision)
    return report(table(result), result, args.json)


def cmd_stage_b(args) -> int:
    import tempfile

    from engine.eval_data import require
    from maxsight_app.compose import make_registry
    from maxsight_app.measure.bench import bench_stage_b, bench_stage_b_live, stage_b_live_table, stage_b_table
    if args.saturated:
        clip = Path(args.audio) if args.audio else require("sound_events_small", "audio", "esc10_crying_baby_test_1-60997-B.mp3")
        result = bench_stage_b(make_registry(), _videos(None), clip, args.frames)
        return report(stage_b_table(result), result, args.json)
    from maxsight_app.capture.audio_file import load_audio
    from maxsight_app.measure.media import video_with_sound
    with tempfile.TemporaryDirectory(prefix="maxsight-bench-") as tmp:
        # A real walking video carrying real speech (none of the evaluation videos has any).
        speech = load_audio(Path(args.audio) if args.audio else require("asr_speech_refs", "other", "jfk.flac"))
        video = video_with_sound(require("videos_walking_driving", "opencv_vtest.avi"), speech, Path(tmp) / "walk_speech.mp4",
                                 seconds=args.seconds + 1, size=(640, 480))
        result = bench_stage_b_live(make_registry(), video, seconds=args.seconds, tier=args.tier)
    return report(stage_b_live_table(result), result, args.json)


def cmd_conditions(args) -> int:
    from maxsight_app.measure.bench import bench_conditions, conditions_table
    result = bench_conditions(_videos(args.video), args.frames, args.severity)
    return report(conditions_table(result), result, args.json)


def cmd_train(args) -> int:
    if not torch_available():
        raise CommandError(NEEDS_TORCH)
    from training.bench import ROWS, bench_train, table
    rows = [tuple(r.split(":")) for r in args.row] if args.row else ROWS
    for r in rows:
        if len(r) != 2:
            raise CommandError(f"--row takes PRESET:BACKBONE, e.g. t0:mobilenet_v2; got {':'.join(r)!r}")
    result = bench_train(rows, size=args.size, batch=args.batch, steps=args.steps, device=args.device)
    return report(table(result), result, args.json)
