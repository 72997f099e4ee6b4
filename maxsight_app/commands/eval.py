"""`maxsight eval ...`: accuracy against labelled data, a table on stdout and JSON on request."""
from __future__ import annotations

import argparse
from pathlib import Path

from maxsight_app.commands.common import (CommandError, check_outputs, engine_config, engine_options, read_profile, report,
                                          write_json)

DETECTORS = ["nanodet", "centernet", "fused"]
# Approach clips: the time each frame takes the app, fixed (about Stage A's median with the door and
# stairs model on a 2-core CPU, `maxsight bench stage-a`). With this machine's own time the figures
# moved by one or two clips in 18 between runs of the same code as the load changed.
REPLAY_FRAME_S = 0.04


def _frame_time(value: str) -> float | None:
    """--frame-time: milliseconds (0-1000) or 'wall' (None: the machine's own time)."""
    if value.strip().lower() == "wall":
        return None
    try:
        ms = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"give milliseconds (0-1000) or 'wall', not {value!r}") from None
    if not 0.0 <= ms <= 1000.0:
        raise argparse.ArgumentTypeError(f"give milliseconds from 0 to 1000, not {value}")
    return ms / 1e3


def add_parser(sub) -> None:
    ev = sub.add_parser("eval", help="measure accuracy on evaluation data").add_subparsers(dest="eval_cmd", required=True)
    d = ev.add_parser("detect", help="COCO mAP and safety recall of the detectors; per-class AP on any COCO or YOLO set")
    src = d.add_mutually_exclusive_group(required=True)
    src.add_argument("--coco", help="folder with instances.json and images/")
    src.add_argument("--data", action="append", help="COCO or YOLO-layout folder (repeatable: YOLO sets merge); prints per-class AP")
    d.add_argument("--detector", "--model", dest="detector", action="append",
                   help="detector, registered model or model path to evaluate (repeatable; default nanodet, centernet, fused)")
    d.add_argument("--split", default="all", choices=["dev", "test", "all", "train", "val", "val-dev", "val-test"],
                   help="COCO images: dev (first half by id), test or all; YOLO sets: train, val (by source photo) or all")
    d.add_argument("--threads", type=int, default=2)
    d.add_argument("--limit", type=int, help="only the first N images")
    d.add_argument("--json", help="also write the results as JSON here")
    d.set_defaults(func=cmd_detect)

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
    dl.set_defaults(func=cmd_distill)

    c = ev.add_parser("cues", help="replay videos through Stage A and the cue policy; latency, overload, silence, reassurance")
    c.add_argument("--source", action="append", help="video file (repeatable; default: the evaluation videos)")
    c.add_argument("--profile", help="profile whose cue preferences to use (default: 'default')")
    c.add_argument("--max-frames", type=int)
    c.add_argument("--json", help="also write the results as JSON here")
    engine_options(c, tier_default="T0")
    c.set_defaults(func=cmd_cues)

    sf = ev.add_parser("safety", help="what MaxSight misses against labelled truth: stills, labelled clips, synthetic approaches")
    sf.add_argument("--coco", "--data", dest="data", action="append",
                    help="labelled photos, COCO or YOLO layout (repeatable; default: the evaluation data's coco_val2017_128)")
    sf.add_argument("--split", default="dev", choices=["dev", "test", "all", "train", "val", "val-dev", "val-test"],
                    help="which photos (default dev: thresholds are fitted there; report test as the held-out check)")
    sf.add_argument("--mot", help="MOTChallenge clips folder (default: the evaluation data's mot17_clips)")
    sf.add_argument("--only", action="append", choices=["stills", "clips", "approach"], help="run only these parts (repeatable)")
    sf.add_argument("--limit", type=int, help="at most N photos (stills) and N clips per kind (approach)")
    sf.add_argument("--seed", type=int, default=0, help="seed of the synthetic clips (default 0)")
    sf.add_argument("--no-transcribe", action="store_true", help="skip transcribing warning/danger phrases (faster)")
    sf.add_argument("--frame-time", type=_frame_time, default=REPLAY_FRAME_S, metavar="MS|wall",
                    help=f"time the app takes over each frame of an approach clip, in ms (default {REPLAY_FRAME_S * 1e3:.0f}: "
                         "the same figures on a busy machine as on a quiet one); 'wall': this machine's own time")
    sf.add_argument("--profile", help="profile whose cue preferences to use (default: 'default')")
    sf.add_argument("--json", help="also write the results as JSON here")
    sf.add_argument("--explain", metavar="DIR", help="one row and one picture per mistake (false urgent alert, unmatched "
                                                     "report, missed near hazard, missed approach) in DIR, with index.html "
                                                     "and a summary of their causes")
    engine_options(sf, tier_default="T0")
    sf.set_defaults(func=cmd_safety)

    cb = ev.add_parser("calibrate", help="fit birth scores per class group and distance zone (90%% precision) on labelled photos")
    cb.add_argument("--model", "--detector", dest="model", action="append", help="model (repeatable; default nanodet, centernet, fused)")
    cb.add_argument("--coco", "--data", dest="data", action="append", help="labelled photos (default: coco_val2017_128)")
    cb.add_argument("--split", default="dev", choices=["dev", "train", "all", "val-dev"],
                    help="photos to fit on (default dev, the COCO dev half; val-dev: the dev half of a YOLO set's val split; never a test half)")
    cb.add_argument("--precision", action="append", default=[], metavar="GROUP=P",
                    help="a group's own precision target, e.g. stairs=0.5 (repeatable; the rest 0.9)")
    cb.add_argument("--report-on", choices=["test", "val-test"],
                    help="also run the fitted scores on these photos (the other half) and report precision and recall there")
    cb.add_argument("--write", action="store_true", help="write assets/calibration/MODEL.json, which the app then uses")
    cb.add_argument("--threads", type=int, default=2)
    cb.add_argument("--json", help="also write the results as JSON here")
    cb.set_defaults(func=cmd_calibrate)

    es = ev.add_parser("sounds", help="environmental sound events on labelled clips, pipeline against the raw model; "
                                      "false events per hour of background and of speech")
    es.add_argument("--dir", action="append", help="folder with labels.csv and audio/ (repeatable; default: the evaluation "
                                                   "data's sound_events_small and sound_events_more)")
    es.add_argument("--speech", help="read speech for false events per hour (default: the evaluation data's asr_speech_refs)")
    es.add_argument("--no-speech", action="store_true", help="skip the speech recordings")
    es.add_argument("--split", default="all", choices=["dev", "test", "all"],
                    help="clips and speech recordings by file-name hash (default all; the sound head trained on dev)")
    es.add_argument("--head", default="on", choices=["on", "off"],
                    help="score smoke alarms, glass and crying with the trained sound head (on, as the app) or YAMNet alone")
    es.add_argument("--json", help="also write the results as JSON here")
    es.set_defaults(func=cmd_sounds)

    cs = ev.add_parser("custom-sounds", help="your own sounds: taught from 3 examples, held-out examples recognised, "
                                             "false events on background, other sounds and speech")
    cs.add_argument("--dir", action="append", help="folder with labels.csv and audio/ (repeatable; default: the evaluation "
                                                   "data's sound_events_more and sound_events_small)")
    cs.add_argument("--speech", help="read speech (default: the evaluation data's asr_speech_refs)")
    cs.add_argument("--split", action="append", choices=["dev", "test", "all"], help="half (repeatable; default dev and test)")
    cs.add_argument("--shots", type=int, default=3, help="examples taught (default 3)")
    cs.add_argument("--sweep", action="store_true", help="also sweep the similarity thresholds (fit them on dev)")
    cs.add_argument("--json", help="also write the results as JSON here")
    cs.set_defaults(func=cmd_custom_sounds)

    wf = ev.add_parser("watch-for", help="'watch for a word' on clips rendered from ICDAR 2015 photos (pan, walk up, "
                                         "blur): targets said within 2 s of legible, false alerts per 10 minutes")
    wf.add_argument("--data", help="ICDAR 2015 photos (default: the evaluation data's icdar2015_test_scene_text)")
    wf.add_argument("--split", default="test", choices=["dev", "test", "all"], help="photos by file-name hash (default test)")
    wf.add_argument("--limit", type=int, default=24, help="photos (clips) at most (default 24; about 7 s of reading each)")
    wf.add_argument("--every", type=float, default=1.0, help="seconds of clip between text reads while watching (default 1)")
    wf.add_argument("--json", help="also write the results as JSON here")
    wf.set_defaults(func=cmd_watch_for)

    ec = ev.add_parser("captions", help="live-caption word error rate and latency on read speech")
    ec.add_argument("--dir", help="folder like the evaluation data's asr_speech_refs")
    ec.add_argument("--threads", type=int, default=1, help="Whisper threads (1, as in the Stage B worker)")
    ec.add_argument("--limit", type=int)
    ec.add_argument("--json", help="also write the results as JSON here")
    ec.set_defaults(func=cmd_captions)

    na = ev.add_parser("name-alert", help="'someone said your name' through spoken sentences and live captions")
    na.add_argument("--speech", help="read speech for false alerts (default: the evaluation data's asr_speech_refs)")
    na.add_argument("--json", help="also write the results as JSON here")
    na.set_defaults(func=cmd_name_alert)

    eo = ev.add_parser("ocr", help="text reading: end to end (background and asked passes) on ICDAR 2015 photos, "
                                   "recognition on word crops, by dataset and half")
    eo.add_argument("--icdar", help="folder with images/ and gt/ (default: the evaluation data's icdar2015_test_scene_text)")
    eo.add_argument("--crops", help="folder with labels.csv and images/ (default: the evaluation data's ocr_word_crops)")
    eo.add_argument("--split", action="append", choices=["dev", "test", "all"],
                    help="half by file-name hash (repeatable; default dev and test)")
    eo.add_argument("--pass", dest="passes", action="append", choices=["background", "asked", "wheel"],
                    help="end-to-end pass (repeatable; default background and asked; wheel: the reader before issue 16)")
    eo.add_argument("--only", action="append", choices=["photos", "crops", "moving", "timing"],
                    help="run only these parts (repeatable; moving: the several-frame vote on shifted, blurred frames; "
                         "timing: seconds per photo of the wheel's pipeline and both passes, interleaved)")
    eo.add_argument("--no-recognition", action="store_true", help="skip the ground-truth crops of the photos (faster)")
    eo.add_argument("--limit", type=int, help="only the first N photos (and N crops) of each half")
    eo.add_argument("--json", help="also write the results as JSON here")
    eo.set_defaults(func=cmd_ocr)

    fd = ev.add_parser("find", help="find mode on synthetic clips toward doors from the labelled door photos, through the "
                                    "session: the tone's side and the time to 'door found'")
    fd.add_argument("--data", help="YOLO-layout door photos (default: the evaluation data's accessibility_objects/doors)")
    fd.add_argument("--split", default="val", choices=["val", "train", "all"], help="which photos (default val)")
    fd.add_argument("--limit", type=int, default=10, help="at most N clips (default 10)")
    fd.add_argument("--seed", type=int, default=0, help="seed of the synthetic clips (default 0)")
    fd.add_argument("--profile", help="profile whose preferences (voice, vision condition) to use (default: 'default')")
    fd.add_argument("--scripted", action="store_true",
                    help="follow the photos' ground-truth door boxes instead of the door model (find mode alone, "
                         "without the detector's misses)")
    fd.add_argument("--keep-audio", help="keep each clip's WAV timeline (and the tone alone) in this folder")
    fd.add_argument("--json", help="also write the results as JSON here")
    engine_options(fd, tier_default="T0")
    fd.set_defaults(func=cmd_find)

    co = ev.add_parser("collide", help="the class-agnostic collision lane on rendered walks (dev and test by seed) "
                                       "and real null walks: warned before contact, drop-offs, false onsets, TTC error")
    co.add_argument("--per-kind", type=int, default=4, help="scenes of each kind per split (default 4)")
    co.add_argument("--sensitivity", choices=("fewer", "more"), default=None,
                    help="the lane's operating point: fewer false alarms (the default, what the fit chose) or "
                         "more obstacles warned")
    co.add_argument("--fit", action="store_true", help="fit the lane's thresholds on the dev half first (slower)")
    co.add_argument("--fps", type=float, default=10.0,
                    help="frames a second of the rendered walks (default 10; a webcam gives the app 15-30)")
    co.add_argument("--no-null", action="store_true", help="leave out the real null walks")
    co.add_argument("--null-limit", type=float, default=90.0, help="seconds of each null-walk video (default 90)")
    co.add_argument("--json", help="also write the results as JSON here")
    co.set_defaults(func=cmd_collide)


