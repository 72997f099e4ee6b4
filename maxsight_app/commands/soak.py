"""`maxsight soak --minutes N`: an hour (or N minutes) of real-time replay at the window's tier,
sampled every 10 s, with a plot and a pass/fail line against the reliability targets."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from maxsight_app.commands.common import check_outputs, engine_config, engine_options, note, report


def add_parser(sub) -> None:
    s = sub.add_parser("soak", help="long real-time run: memory, threads, files, Stage A p95, clean exit (a benchmark)")
    s.add_argument("--minutes", type=float, default=60.0, help="how long (default 60)")
    s.add_argument("--source", help="video to loop (default: the shipped sample clip with a speech track "
                                    "spoken by espeak-ng, the same on every machine)")
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
    from maxsight_app.files import atomic_paths
    with atomic_paths([Path(args.plot)]) as (plot,):      # a full disk leaves no half-drawn plot
        soak.plot(result, plot)
    report(soak.table(result), result.to_json(), args.json)
    print(f"plot: {args.plot}")
    return 0 if result.passed else 1


SOAK_SPEECH = ("Good morning. The number seventy five bus leaves from the stop on the left in ten minutes. "
               "Please mind the step by the door, and take the lift to the second floor for the pharmacy.")


def _default_video(folder: Path) -> Path:
    """The shipped sample clip (assets/samples) with a speech track for the caption worker, spoken by
    espeak-ng (which set-up installs): it needs nothing beside the clone, so every machine soaks the
    same input."""
    from engine.samples import sample_video
    from maxsight_app.measure.media import resample, video_with_sound
    from maxsight_app.outputs.speech import SpeechSynth, Voice
    from maxsight_app.outputs.tones import SAMPLE_RATE
    synth = SpeechSynth(Voice(rate_wpm=160))
    problem = synth.check()
    if problem:
        raise ValueError(f"the soak's speech track cannot be made ({problem}); pass --source VIDEO with a sound track")
    try:
        speech = resample(synth.render(SOAK_SPEECH), SAMPLE_RATE)     # 16 kHz, as the caption worker hears
    except RuntimeError as exc:
        raise ValueError(f"the soak's speech track cannot be made ({exc}); pass --source VIDEO with a sound track") from None
    return video_with_sound(sample_video(), np.concatenate([speech, np.zeros(3 * 16000, np.float32)]),
                            folder / "walk_with_speech.mp4", seconds=60.0)
