"""Train the sound head (engine/stage_b/sound_head.py): a small classifier on YAMNet's 1024-d
embeddings for the classes YAMNet alone misses (smoke/fire alarm beeps, glass breaking, a baby's
cry), from the DEV half of the evaluation sound clips only (the file-name hash rule of
`maxsight eval sounds`), mixed with the dev half's background clips and read speech at several
levels (clean, +20, +10, +5, 0 dB) with random time shifts and overall gains.

    python -m training.sound_head --data ../shared/data --out assets/models/sound_head

What it does, in order:
1. Reads the dev clips. A class needs at least MIN_CLIPS dev clips to be trained (car horn has 1,
   dog 0; siren, doorbell and knock have none anywhere): the others keep YAMNet's own output.
2. K-fold by source clip (a clip, its mixtures and its backgrounds are in one fold): trains on the
   other folds, scores the held-out fold's clips as the app streams them (a 0.96 s patch every
   0.48 s, 1 s of silence after), and fits each class's firing thresholds (on, off, strong) on
   these out-of-fold scores: the most dev clips heard with no false event on dev background,
   speech or other classes' clips, then the middle of that plateau.
3. Trains on all dev clips, writes a checkpoint (runs/, training.checkpoint's format) and exports
   head.npz + head.json (weights, classes, thresholds, how it was made, CPU time).
The test half is never read here."""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from engine.stage_b.audio_features import PATCH_FRAMES, SAMPLE_RATE, log_mel, patches
from engine.stage_b.sound_events import SoundEventDetector, fire, _ClassState
from engine.stage_b.sound_head import EMBEDDING_DIMS, FORMAT

log = logging.getLogger(__name__)

CLASSES = ("smoke_alarm", "glass_breaking", "baby_crying")   # the seed's classes with >= MIN_CLIPS dev clips
MIN_CLIPS = 4
TRAIN_HOP = 24               # log-mel frames between training patches (0.24 s)
STREAM_HOP = 48              # as the app streams (0.48 s)
PATCH_SAMPLES = (PATCH_FRAMES - 1) * 160 + 400


@dataclass
class HeadConfig:
    hidden: int = 0           # 0: a linear head (4-fold dev: glass 10/14 with no false event; 16 or 64 hidden: 11-13/14 with 2)
    epochs: int = 60
    lr: float = 1e-3
    weight_decay: float = 1e-2
    dropout: float = 0.2
    batch: int = 256
    seed: int = 0
    folds: int = 4
    snrs_db: tuple = (None, 20.0, 10.0, 5.0, 0.0)    # None: the clip alone (over a faint noise floor)
    shifts: int = 3           # random placements per clip and level
    pos_range_db: float = 10.0     # a patch is positive when the event's level in it is within this of its loudest patch
    neg_below_db: float = 25.0     # ... negative when further below than this (in between: not used)
    classes: tuple = CLASSES
    thresholds_grid: tuple = tuple(np.round(np.arange(0.30, 0.96, 0.05), 2))
    extra: dict = field(default_factory=dict)


def half(name: str) -> str:
    """The split rule of `maxsight eval sounds` (and eval ocr): dev below 0x80000000."""
    return "dev" if int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) < 0x80000000 else "test"


def load_audio(path: Path) -> np.ndarray:
    """[N] float32 mono at 16 kHz (PyAV, as the app's capture.audio_file does)."""
    import av
    with av.open(str(path)) as c:
        res = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        parts = [o.to_ndarray().reshape(-1) for f in c.decode(audio=0) for o in res.resample(f)]
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)


@dataclass
class Clip:
    name: str
    cls: str | None           # a MaxSight class, or None (should stay silent: background, speech)
    kind: str                 # "event", "background", "speech"
    audio: np.ndarray
    licence: str = ""


def dev_clips(data: Path, sound_classes: tuple[str, ...]) -> list[Clip]:
    """The dev half of sound_events_small, sound_events_more and asr_speech_refs."""
    out = []
    for folder in ("sound_events_small", "sound_events_more"):
        for r in csv.DictReader(open(data / folder / "labels.csv", encoding="utf-8")):
            if half(r["file"]) != "dev":
                continue
            cls = r["maxsight_class"] if r["maxsight_class"] in sound_classes else None
            out.append(Clip(r["file"], cls, "event" if cls else "background", load_audio(data / folder / "audio" / r["file"]),
                            r.get("licence", "")))
    speech = sorted((data / "asr_speech_refs" / "ljspeech").glob("*.flac")) + sorted((data / "asr_speech_refs" / "other").glob("*.flac"))
    out += [Clip(f.name, None, "speech", load_audio(f), "LJ Speech: public domain; JFK: public domain") for f in speech
            if half(f.name) == "dev"]
    return out