def cmd_detect(args) -> int:
    from engine.models.detectors import build
    from maxsight_app.compose import make_registry
    from training.evaluate import CocoSet, evaluate_detector, model_label_ids
    if args.json:
        check_outputs({"--json": Path(args.json)}, {})
    reg = make_registry()
    if args.data:                  # COCO or YOLO layout, per-class AP; the logic is training.evaluate.evaluate_dataset
        from training.evaluate import evaluate_dataset, open_eval_set, per_class_table
        loaded = open_eval_set([Path(p) for p in args.data], args.split)
        rows = [evaluate_dataset(args.data, args.split, build(reg.get(n), reg, threads=args.threads), args.limit, loaded)
                for n in args.detector or DETECTORS]
        for r in rows:
            print(f"{Path(r['model']).name} on {r['data']} ({args.split}): {r['images']} images, {r['boxes']} boxes, "
                  f"{r['shared_classes']} classes shared; mAP {r['coco']['mAP']:.1f}, mAP50 {r['coco']['mAP50']:.1f}\n{per_class_table(r)}")
        if args.json:
            write_json(args.json, rows)
        return 0
    from training.data import split_ids
    coco = CocoSet.load(Path(args.coco))
    ids = split_ids([im["id"] for im in coco.data["images"]], args.split)
    rows = []
    for name in args.detector or DETECTORS:
        spec = reg.get(name)
        row = evaluate_detector(build(spec, reg, threads=args.threads), coco, model_label_ids(spec.labels, coco),
                                limit=args.limit, image_ids=ids)
        row["model"] = Path(row["model"]).name if spec.family.startswith("maxsight") else row["model"]
        rows.append(row)
    lines = [f"Detection on {coco.root.name} ({args.split}): {rows[0]['images']} images, {rows[0]['boxes']} boxes "
             f"(COCO mAP at every score >= 0.05; safety recall at the threshold giving 90% precision on hazard classes)",
             f"{'model':<14} {'mAP':>5} {'mAP50':>6} {'AR100':>6} {'thr':>5} {'alerts':>6}  {'recall all':>16} {'small':>14} "
             f"{'medium':>14} {'large':>14} {'near >10%':>14} {'ms':>6}"]

    def cell(b):
        return f"{b['recall']:5.1f} ({b['found']}/{b['total']})" if b["recall"] is not None else f"  n/a (0/{b['total']})"
    for r in rows:
        c, s = r["coco"], r["safety"]
        thr = f"{s['threshold']:.2f}" if s["threshold"] is not None else "  n/a"
        lines.append(f"{r['model'][:14]:<14} {c['mAP']:5.1f} {c['mAP50']:6.1f} {c['AR100']:6.1f} {thr:>5} {s['alerts']:>6}  "
                     f"{cell(s['all']):>16} {cell(s['small']):>14} {cell(s['medium']):>14} {cell(s['large']):>14} "
                     f"{cell(s['near']):>14} {r['latency_ms_median']:6.1f}")
    return report("\n".join(lines), rows, args.json)


