"""Read a legacy (pre-1.6) torch `.pth` state dict into numpy arrays without torch, safely.

The format is a sequence of pickles: magic number, protocol version, system info, the object
(tensors refer to storages by persistent id), the list of storage keys, then each storage's raw
bytes preceded by its element count. Every one of those pickles goes through one restricted
unpickler that knows only what a state dict needs (OrderedDict, the tensor rebuild function and
the storage types); anything else is a ValueError, since unpickling arbitrary classes would run
arbitrary code. Sizes, offsets and strides are checked against the storage before any view is
made, so a crafted file cannot read outside its own data.
"""
from __future__ import annotations

import collections
import io
import pickle
import struct
from pathlib import Path

import numpy as np

MAGIC = 0x1950A86A20F9469CFC6C
_DTYPES = {"FloatStorage": np.float32, "LongStorage": np.int64, "IntStorage": np.int32, "HalfStorage": np.float16,
           "DoubleStorage": np.float64, "ByteStorage": np.uint8}
_MAX_DIMS = 8


class _Storage:
    def __init__(self, kind: str):
        self.kind = kind


class _Lazy:
    def __init__(self, key, offset, size, stride):
        if not isinstance(key, str):
            raise ValueError("a tensor refers to a storage by something other than its key")
        if not (isinstance(offset, int) and offset >= 0):
            raise ValueError(f"a tensor has a bad storage offset {offset!r}")
        size, stride = tuple(size), tuple(stride)
        if len(size) != len(stride) or len(size) > _MAX_DIMS or not all(isinstance(v, int) and v >= 0 for v in size + stride):
            raise ValueError(f"a tensor has a bad shape {size!r} or stride {stride!r}")
        self.key, self.offset, self.size, self.stride = key, offset, size, stride

    def last_index(self) -> int:
        """The highest element this view touches (offset included), or -1 for an empty tensor."""
        if any(s == 0 for s in self.size):
            return -1
        return self.offset + sum((s - 1) * st for s, st in zip(self.size, self.stride))


def _rebuild(storage_key, offset, size, stride, *_):
    return _Lazy(storage_key, offset, size, stride)


class _Unpickler(pickle.Unpickler):
    """The only unpickler used here: every global it may load is listed below."""

    def __init__(self, f, storages: dict | None = None):
        super().__init__(f)
        self.storages = storages if storages is not None else {}

    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch" and name in _DTYPES:
            return _Storage(name)
        raise ValueError(f"this .pth file needs {module}.{name}, which a state dict never does; not loaded")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and isinstance(pid[1], _Storage)
                and isinstance(pid[2], str)):
            raise ValueError(f"unexpected persistent id {pid!r:.80} in a state dict; not loaded")
        _, storage_type, key, _location, _size = pid[:5]
        self.storages[key] = storage_type.kind
        return key


def _load_one(f, storages: dict | None = None):
    return _Unpickler(f, storages).load()


def load_state_dict(path: Path) -> dict[str, np.ndarray]:
    path = Path(path)
    try:
        with open(path, "rb") as f:
            size = path.stat().st_size
            if _load_one(f) != MAGIC:
                raise ValueError(f"{path} is not a legacy torch file")
            _load_one(f)                       # protocol version
            _load_one(f)                       # system info (endianness, type sizes)
            storages: dict[str, str] = {}
            obj = _load_one(f, storages)
            keys = _load_one(f)
            if not isinstance(obj, dict) or not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                raise ValueError(f"{path} does not hold a state dict")
            data = {}
            for key in keys:
                if key not in storages:
                    raise ValueError(f"{path} lists a storage {key!r} that no tensor uses")
                (n,) = struct.unpack("<q", f.read(8))
                dtype = np.dtype(_DTYPES[storages[key]])
                if n < 0 or n * dtype.itemsize > size - f.tell():
                    raise ValueError(f"{path} declares a storage of {n} elements, more than the file holds")
                data[key] = np.frombuffer(f.read(n * dtype.itemsize), dtype)
    except (pickle.UnpicklingError, EOFError, struct.error, io.UnsupportedOperation, TypeError, AttributeError) as exc:
        raise ValueError(f"{path} is damaged or not a state dict ({type(exc).__name__})") from None
    out = {}
    for name, t in obj.items():
        if not isinstance(t, _Lazy):
            continue
        base = data.get(t.key)
        if base is None:
            raise ValueError(f"{path}: tensor {name!r} refers to a storage the file does not contain")
        if t.last_index() >= len(base):
            raise ValueError(f"{path}: tensor {name!r} reaches past the end of its storage; not loaded")
        item = base.itemsize
        if t.last_index() < 0:
            out[name] = np.zeros(t.size, base.dtype)
            continue
        arr = np.lib.stride_tricks.as_strided(base[t.offset:], t.size, tuple(s * item for s in t.stride), writeable=False)
        out[name] = np.array(arr)
    return out