def level_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-12)) if len(x) else -120.0


def loud_level_db(x: np.ndarray) -> float:
    """The level of a clip's sounding part: the mean power of its 10 ms frames within 20 dB of the loudest."""
    n = len(x) // 160
    if n == 0:
        return level_db(x)
    p = np.mean(np.square(x[:n * 160].reshape(n, 160), dtype=np.float64), axis=1) + 1e-12
    return float(10 * np.log10(p[p >= p.max() * 0.01].mean()))


class Embedder:
    """Patches -> L2-normalised YAMNet embeddings, through the app's own detector."""

    def __init__(self, det: SoundEventDetector):
        self.det = det

    def __call__(self, x: np.ndarray, hop: int) -> np.ndarray:
        p = patches(log_mel(x), hop_frames=hop)
        if not len(p):
            return np.zeros((0, EMBEDDING_DIMS), np.float32)
        return np.stack([self.det.infer(q)[1] for q in p])


def stream_embeddings(emb: Embedder, x: np.ndarray) -> np.ndarray:
    """[k, 1024]: the patches the app sees when the clip is streamed from a fresh start with 1 s of
    silence after it (maxsight_app.measure.sounds.stream)."""
    return emb(np.concatenate([x, np.zeros(SAMPLE_RATE, np.float32)]), STREAM_HOP)


def _loop(x: np.ndarray, n: int, rng) -> np.ndarray:
    if len(x) == 0:
        return np.zeros(n, np.float32)
    start = int(rng.integers(0, len(x)))
    reps = int(np.ceil((n + start) / len(x)))
    return np.tile(x, reps)[start:start + n]


def mixtures(events: list[Clip], backgrounds: list[Clip], emb: Embedder, cfg: HeadConfig, rng):
    """Training patches: X [N, 1024], Y [N, C] in {0, 1}, M [N, C] (1: use this target).
    Each event clip at each level in cfg.snrs_db, cfg.shifts random placements in a window 1.5 s
    longer than it, over a random background (a background clip or read speech, looped), at a
    random overall gain; every background clip alone at three gains (all negative)."""
    C = len(cfg.classes)
    X, Y, M = [], [], []
    floor = lambda n: (rng.standard_normal(n) * 10 ** (-70 / 20)).astype(np.float32)  # noqa: E731
    for ev in events:
        ci = cfg.classes.index(ev.cls) if ev.cls in cfg.classes else None
        x = ev.audio
        ref = loud_level_db(x)
        for snr in cfg.snrs_db:
            for _ in range(cfg.shifts):
                n = max(len(x) + int(1.5 * SAMPLE_RATE), PATCH_SAMPLES + TRAIN_HOP * 160)
                off = int(rng.integers(0, n - len(x) + 1))
                placed = np.zeros(n, np.float32)
                placed[off:off + len(x)] = x
                if snr is None or not backgrounds:
                    bg = floor(n)
                else:
                    b = backgrounds[int(rng.integers(len(backgrounds)))].audio
                    bg = _loop(b, n, rng)
                    bg = bg * np.float32(10 ** ((ref - snr - loud_level_db(bg)) / 20))
                mix = placed + bg
                gain_db = float(rng.uniform(-30, -1)) - 20 * np.log10(np.abs(mix).max() + 1e-9)
                mix = (mix * np.float32(10 ** (gain_db / 20))).astype(np.float32)
                e = emb(mix, TRAIN_HOP)
                starts = [i * TRAIN_HOP * 160 for i in range(len(e))]
                lv = np.array([level_db(placed[s:s + PATCH_SAMPLES]) for s in starts])
                top = lv.max() if len(lv) else -120.0
                y, m = np.zeros((len(e), C), np.float32), np.ones((len(e), C), np.float32)
                if ci is not None:
                    pos = lv >= top - cfg.pos_range_db
                    unsure = ~pos & (lv >= top - cfg.neg_below_db)
                    y[pos, ci] = 1.0
                    m[unsure, ci] = 0.0
                X.append(e)
                Y.append(y)
                M.append(m)
    for bg in backgrounds:
        for g in (-30.0, -15.0, -3.0):
            x = bg.audio if len(bg.audio) >= PATCH_SAMPLES else np.concatenate(
                [bg.audio, np.zeros(PATCH_SAMPLES - len(bg.audio), np.float32)])
            x = x * np.float32(10 ** ((g - 20 * np.log10(np.abs(x).max() + 1e-9)) / 20))
            e = emb(x.astype(np.float32), TRAIN_HOP)
            X.append(e)
            Y.append(np.zeros((len(e), C), np.float32))
            M.append(np.ones((len(e), C), np.float32))
    return np.concatenate(X), np.concatenate(Y), np.concatenate(M)