def cmd_distill(args) -> int:
    """A student against its teacher on video frames it did not train on."""
    from engine.eval_data import require
    from engine.models.detectors import build
    from maxsight_app.compose import make_registry
    from training.distill import teacher_agreement
    reg = make_registry()
    student = build(reg.get(args.model), reg, threads=args.threads)
    paths = [Path(v) for v in args.video] if args.video else [require("videos_walking_driving")]
    r = teacher_agreement(student, args.teacher, paths, args.every, args.offset, args.hard_score, args.threads, args.limit)
    return report(f"{Path(args.model).name} against {r['teacher']} (boxes >= {r['hard_score']:.2f} as reference) on {r['frames']} "
                  f"held-out frames, {r['teacher_boxes']} teacher boxes: mAP {r['mAP']:.1f}, mAP50 {r['mAP50']:.1f}, "
                  f"AR100 {r['AR100']:.1f}", r, args.json)


def cmd_cues(args) -> int:
    from engine.eval_data import require
    from maxsight_app.capture.video import VideoFileSource
    from maxsight_app.compose import build_runtime, make_registry
    from maxsight_app.measure import cues
    videos = [Path(v) for v in args.source] if args.source else sorted(require("videos_walking_driving").glob("*.[am][vp][i4]"))
    cfg = engine_config(args)
    profile = read_profile(args.profile)
    reg = make_registry()
    rows = []
    for v in videos:
        rt = build_runtime(profile, cfg, registry=reg, with_outputs=False, stage_b=False)
        try:
            rows.append((v.name, cues.evaluate(rt.session, VideoFileSource(v), max_frames=args.max_frames)))
        finally:
            rt.close()
    return report(cues.table(rows), {name: m for name, m in rows}, args.json)


