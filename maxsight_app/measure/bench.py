"""`maxsight bench stage-a`: per-step latency of Stage A on real video frames, 1 and 2 threads,
against a floor measured in the same run: the model's fp32 convolution FLOPs over the measured
fp32 matmul rate plus its INT8 convolution FLOPs over the measured INT8 matmul rate.

Reported as medians and p95, never asserted in tests: these machines are noisy.
"""
from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

from engine.config import CollisionConfig, EngineConfig
from engine.device import pick_device
from engine.models.detectors import build
from engine.models.onnx_runner import make_session
from engine.models.registry import Registry, verified_path
from engine.types import CaptionJob, Frame, RecognitionJob, SoundJob, StageBJob, TextJob
from maxsight_app.capture.feed import Feed
from maxsight_app.capture.video import VideoFileSource

log = logging.getLogger(__name__)

STEPS = ("decode", "quality", "preprocess", "inference", "postprocess", "tracking", "access", "geometry", "collision",
         "stage_a")


def model_gflops(path: Path) -> tuple[float, float]:
    """(fp32, int8) GFLOPs (multiply-adds x 2) of every Conv / MatMul / Gemm, from ONNX shape
    inference. A Conv whose weight is DequantizeLinear of an int8 tensor (QDQ models) counts as int8:
    ONNX Runtime runs it as an integer convolution."""
    model = shape_inference.infer_shapes(onnx.load(str(path)))
    shapes = {}
    for vi in list(model.graph.value_info) + list(model.graph.output) + list(model.graph.input):
        dims = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        shapes[vi.name] = dims
    inits = {i.name: list(i.dims) for i in model.graph.initializer}
    int8_inits = {i.name for i in model.graph.initializer if i.data_type in (onnx.TensorProto.INT8, onnx.TensorProto.UINT8)}
    dequant = {n.output[0]: n.input[0] for n in model.graph.node if n.op_type == "DequantizeLinear"}
    fp32 = int8 = 0
    for node in model.graph.node:
        if node.op_type == "Conv":
            w_name = dequant.get(node.input[1], node.input[1])
            w = inits.get(w_name)
            out = shapes.get(node.output[0])
            if w and out:
                flops = 2 * int(np.prod(out)) * int(np.prod(w[1:]))
                if w_name in int8_inits:
                    int8 += flops
                else:
                    fp32 += flops
        elif node.op_type in ("MatMul", "Gemm"):
            a, b = shapes.get(node.input[0]) or inits.get(node.input[0]), shapes.get(node.input[1]) or inits.get(node.input[1])
            if a and b:
                fp32 += 2 * int(np.prod(a)) * b[-1]
    return fp32 / 1e9, int8 / 1e9


def matmul_gflops_per_s(threads: int, repeats: int = 15, int8: bool = False) -> float:
    """Matmul throughput of ONNX Runtime with this many threads, the machine's ceiling: fp32 MatMul,
    or with int8=True MatMulInteger of uint8 activations by int8 weights (what QDQ convolutions use)."""
    import tempfile
    m, k, n = 512, 1024, 1024
    rng = np.random.default_rng(0)
    if int8:
        w = numpy_helper.from_array(rng.integers(-63, 64, (k, n)).astype(np.int8), "w")
        node = helper.make_node("MatMulInteger", ["x", "w"], ["y"])
        x_type, y_type = onnx.TensorProto.UINT8, onnx.TensorProto.INT32
        x = rng.integers(0, 256, (m, k)).astype(np.uint8)
    else:
        w = numpy_helper.from_array(rng.standard_normal((k, n)).astype(np.float32), "w")
        node = helper.make_node("MatMul", ["x", "w"], ["y"])
        x_type = y_type = onnx.TensorProto.FLOAT
        x = rng.standard_normal((m, k)).astype(np.float32)
    g = helper.make_graph([node], "mm", [helper.make_tensor_value_info("x", x_type, [m, k])],
                          [helper.make_tensor_value_info("y", y_type, [m, n])], initializer=[w])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "mm.onnx"
        onnx.save(model, p)
        sess = make_session(p, threads)
        for _ in range(3):
            sess.run(None, {"x": x})
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            sess.run(None, {"x": x})
            ts.append(time.perf_counter() - t0)
    return 2 * m * k * n / float(np.median(ts)) / 1e9


