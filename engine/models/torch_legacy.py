"""Read a legacy (pre-1.6) torch `.pth` state dict into numpy arrays without torch.

The format is a sequence of pickles: magic number, protocol version, system info, the object
(tensors refer to storages by persistent id), the list of storage keys, then each storage's raw
bytes preceded by its element count. Only what state dicts use is accepted; anything else is a
ValueError, since unpickling arbitrary classes would run arbitrary code."""
from __future__ import annotations

import collections
import pickle
import struct
from pathlib import Path

import numpy as np

MAGIC = 0x1950A86A20F9469CFC6C
_DTYPES = {"FloatStorage": np.float32, "LongStorage": np.int64, "IntStorage": np.int32, "HalfStorage": np.float16,
           "DoubleStorage": np.float64, "ByteStorage": np.uint8}


class _Storage:
    def __init__(self, kind: str):
        self.kind = kind


class _Lazy:
    def __init__(self, key, offset, size, stride):
        self.key, self.offset, self.size, self.stride = key, offset, tuple(size), tuple(stride)


def _rebuild(storage_key, offset, size, stride, *_):
    return _Lazy(storage_key, offset, size, stride)


class _Unpickler(pickle.Unpickler):
    def __init__(self, f, storages):
        super().__init__(f)
        self.storages = storages

    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch" and name in _DTYPES:
            return _Storage(name)
        raise ValueError(f"this .pth file needs {module}.{name}, which a state dict never does; not loaded")

    def persistent_load(self, pid):
        _, storage_type, key, _location, _size = pid[:5]
        self.storages[key] = storage_type.kind
        return key


def load_state_dict(path: Path) -> dict[str, np.ndarray]:
    with open(path, "rb") as f:
        if pickle.load(f) != MAGIC:
            raise ValueError(f"{path} is not a legacy torch file")
        pickle.load(f)                      # protocol version
        pickle.load(f)                      # system info (endianness, type sizes)
        storages: dict[str, str] = {}
        obj = _Unpickler(f, storages).load()
        keys = pickle.load(f)
        data = {}
        for key in keys:
            (n,) = struct.unpack("<q", f.read(8))
            dtype = np.dtype(_DTYPES[storages[key]])
            data[key] = np.frombuffer(f.read(n * dtype.itemsize), dtype)
    out = {}
    for name, t in obj.items():
        if not isinstance(t, _Lazy):
            continue
        base = data[t.key]
        item = base.itemsize
        arr = np.lib.stride_tricks.as_strided(base[t.offset:], t.size, tuple(s * item for s in t.stride))
        out[name] = np.array(arr)
    return out