def cmd_sounds(args) -> int:
    from engine.eval_data import require
    from maxsight_app.compose import make_registry
    from maxsight_app.measure import sounds
    if args.json:
        check_outputs({"--json": Path(args.json)}, {})
    reg = make_registry()
    det = sounds.detector(reg, head=args.head == "on")
    folders = [Path(d) for d in args.dir] if args.dir else [require("sound_events_small"), require("sound_events_more")]
    result = {"clips": [sounds.evaluate(reg, f, args.split, det) for f in folders]}
    if not args.no_speech:
        result["speech"] = sounds.evaluate_speech(reg, Path(args.speech) if args.speech else require("asr_speech_refs"), det,
                                                  split=args.split)
    return report(sounds.table(result), result, args.json)


def cmd_watch_for(args) -> int:
    import logging

    from engine.eval_data import require
    from maxsight_app.measure import watch_for
    if args.json:
        check_outputs({"--json": Path(args.json)}, {})
    if not 1 <= args.limit <= 500:
        raise ValueError(f"--limit must be between 1 and 500, got {args.limit}")
    if not 0.2 <= args.every <= 5.0:
        raise ValueError(f"--every must be between 0.2 and 5 seconds, got {args.every}")
    data = Path(args.data) if args.data else require("icdar2015_test_scene_text")
    result = watch_for.evaluate(data, args.split, args.limit, args.every, log=logging.getLogger(__name__).info)
    return report(watch_for.table(result), result, args.json)