def train(X: np.ndarray, Y: np.ndarray, M: np.ndarray, cfg: HeadConfig):
    """(layers as numpy [(W, b), ...], torch state_dict). BCE per class, masked, positives weighted
    by the class's negative/positive ratio (at most 20)."""
    import torch
    torch.manual_seed(cfg.seed)
    d, C = X.shape[1], Y.shape[1]
    assert X.shape == (len(X), EMBEDDING_DIMS) and Y.shape == M.shape == (len(X), C), \
        f"training arrays must be X [N, {EMBEDDING_DIMS}], Y and M [N, C]; got {X.shape}, {Y.shape}, {M.shape}"
    parts = [torch.nn.Dropout(cfg.dropout)]
    if cfg.hidden:
        parts += [torch.nn.Linear(d, cfg.hidden), torch.nn.ReLU(), torch.nn.Linear(cfg.hidden, C)]
    else:
        parts += [torch.nn.Linear(d, C)]
    net = torch.nn.Sequential(*parts)
    pos = (Y * M).sum(0)
    neg = ((1 - Y) * M).sum(0)
    pos_weight = torch.tensor(np.clip(neg / np.maximum(pos, 1), 1, 20), dtype=torch.float32)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    Xt, Yt, Mt = (torch.from_numpy(np.ascontiguousarray(a, np.float32)) for a in (X, Y, M))
    gen = torch.Generator().manual_seed(cfg.seed)
    net.train()
    for _ in range(cfg.epochs):
        order = torch.randperm(len(Xt), generator=gen)
        for i in range(0, len(order), cfg.batch):
            b = order[i:i + cfg.batch]
            logits = net(Xt[b])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, Yt[b], pos_weight=pos_weight, reduction="none")
            loss = (loss * Mt[b]).sum() / Mt[b].sum().clamp(min=1)
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    lin = [m for m in net if isinstance(m, torch.nn.Linear)]
    layers = tuple((m.weight.detach().numpy().T.astype(np.float32).copy(), m.bias.detach().numpy().astype(np.float32).copy())
                   for m in lin)
    return layers, net.state_dict()


def head_probs(layers, E: np.ndarray) -> np.ndarray:
    from engine.stage_b.sound_head import SoundHead
    C = layers[-1][0].shape[1]
    names = tuple(f"c{i}" for i in range(C))
    return SoundHead(names, {n: (0.5, 0.2, 0.8) for n in names}, layers)(E) if len(E) else np.zeros((0, C), np.float32)


def events_in(seq: np.ndarray, on: float, off: float, strong: float) -> int:
    st, n = _ClassState(), 0
    for s in seq:
        n += fire(st, float(s), on, off, strong)
    return n


