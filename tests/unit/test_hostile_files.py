"""Hostile files: a crafted .pth must neither run code nor read outside its own data."""
from __future__ import annotations

import pickle
import struct

import numpy as np
import pytest

from engine.models.install.torch_legacy import MAGIC, load_state_dict


def _u(s: str) -> bytes:
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def _state_dict_pickle(n_elements: int, size: tuple[int, ...], stride: tuple[int, ...], offset: int = 0) -> bytes:
    """A state dict {'w': tensor} as torch's legacy format pickles it, written opcode by opcode."""
    def tup(vals):
        return b"(" + b"".join(b"J" + struct.pack("<i", v) for v in vals) + b"t"
    od = b"ccollections\nOrderedDict\n)R"
    storage = b"(" + _u("storage") + b"ctorch\nFloatStorage\n" + _u("k0") + _u("cpu") + b"J" + struct.pack("<i", n_elements) + b"tQ"
    tensor = b"ctorch._utils\n_rebuild_tensor_v2\n(" + storage + b"J" + struct.pack("<i", offset) + tup(size) + tup(stride) + b"\x89" + od + b"tR"
    return b"\x80\x02" + od + b"(" + _u("w") + tensor + b"u."


def _write(path, body: bytes, n_elements: int, first: bytes | None = None):
    with open(path, "wb") as f:
        f.write(first if first is not None else pickle.dumps(MAGIC, protocol=2))
        for obj in (1001, {"little_endian": True}):
            pickle.dump(obj, f, protocol=2)
        f.write(body)
        pickle.dump(["k0"], f, protocol=2)
        f.write(struct.pack("<q", n_elements))
        f.write(np.arange(n_elements, dtype=np.float32).tobytes())


def test_a_well_formed_file_loads(tmp_path):
    p = tmp_path / "ok.pth"
    _write(p, _state_dict_pickle(6, (2, 3), (3, 1)), 6)
    sd = load_state_dict(p)
    np.testing.assert_array_equal(sd["w"], np.arange(6, dtype=np.float32).reshape(2, 3))


def test_code_in_the_magic_number_pickle_is_never_run(tmp_path):
    marker = tmp_path / "pwned"
    # The very first pickle (where the magic number should be) calls os.system: plain pickle.load runs it.
    evil = b"\x80\x02cposix\nsystem\n" + _u(f"touch {marker}") + b"\x85R."
    p = tmp_path / "evil.pth"
    _write(p, _state_dict_pickle(6, (6,), (1,)), 6, first=evil)
    with pytest.raises(ValueError, match="which a state dict never does"):
        load_state_dict(p)
    assert not marker.exists()


def test_code_in_the_system_info_pickle_is_never_run(tmp_path):
    marker = tmp_path / "pwned2"
    p = tmp_path / "evil2.pth"
    with open(p, "wb") as f:
        pickle.dump(MAGIC, f, protocol=2)
        pickle.dump(1001, f, protocol=2)
        f.write(b"\x80\x02cposix\nsystem\n" + _u(f"touch {marker}") + b"\x85R.")
    with pytest.raises(ValueError):
        load_state_dict(p)
    assert not marker.exists()


def test_a_stride_reaching_past_the_storage_is_refused(tmp_path):
    p = tmp_path / "oob.pth"
    _write(p, _state_dict_pickle(4, (1000,), (1000,)), 4)     # would read 4 MB past a 16-byte storage
    with pytest.raises(ValueError, match="reaches past the end of its storage"):
        load_state_dict(p)


def test_a_storage_larger_than_the_file_is_refused(tmp_path):
    p = tmp_path / "short.pth"
    _write(p, _state_dict_pickle(4, (4,), (1,)), 4)
    data = bytearray(p.read_bytes())
    # Claim 2**40 elements in the storage header.
    at = data.rfind(struct.pack("<q", 4))
    data[at:at + 8] = struct.pack("<q", 2**40)
    p.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="more than the file holds"):
        load_state_dict(p)


def test_a_truncated_file_is_one_sentence(tmp_path):
    p = tmp_path / "cut.pth"
    _write(p, _state_dict_pickle(6, (6,), (1,)), 6)
    p.write_bytes(p.read_bytes()[:40])
    with pytest.raises(ValueError, match="damaged or not a state dict|not a legacy torch file"):
        load_state_dict(p)