def cmd_custom_sounds(args) -> int:
    from engine.eval_data import require
    from maxsight_app.compose import make_registry
    from maxsight_app.measure import custom_sounds, sounds
    if args.json:
        check_outputs({"--json": Path(args.json)}, {})
    det = sounds.detector(make_registry())
    folders = [Path(d) for d in args.dir] if args.dir else [require("sound_events_more"), require("sound_events_small")]
    speech = Path(args.speech) if args.speech else require("asr_speech_refs")
    result = custom_sounds.evaluate(det, folders, speech, tuple(args.split or ("dev", "test")), args.shots, args.sweep)
    return report(custom_sounds.table(result), result, args.json)


def cmd_captions(args) -> int:
    from engine.eval_data import require
    from maxsight_app.measure import captions
    folder = Path(args.dir) if args.dir else require("asr_speech_refs")
    result = captions.evaluate(folder, threads=args.threads, limit=args.limit)
    return report(captions.table(result), result, args.json)


def cmd_name_alert(args) -> int:
    from engine.eval_data import require
    from maxsight_app.measure import name_alert
    if args.json:
        check_outputs({"--json": Path(args.json)}, {})
    result = name_alert.evaluate(Path(args.speech) if args.speech else require("asr_speech_refs"))
    return report(name_alert.table(result), result, args.json)


def cmd_ocr(args) -> int:
    from engine.eval_data import require
    from engine.stage_b.ocr import TextReader
    from maxsight_app.measure import ocr
    if args.json:
        check_outputs({"--json": Path(args.json)}, {})
    parts = set(args.only or ["photos", "crops"])
    reader = TextReader()
    result: dict = {"photos": [], "crops": [], "moving": []}
    for split in args.split or ["dev", "test"]:
        if "timing" in parts:
            folder = Path(args.icdar) if args.icdar else require("icdar2015_test_scene_text")
            result.setdefault("timing", []).append(ocr.evaluate_timing(reader, folder, split, args.limit or 20))
        if "moving" in parts:
            folder = Path(args.icdar) if args.icdar else require("icdar2015_test_scene_text")
            result["moving"].append(ocr.evaluate_moving(reader, folder, split, args.limit))
        if "photos" in parts:
            folder = Path(args.icdar) if args.icdar else require("icdar2015_test_scene_text")
            result["photos"].append(ocr.evaluate_photos(reader, folder, split, tuple(args.passes or ("background", "asked")),
                                                        args.limit, recognition=not args.no_recognition))
        if "crops" in parts:
            folder = Path(args.crops) if args.crops else require("ocr_word_crops")
            result["crops"].append(ocr.evaluate_crops(reader, folder, split, args.limit))
    return report(ocr.table(result), result, args.json)