def load_frames(videos: list[Path], per_video: int) -> tuple[list[Frame], list[float]]:
    """Frames held in memory (so decoding is not timed with the model), and each one's decode time."""
    frames, decode_ms = [], []
    for v in videos:
        with Feed(VideoFileSource(v), audio=False, max_frames=per_video) as feed:
            for f, _ in feed:
                decode_ms.append(feed.stats.decode_ms)
                frames.append(Frame(index=len(frames), timestamp=f.timestamp, image=f.image))
    return frames, decode_ms


def bench_stage_a(registry: Registry, detectors: list[str], videos: list[Path], per_video: int,
                  thread_counts: tuple[int, ...] = (1, 2), device: str = "cpu", access: str = "",
                  collision: bool = False) -> dict:
    """access: also a row of the first detector with the door and stairs detector beside it (run
    every 0.2 s of video time, as in the app; its median is over the frames it ran on).
    collision: also a row of the first detector with the collision lane (engine/stage_a/collision.py)."""
    frames, decode_ms = load_frames(videos, per_video)
    if not frames:
        raise ValueError("no frames could be read from the benchmark videos")
    rates = {t: matmul_gflops_per_s(t) for t in thread_counts}
    rates8 = {t: matmul_gflops_per_s(t, int8=True) for t in thread_counts}
    rows = []
    runs = [(name, "", False) for name in detectors] + ([(detectors[0], access, False)] if access else [])
    runs += [(detectors[0], "", True)] if collision else []
    for name, beside, lane in runs:
        spec = registry.get(name)
        parts = [registry.get(p) for p in spec.parts] if spec.parts else [spec]     # the floor is the COCO detector's
        flops = [model_gflops(verified_path(p)) for p in parts]
        gflops, gflops8 = sum(f for f, _ in flops), sum(f for _, f in flops)
        for threads in thread_counts:
            rt = _runtime(registry, EngineConfig(detector=name, threads=threads, device=device, access=beside,
                                                 collision=CollisionConfig(enabled=lane)),
                          detector=build(spec, registry, threads=threads, device=pick_device(device)))
            try:
                pipe = rt.pipeline
                for f in frames[:3]:
                    pipe.step(f)            # warm-up: first runs allocate (and a GPU compiles its kernels)
                pipe.reset()
                steps: dict[str, list[float]] = {k: [] for k in STEPS}
                # Each video restarts the tracker, as a new source would.
                last_ts = -1.0
                for f in frames:
                    if f.timestamp < last_ts:
                        pipe.reset()
                    last_ts = f.timestamp
                    r = pipe.step(f)
                    for k, v in r.timings_ms.items():
                        if k in steps:
                            steps[k].append(v)
            finally:
                rt.close()
            steps["decode"] = decode_ms
            floor_ms = (gflops / rates[threads] + gflops8 / rates8[threads]) * 1e3
            med = {k: float(np.median(v)) for k, v in steps.items() if v}
            rows.append({
                "detector": f"{name}+{beside}" if beside else f"{name}+collision" if lane else name, "threads": threads, "frames": len(frames), "gflops": gflops, "gflops_int8": gflops8,
                "runs_on": pipe.runs_on,
                "median_ms": med,
                "p95_ms": {k: float(np.percentile(v, 95)) for k, v in steps.items() if v},
                "floor_ms": floor_ms,
                "inference_over_floor": med["inference"] / floor_ms,
                "stage_a_plus_decode_ms": med["stage_a"] + med["decode"],
                "stage_a_p95_within_10fps": float(np.percentile(steps["stage_a"], 95)) <= 100.0,
            })
    return {"videos": [str(v) for v in videos], "frames_per_video": per_video,
            "matmul_gflops_per_s": {str(k): v for k, v in rates.items()},
            "int8_matmul_gflops_per_s": {str(k): v for k, v in rates8.items()}, "rows": rows,
            "ratios": stage_a_ratios(rows)}