def fit_thresholds(oof: list[tuple[Clip, np.ndarray]], cfg: HeadConfig) -> dict:
    """Per class: (on, off, strong) from the out-of-fold score sequences. off = 0.3 * on. The most
    clips of the class heard with no event on any other clip; the middle of that plateau."""
    out = {}
    for ci, cls in enumerate(cfg.classes):
        grid = []
        for on in cfg.thresholds_grid:
            for strong in [s for s in cfg.thresholds_grid if s >= on] + [0.99]:
                off = round(0.3 * on, 3)
                hits = sum(events_in(p[:, ci], on, off, strong) > 0 for c, p in oof if c.cls == cls)
                false = sum(events_in(p[:, ci], on, off, strong) for c, p in oof if c.cls != cls)
                grid.append((hits, -false, on, off, strong))
        best = max((f, h) for h, f, *_ in grid)        # fewest false events first, then most clips heard
        plateau = sorted([g for g in grid if (g[1], g[0]) == best], key=lambda g: (g[2], g[4]))
        h, f, on, off, strong = plateau[len(plateau) // 2]
        n = sum(c.cls == cls for c, _ in oof)
        out[cls] = {"on": float(on), "off": float(off), "strong": float(strong), "dev_hits": int(h), "dev_clips": int(n),
                    "dev_false_events": int(-f), "plateau": len(plateau)}
    return out


def folds_of(clips: list[Clip], k: int) -> list[int]:
    """A fold per clip, stratified: clips of each class (and background, speech) dealt round-robin
    in file-name-hash order, so each fold holds some of each."""
    fold = [0] * len(clips)
    groups: dict = {}
    for i, c in enumerate(clips):
        groups.setdefault(c.cls or c.kind, []).append(i)
    for idx in groups.values():
        for j, i in enumerate(sorted(idx, key=lambda i: hashlib.sha256(clips[i].name.encode()).hexdigest())):
            fold[i] = j % k
    return fold


def run(data: Path, out: Path, cfg: HeadConfig, checkpoint: Path | None = None, oof_json: Path | None = None) -> dict:
    from engine.models.registry import default_registry, verified_path
    from engine.stage_b.sound_events import SOUND_CLASSES
    t_cpu0, t0 = time.process_time(), time.time()
    path = verified_path(default_registry(include_user=False).get("yamnet"))
    emb = Embedder(SoundEventDetector(path, path.parent / "yamnet_class_map.csv"))
    clips = dev_clips(data, tuple(SOUND_CLASSES))
    counts = {c: sum(k.cls == c for k in clips) for c in SOUND_CLASSES}
    trained = tuple(c for c in cfg.classes if counts.get(c, 0) >= MIN_CLIPS)
    cfg.classes = trained
    log.info("dev clips: %s; %d background, %d speech", counts, sum(c.kind == "background" for c in clips),
             sum(c.kind == "speech" for c in clips))
    streams = [stream_embeddings(emb, c.audio) for c in clips]
    fold = folds_of(clips, cfg.folds)
    rng = np.random.default_rng(cfg.seed)
    oof: list = [None] * len(clips)
    for k in range(cfg.folds):
        tr = [c for c, f in zip(clips, fold) if f != k]
        X, Y, M = mixtures([c for c in tr if c.cls], [c for c in tr if not c.cls], emb, cfg, rng)
        layers, _ = train(X, Y, M, cfg)
        for i, f in enumerate(fold):
            if f == k:
                oof[i] = (clips[i], head_probs(layers, streams[i]))
        log.info("fold %d: %d training patches", k, len(X))
    thresholds = fit_thresholds(oof, cfg)
    if oof_json:
        Path(oof_json).write_text(json.dumps([{"file": c.name, "class": c.cls, "kind": c.kind, "probs": p.round(3).tolist()}
                                              for c, p in oof]))
    X, Y, M = mixtures([c for c in clips if c.cls], [c for c in clips if not c.cls], emb, cfg, rng)
    layers, state = train(X, Y, M, cfg)
    cpu_s, wall_s = time.process_time() - t_cpu0, time.time() - t0
    meta = {
        "format": FORMAT, "classes": list(trained), "embedding_dims": EMBEDDING_DIMS,
        "thresholds": {c: [thresholds[c]["on"], thresholds[c]["off"], thresholds[c]["strong"]] for c in trained},
        "dev_out_of_fold": thresholds,
        "architecture": f"dropout {cfg.dropout}, " + (f"Linear(1024, {cfg.hidden}), ReLU, Linear({cfg.hidden}, {len(trained)})"
                                                      if cfg.hidden else f"Linear(1024, {len(trained)})") + ", sigmoid",
        "training": {"data": "dev half (file-name hash) of sound_events_small, sound_events_more, asr_speech_refs",
                     "dev_clips": {c: n for c, n in counts.items() if n}, "background_clips": sum(c.kind == "background" for c in clips),
                     "speech_recordings": sum(c.kind == "speech" for c in clips), "patches": int(len(X)),
                     "positives": {c: int(Y[:, i].sum()) for i, c in enumerate(trained)},
                     "config": {k: v for k, v in asdict(cfg).items() if k not in ("thresholds_grid", "extra")},
                     "cpu_s": round(cpu_s, 1), "wall_s": round(wall_s, 1)},
        "not_trained": {c: f"{counts.get(c, 0)} dev clips: YAMNet's own output" for c in SOUND_CLASSES if c not in trained},
    }
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "head.npz", **{f"{p}{i}": a for i, (w, b) in enumerate(layers) for p, a in (("w", w), ("b", b))})
    (out / "head.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    if checkpoint:
        from training.checkpoint import write
        write(checkpoint, {"config": meta["training"]["config"], "labels": list(trained), "model": state, "kind": "sound_head"})
    return meta


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.sound_head", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="the evaluation data folder (sound_events_small, ...)")
    ap.add_argument("--out", type=Path, default=Path("assets/models/sound_head"))
    ap.add_argument("--checkpoint", type=Path, default=Path("runs/sound_head/head.pt"))
    ap.add_argument("--hidden", type=int, default=HeadConfig.hidden)
    ap.add_argument("--epochs", type=int, default=HeadConfig.epochs)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--oof", type=Path, help="also write the out-of-fold dev scores here (JSON), for analysis")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch
    torch.set_num_threads(1)     # a shared 2-core machine; the head is tiny
    cfg = HeadConfig(hidden=args.hidden, epochs=args.epochs, seed=args.seed)
    meta = run(args.data, args.out, cfg, args.checkpoint, args.oof)
    print(json.dumps({k: meta[k] for k in ("classes", "thresholds", "dev_out_of_fold", "not_trained")}, indent=1))
    print(f"CPU {meta['training']['cpu_s']} s, wall {meta['training']['wall_s']} s; written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