def cmd_safety(args) -> int:
    from engine.eval_data import require
    from maxsight_app.compose import build_runtime, make_registry
    from maxsight_app.measure import safety
    from training.evaluate import open_eval_set
    if args.json:
        check_outputs({"--json": Path(args.json)}, {})
    parts = set(args.only or ["stills", "clips", "approach"])
    cfg = engine_config(args)
    profile = read_profile(args.profile)
    reg = make_registry()
    data = [Path(p) for p in args.data] if args.data else [require("coco_val2017_128")]
    result: dict = {"model": cfg.detector, "split": args.split, "stills_source": ", ".join(p.name for p in data)}
    explainer = None
    if args.explain:
        from maxsight_app.measure.explain import Explainer
        if Path(args.explain).exists() and not Path(args.explain).is_dir():
            raise CommandError(f"--explain {args.explain} is a file; give a folder")
        explainer = Explainer(args.explain)
    rt = build_runtime(profile, cfg, registry=reg, with_outputs=False, stage_b=False)
    try:
        if parts & {"stills", "approach"}:
            coco, ids = open_eval_set(data, args.split)
        if "stills" in parts:
            result["stills"] = safety.eval_stills(coco, ids, rt.pipeline, cfg.camera, limit=args.limit, explain=explainer,
                                                  prefs=profile)
        if "clips" in parts:
            mot = Path(args.mot) if args.mot else require("mot17_clips")
            result["clips"] = safety.eval_clips(safety.load_mot(mot), rt.pipeline, cfg.camera)
    finally:
        rt.close()
    if "approach" in parts:
        result["approach"], result["understood"] = _approach(args, cfg, profile, reg, coco, ids, explainer)
    text = safety.table(result)
    if explainer is not None:
        from maxsight_app.measure.explain import summary_table
        result["explain"] = explainer.finish(f"MaxSight safety mistakes: {result['stills_source']} {args.split}")
        text += "\n" + summary_table(result["explain"], args.explain)
    return report(text, result, args.json)


def _approach(args, cfg, profile, reg, coco, ids, explainer=None):
    """Synthetic clips through fresh sessions that speak into a WAV timeline, as a user hears them."""
    import tempfile
    from collections import defaultdict

    import cv2

    from maxsight_app.compose import build_runtime
    from maxsight_app.measure import approach, safety
    from maxsight_app.outputs.audio import WavFileSink
    from maxsight_app.outputs.base import SpyOutput
    from maxsight_app.outputs.factory import voice_of
    from maxsight_app.outputs.sound import SoundOutput
    from maxsight_app.outputs.speech import SpeechSynth
    cats = {c["id"]: c["name"] for c in coco.data["categories"]}
    anns = defaultdict(list)
    for a in coco.data["annotations"]:
        anns[a["image_id"]].append(a)
    images = sorted((im for im in coco.data["images"] if im["id"] in set(ids)), key=lambda im: im["id"])
    specs = approach.plan(images, anns, cats, seed=args.seed, per_kind=args.limit)
    if not specs:
        raise ValueError("no photo in this split makes an approach clip (it needs a hazard-class object not cut by the edge)")
    synth = SpeechSynth(voice_of(profile))
    speech_ok = synth.check() is None
    transcriber = None
    if speech_ok and not args.no_transcribe:
        transcriber = safety.Transcriber(SoundOutput(None, synth, earcons=profile.earcons, volume=profile.tone_volume))
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="maxsight-safety-") as tmp:
        for spec in specs:
            holder = {}

            def make_session(spec=spec):
                rt = build_runtime(profile, cfg, registry=reg, with_outputs=False, stage_b=False)
                rt.session.replay_latency_s = args.frame_time
                sink = None
                outputs = [SpyOutput()]
                if speech_ok:
                    sink = WavFileSink(Path(tmp) / f"{spec.name}.wav", rt.session.media_time)
                    outputs.append(SoundOutput(sink, synth, earcons=profile.earcons, volume=profile.tone_volume))
                rt.session.outputs = outputs
                holder["rt"] = rt
                return rt.session, sink
            photo = cv2.imread(str(coco.image_path(next(im for im in images if im["id"] == spec.image_id))))
            try:
                out = safety.run_clip(spec, photo, make_session, cfg.camera, transcriber, explain=explainer)
            finally:
                holder["rt"].close()
            outcomes.append(out)
        summary = safety.summarise_clips(outcomes)
    said = {}
    if transcriber is not None:
        said = {k: v for k, v in transcriber.cache.items()}
    understood = None
    if transcriber is not None:
        ok = sum(v[0] for v in said.values())
        understood = {"understood": {"pct": 100.0 * ok / len(said) if said else None, "n": ok, "of": len(said)},
                      "not_understood": [{"said": k[0], "heard": v[1]} for k, v in said.items() if not v[0]][:20]}
    summary["outcomes"] = [o.__dict__ for o in outcomes]
    summary["frame_time_ms"] = "wall" if args.frame_time is None else round(args.frame_time * 1e3, 1)
    return summary, understood