def stage_a_ratios(rows: list[dict]) -> list[dict]:
    """Same-run ratios of Stage A medians: each INT8 model against its fp32 model, and every
    detector against NanoDet fp32 (the cost the default must fit in), per thread count."""
    by = {(r["detector"], r["threads"]): r["median_ms"]["stage_a"] for r in rows}
    out = []
    for (name, threads), ms in by.items():
        row = {"detector": name, "threads": threads}
        if name.endswith("-int8") and (name[:-5], threads) in by:
            row["over_fp32"] = ms / by[(name[:-5], threads)]
        if ("nanodet", threads) in by:
            row["over_nanodet_fp32"] = ms / by[("nanodet", threads)]
        if name.endswith("+collision"):
            base = next((r for r in rows if r["detector"] == name[:-len("+collision")] and r["threads"] == threads), None)
            this = next(r for r in rows if r["detector"] == name and r["threads"] == threads)
            if base is not None:      # the bar: Stage A's p95 with the lane within 1.15x of without, one run
                row["p95_over_without_lane"] = this["p95_ms"]["stage_a"] / base["p95_ms"]["stage_a"]
        out.append(row)
    return out


def table(result: dict) -> str:
    rates = ", ".join(f"{t} thread(s) {r:.0f}" for t, r in result["matmul_gflops_per_s"].items())
    rates8 = ", ".join(f"{t} thread(s) {r:.0f}" for t, r in result.get("int8_matmul_gflops_per_s", {}).items())
    lines = [f"Stage A benchmark: {result['rows'][0]['frames']} real frames; matmul ceiling measured now (GFLOP/s): "
             f"fp32 {rates}; int8 {rates8 or 'not measured'}",
             f"{'median ms (p95)':<22}" + "  ".join(f"{s:>13}" for s in STEPS) + "   floor  infer/floor  vs fp32  vs nanodet"]
    ratios = {(r["detector"], r["threads"]): r for r in result.get("ratios", [])}
    for r in result["rows"]:
        cells = "  ".join(f"{r['median_ms'].get(s, float('nan')):>6.1f} ({r['p95_ms'].get(s, float('nan')):>5.1f})" for s in STEPS)
        q = ratios.get((r["detector"], r["threads"]), {})
        vs32 = f"{q['over_fp32']:.2f}x" if "over_fp32" in q else "-"
        vsnd = f"{q['over_nanodet_fp32']:.2f}x" if "over_nanodet_fp32" in q else "-"
        lines.append(f"{r['detector']:<15} {r['threads']}t    {cells}  {r['floor_ms']:>6.1f}  {r['inference_over_floor']:>9.2f}x"
                     f"  {vs32:>7}  {vsnd:>10}")
    lines.append("runs on: " + "; ".join(sorted({r.get("runs_on", "cpu") for r in result["rows"]})))
    lines.append("floor = fp32 conv GFLOPs / fp32 matmul rate + int8 conv GFLOPs / int8 matmul rate, both measured now: the "
                 "time the convolutions would take at the machine's dense-matmul speed; stage_a = quality + preprocess + "
                 "inference + postprocess + tracking + geometry (+ access, + collision where on); vs fp32 / vs nanodet = Stage A median over the fp32 "
                 "model's / NanoDet fp32's in this run; access = the door and stairs detector, median over the frames it "
                 "ran on (every 0.2 s); collision = the collision lane (DIS flow at 320 px)")
    for q in result.get("ratios", []):
        if "p95_over_without_lane" in q:
            lines.append(f"{q['detector']} {q['threads']}t: Stage A p95 {q['p95_over_without_lane']:.2f}x of without the lane")
    return "\n".join(lines)


def bench_conditions(videos: list[Path], frames_per_video: int = 20, severity: float = 0.7, repeats: int = 3) -> dict:
    """Per-condition latency on real 640x480 frames, against a reference measured in the same run
    (a 5x5 Gaussian blur of the same frame), as medians and p95."""
    import cv2

    from engine.conditions import CONDITIONS, simulate
    frames, _ = load_frames(videos, frames_per_video)
    images = [cv2.resize(f.image, (640, 480), interpolation=cv2.INTER_AREA) for f in frames]
    def timed(fn) -> list[float]:
        out = []
        for _ in range(repeats):
            for i, img in enumerate(images):
                t0 = time.perf_counter()
                fn(img, i)
                out.append((time.perf_counter() - t0) * 1e3)
        return out
    for name in CONDITIONS:                      # warm the mask caches
        simulate(name, images[0], severity)
    ref = timed(lambda img, i: cv2.GaussianBlur(img, (5, 5), 0))
    ref_med = float(np.median(ref))
    rows = []
    for name in CONDITIONS:
        ts = timed(lambda img, i: simulate(name, img, severity, t=i / 30))
        rows.append({"condition": name, "median_ms": float(np.median(ts)), "p95_ms": float(np.percentile(ts, 95)),
                     "over_reference": float(np.median(ts)) / ref_med, "within_5ms": float(np.median(ts)) <= 5.0})
    return {"frames": len(images), "severity": severity, "reference": "cv2.GaussianBlur 5x5, 640x480",
            "reference_median_ms": ref_med, "rows": rows}


