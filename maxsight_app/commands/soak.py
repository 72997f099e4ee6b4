"""`maxsight soak --minutes N`: an hour (or N minutes) of real-time replay at the window's tier,
sampled every 10 s, with a plot and a pass/fail line against the reliability targets."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from maxsight_app.commands.common import check_outputs, engine_config, engine_options, note, report


def add_parser(sub) -> None:
    s = sub.add_parser("soak", help="long real-time run: memory, threads, files, Stage A p95, clean exit (a benchmark)")
    s.add_argument("--minutes", type=float, default=60.0, help="how long (default 60)")
    s.add_argument("--source", help="video to loop (default: a walking video with a real speech track made from the "
                                    "evaluation data)")
    s.add_argument("--json", default="soak.json", help="JSON output path (default soak.json)")
    s.add_argument("--plot", default="soak.png", help="plot output path (default soak.png)")
    s.add_argument("--profile", help="profile to use (default: 'default')")
    engine_options(s)
    s.set_defaults(func=cmd_soak)


def cmd_soak(args) -> int:
    from maxsight_app.commands.run import make_runtime
    from maxsight_app.measure import soak
    if args.minutes <= 0:
        raise ValueError(f"--minutes must be more than 0, got {args.minutes}")
    check_outputs({"--json": Path(args.json), "--plot": Path(args.plot)}, {"--source": Path(args.source) if args.source else None})
    engine_config(args)                                   # bad options fail before anything starts
    with tempfile.TemporaryDirectory(prefix="maxsight-soak-") as tmp:
        video = Path(args.source) if args.source else _default_video(Path(tmp))
        args.speak, args.audio_out = True, None
        rt = make_runtime(args, audio_out=Path(tmp) / "heard.wav")
        for n in rt.notes:
            note(n)
        result = soak.soak(rt, video, args.minutes,
                           progress=lambda s: print(f"  {s['t_s']:>6.0f} s  main {s['main_rss_mb']:.0f} MB  worker "
                                                    f"{s['worker_rss_mb']:.0f} MB  Stage A p95 {s['stage_a_p95_ms']:.1f} ms",
                                                    file=sys.stderr, flush=True))
    soak.plot(result, Path(args.plot))
    report(soak.table(result), result.to_json(), args.json)
    print(f"plot: {args.plot}")
    return 0 if result.passed else 1


def _default_video(folder: Path) -> Path:
    from engine.eval_data import require
    from maxsight_app.capture.audio_file import load_audio
    from maxsight_app.measure.media import video_with_sound
    speech = load_audio(require("asr_speech_refs", "other", "jfk.flac"))
    return video_with_sound(require("videos_walking_driving", "opencv_vtest.avi"), speech, folder / "walk_with_speech.mp4",
                            seconds=60.0)