def cmd_calibrate(args) -> int:
    import json
    import sys

    from engine.eval_data import require
    from engine.models.detectors import build
    from engine.models.registry import load_labels
    from maxsight_app.compose import make_registry
    from maxsight_app.measure import calibrate
    from training.evaluate import label_ids_by_name, open_eval_set, run_detector
    reg = make_registry()
    targets = {}                 # the options first: a wrong target is said before any data is looked for
    for item in args.precision:
        group, _, value = item.partition("=")
        try:
            targets[group] = float(value)
        except ValueError:
            targets[group] = -1.0
        if group not in calibrate.GROUPS or not 0.0 < targets[group] <= 1.0:
            print(f"maxsight: --precision {item}: give GROUP=P with a group of {', '.join(calibrate.GROUPS)} and P in (0, 1]",
                  file=sys.stderr)
            return 2
    data = [Path(p) for p in args.data] if args.data else [require("coco_val2017_128")]
    coco, ids = open_eval_set(data, args.split)
    out, text = {}, []
    for name in args.model or DETECTORS:
        spec = reg.get(name)
        det = build(spec, reg, threads=args.threads)
        labels, _ = load_labels(spec.labels)
        results, _ = run_detector(det, coco, label_ids_by_name(labels, coco), min_score=spec.keep_score, image_ids=ids)
        source = f"{', '.join(p.name for p in data)} {args.split} ({len(ids)} photos)"
        r = calibrate.fit(coco, results, ids, spec.birth_score, source, targets)
        out[name] = r
        text.append(calibrate.table(name, r))
        if args.report_on:
            other, other_ids = open_eval_set(data, args.report_on)
            res, _ = run_detector(det, other, label_ids_by_name(labels, other), min_score=spec.keep_score, image_ids=other_ids)
            r["checked"] = calibrate.check(other, res, other_ids, r, f"{', '.join(p.name for p in data)} {args.report_on} "
                                                                    f"({len(other_ids)} photos)")
            text.append(calibrate.check_table(r["checked"]))
        if args.write:
            import assets
            target = Path(str(assets.path("calibration"))) / f"{name}.json"
            target.write_text(json.dumps(r, indent=1) + "\n")
            text.append(f"  written to {target}")
    return report("\n".join(text), out, args.json)