def conditions_table(result: dict) -> str:
    lines = [f"Vision-condition simulations on {result['frames']} real 640x480 frames, severity {result['severity']}; "
             f"reference ({result['reference']}) {result['reference_median_ms']:.2f} ms",
             f"{'condition':<22} {'median ms':>10} {'p95 ms':>8} {'x reference':>12}  <= 5 ms"]
    for r in result["rows"]:
        lines.append(f"{r['condition']:<22} {r['median_ms']:>10.2f} {r['p95_ms']:>8.2f} {r['over_reference']:>12.1f}  {'yes' if r['within_5ms'] else 'NO'}")
    return "\n".join(lines)


def _runtime(registry: Registry, config: EngineConfig, stage_b: bool = False, detector=None):
    """What is measured is what runs: the runtime built the app's way (compose.build_runtime),
    without outputs. close() it."""
    from maxsight_app.compose import build_runtime
    from maxsight_app.profile.schema import Profile
    return build_runtime(Profile(speech=False, earcons=False), config, registry=registry, with_outputs=False,
                         stage_b=stage_b, detector=detector)


def bench_stage_b(registry: Registry, videos: list[Path], audio_clip: Path, per_video: int = 40, job_seconds: float = 4.0) -> dict:
    """Stage A latency alone and with a saturated Stage B worker (YAMNet over real audio, one thread
    in its own process, a new job whenever the queue has room), for Stage A on 1 and 2 threads."""
    from engine.config import Tier
    from maxsight_app.capture.audio_file import load_audio
    frames, _ = load_frames(videos, per_video)
    clip = load_audio(audio_clip)
    chunk = np.resize(clip, int(job_seconds * 16000)).astype(np.float32)
    rows = []
    for threads in (1, 2):
        config = EngineConfig(detector="nanodet", threads=threads, device="cpu")

        def run(pipe, stage_b) -> tuple[list[float], int]:
            for f in frames[:3]:
                pipe.step(f)
            pipe.reset()
            times, done = [], 0
            for f in frames:
                if stage_b is not None:
                    while stage_b.pending_for("sounds") < stage_b.max_pending:   # keep the worker saturated
                        stage_b.submit("sounds", SoundJob(chunk), t=f.timestamp)
                    done += len(stage_b.drain())
                times.append(pipe.step(f).timings_ms["stage_a"])
            return times, done
        rt = _runtime(registry, config)
        try:
            alone, _ = run(rt.pipeline, None)
        finally:
            rt.close()
        # Tier T1: the sounds processor alone, as the app starts it. The bench feeds the worker
        # itself (saturated), so the pipeline is unhooked from it and never drains its results.
        rt = _runtime(registry, replace(config, tier=Tier.T1), stage_b=True)
        try:
            sched = rt.stage_b
            if sched is None or tuple(sched.specs) != ("sounds",):
                raise ValueError(f"the Stage B benchmark needs YAMNet: {' '.join(rt.notes) or 'no sounds processor'}")
            rt.pipeline.stage_b = None
            sched.submit("sounds", SoundJob(chunk[:16000]), t=0.0)      # warm the worker (model load) before timing
            sched.wait_idle(30)
            sched.drain()
            busy, jobs = run(rt.pipeline, sched)
        finally:
            rt.close()
        rows.append({"stage_a_threads": threads, "frames": len(frames),
                     "alone_median_ms": float(np.median(alone)), "alone_p95_ms": float(np.percentile(alone, 95)),
                     "busy_median_ms": float(np.median(busy)), "busy_p95_ms": float(np.percentile(busy, 95)),
                     "ratio": float(np.median(busy) / np.median(alone)), "stage_b_jobs_done": jobs,
                     "stage_b_audio_s": jobs * job_seconds})
    return {"job_seconds": job_seconds, "audio_clip": str(audio_clip), "rows": rows}


def bench_stage_b_live(registry: Registry, video: Path, seconds: float = 40.0, tier: str = "T4", threads: int = 2) -> dict:
    """Stage A time per frame with the window's tier running beside it on real video and its real
    sound track (sounds, captions, reading, personal objects, in their own niced process), paced
    in real time, against Stage A alone (T0) on the same frames, in the same run. Stage B's models
    are loaded and warm before timing."""
    from engine.config import Tier
    from maxsight_app.capture.feed import Feed
    from maxsight_app.compose import build_runtime
    from maxsight_app.profile.schema import Profile
    rows = {}
    for name, t in (("alone (T0)", Tier.T0), (f"with Stage B ({tier})", Tier(tier)), ("alone again (T0)", Tier.T0)):
        rt = build_runtime(Profile(speech=False, earcons=False), EngineConfig(tier=t, threads=threads), registry=registry,
                           with_outputs=False)
        try:
            if rt.stage_b is not None:          # warm: every processor loads its model before timing
                for task in rt.stage_b.specs:
                    rt.stage_b.submit(task, _warm_payload(task), t=0.0)
                rt.stage_b.wait_idle(120)
                rt.stage_b.drain()
            times, jobs = [], 0
            with Feed(VideoFileSource(video), realtime=True, audio=rt.stage_b is not None, max_frames=int(seconds * 10)) as feed:
                for frame, audio in feed:
                    if frame.timestamp > seconds:
                        break
                    r = rt.session.handle(frame, audio).result
                    times.append(r.timings_ms["stage_a"])
                    jobs += len(r.sounds) + len(r.captions) + len(r.texts)
            rows[name] = {"frames": len(times), "median_ms": float(np.median(times)), "p95_ms": float(np.percentile(times, 95)),
                          "stage_b_results": jobs, "stage_b_tasks": list(rt.stage_b_tasks)}
        finally:
            rt.close()
    alone = [v for k, v in rows.items() if k.startswith("alone")]
    base_p95 = float(np.mean([v["p95_ms"] for v in alone]))
    base_med = float(np.mean([v["median_ms"] for v in alone]))
    busy = rows[f"with Stage B ({tier})"]
    return {"video": str(video), "seconds": seconds, "tier": tier, "threads": threads, "rows": rows,
            "p95_ratio": busy["p95_ms"] / base_p95, "median_ratio": busy["median_ms"] / base_med}


def _warm_payload(task: str) -> StageBJob:
    if task == "sounds":
        return SoundJob(np.zeros(16000, np.float32))
    if task == "captions":
        return CaptionJob(np.zeros(16000, np.float32))
    if task == "ocr":
        return TextJob(np.full((240, 320, 3), 128, np.uint8), 0.0)
    return RecognitionJob(((0, np.full((64, 64, 3), 128, np.uint8)),))


def stage_b_live_table(r: dict) -> str:
    lines = [f"Stage A per frame, real time, on {Path(r['video']).name} ({r['seconds']:.0f} s, {r['threads']} Stage A threads)",
             f"{'':<26} {'frames':>6} {'median ms':>10} {'p95 ms':>8} {'Stage B results':>16}"]
    for name, v in r["rows"].items():
        lines.append(f"{name:<26} {v['frames']:>6} {v['median_ms']:>10.1f} {v['p95_ms']:>8.1f} {v['stage_b_results']:>16}")
    lines.append(f"ratio with Stage B / alone (mean of the two alone runs): p95 {r['p95_ratio']:.2f}, median {r['median_ratio']:.2f} "
                 f"(target p95 <= 1.25)")
    return "\n".join(lines)


def stage_b_table(result: dict) -> str:
    lines = ["Stage A (nanodet) with Stage B saturated: YAMNet on real audio in its own process, 1 thread",
             f"{'A threads':>9} {'alone median (p95)':>20} {'with B busy (p95)':>20} {'ratio':>6} {'B audio done':>13}"]
    for r in result["rows"]:
        lines.append(f"{r['stage_a_threads']:>9} {r['alone_median_ms']:>11.1f} ({r['alone_p95_ms']:>5.1f}) "
                     f"{r['busy_median_ms']:>11.1f} ({r['busy_p95_ms']:>5.1f}) {r['ratio']:>6.2f} {r['stage_b_audio_s']:>11.0f} s")
    lines.append("target: ratio <= 1.25 (Stage A's own median measured alone in the same run)")
    return "\n".join(lines)