def cmd_find(args) -> int:
    """Find mode end to end on door clips: the real access detector when it is installed, else the
    photo's ground-truth boxes moved with the clip (said in the result)."""
    import tempfile
    from collections import defaultdict

    import cv2

    from engine.eval_data import require
    from engine.models.registry import ModelError
    from maxsight_app.compose import build_runtime, make_registry
    from maxsight_app.find import resolve
    from maxsight_app.measure import find
    from maxsight_app.outputs.audio import WavFileSink
    from maxsight_app.outputs.base import SpyOutput
    from maxsight_app.outputs.factory import voice_of
    from maxsight_app.outputs.sound import SoundOutput
    from maxsight_app.outputs.speech import SpeechSynth
    from training.evaluate import open_eval_set
    if args.json:
        check_outputs({"--json": Path(args.json)}, {})
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be at least 1, got {args.limit}")
    keep = Path(args.keep_audio) if args.keep_audio else None
    if keep is not None and not keep.is_dir():
        raise ValueError(f"--keep-audio {keep}: no such folder")
    cfg = engine_config(args)
    profile = read_profile(args.profile)
    reg = make_registry()
    data = Path(args.data) if args.data else require("accessibility_objects", "doors")
    coco, ids = open_eval_set([data], args.split)
    cats = {c["id"]: c["name"] for c in coco.data["categories"]}
    anns = defaultdict(list)
    for a in coco.data["annotations"]:
        anns[a["image_id"]].append(a)
    images = sorted((im for im in coco.data["images"] if im["id"] in set(ids)), key=lambda im: im["file_name"])
    clips = find.plan(images, anns, cats, seed=args.seed, limit=args.limit)
    if not clips:
        raise ValueError(f"no photo in {data} ({args.split}) has a whole door big enough for a clip")
    use_model = False
    if cfg.access and not args.scripted:
        try:
            from engine.models.detectors import build
            build(reg.get(cfg.access), reg, threads=cfg.threads)
            use_model = True
        except (ModelError, KeyError, ValueError):
            use_model = False
    synth = SpeechSynth(voice_of(profile))
    if synth.check() is not None:
        raise ValueError(f"find mode is measured on the spoken timeline, and speech is off: {synth.check()}")
    target = resolve("door")
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="maxsight-find-") as tmp:
        wav_dir = keep or Path(tmp)
        for clip in clips:
            made = []

            def make_session(boxes, wav, tone_wav):
                if use_model:
                    rt = build_runtime(profile, cfg, registry=reg, with_outputs=False, stage_b=False)
                    name = f"{cfg.access} (the door and stairs model) beside {cfg.detector}"
                else:
                    rt = build_runtime(profile, cfg.with_(access=""), registry=reg, with_outputs=False, stage_b=False,
                                       detector=find.TruthDetector(boxes))
                    name = ("ground-truth door boxes moved with the clip (scripted" +
                            ("; asked for)" if args.scripted else "; the access model is not installed)"))
                made.append(rt)
                s = rt.session
                s.outputs = [SpyOutput(), SoundOutput(WavFileSink(wav, s.media_time), synth, earcons=profile.earcons,
                                                      volume=profile.tone_volume),
                             SoundOutput(WavFileSink(tone_wav, s.media_time), None, earcons=False, speech=False,
                                         volume=profile.tone_volume)]
                s.start_find(target)
                return s, name
            photo = cv2.imread(str(coco.image_path(next(im for im in images if im["id"] == clip.image_id))))
            try:
                outcomes.append(find.run_clip(clip, photo, make_session, cfg.camera, wav_dir))
            finally:
                for rt in made:
                    rt.close()
    result = find.summarise(outcomes)
    result.update({"data": str(data), "split": args.split, "photos": len(ids), "condition": profile.vision_condition,
                   "severity": profile.vision_severity})
    return report(find.table(result), result, args.json)


def cmd_collide(args) -> int:
    """The collision lane against rendered truth (maxsight_app/measure/collide.py), at the operating
    point --sensitivity names unless --fit fits it on the dev half."""
    import logging

    from engine.config import collision_config
    from maxsight_app.measure import collide
    if args.json:
        check_outputs({"--json": Path(args.json)}, {})
    if not 1 <= args.per_kind <= 50:
        raise ValueError(f"--per-kind must be between 1 and 50, got {args.per_kind}")
    if not 5 <= args.fps <= 60:
        raise ValueError(f"--fps must be between 5 and 60, got {args.fps:g}")
    if args.fit and args.sensitivity is not None:
        raise ValueError("--fit chooses the lane's operating point itself; leave out --sensitivity")
    log = logging.getLogger(__name__)
    result = collide.evaluate(args.per_kind, collision_config(args.sensitivity or "on"), do_fit=args.fit,
                              null_limit_s=args.null_limit, nulls=not args.no_null, log=log.info, fps=args.fps)
    return report(collide.table(result), result, args.json)
