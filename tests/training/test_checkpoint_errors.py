"""A checkpoint that cannot be read is one sentence saying what the file is and what to do. PyTorch's
own advice (load it again with weights_only=False, which lets the file run code) is never passed on."""
from __future__ import annotations

import collections

import pytest
import torch

from training import checkpoint as ckpt


class Foreign:
    """Any class outside PyTorch's weights-only allow-list."""


def _one_safe_sentence(message: str) -> None:
    assert "weights_only" not in message and "weights only load failed" not in message.lower()
    assert "\x1b" not in message and "\n" not in message and "trust" not in message


def test_a_checkpoint_holding_python_objects_is_refused_without_the_unsafe_advice(tmp_path):
    path = tmp_path / "foreign.pt"
    torch.save({"format": ckpt.FORMAT, "config": {}, "extra": Foreign(), "od": collections.OrderedDict()}, path)
    with pytest.raises(ckpt.CheckpointError) as err:
        ckpt.read(path)
    message = str(err.value)
    _one_safe_sentence(message)
    assert str(path) in message and "Python objects" in message and "state_dict" in message


def test_a_damaged_checkpoint_is_one_sentence(tmp_path):
    path = tmp_path / "junk.pt"
    path.write_bytes(b"hello world" * 10)          # torch says only "KeyError: 101" for this
    with pytest.raises(ckpt.CheckpointError, match="not a readable MaxSight checkpoint: it is damaged") as err:
        ckpt.read(path)
    _one_safe_sentence(str(err.value))


def test_pretrained_weights_holding_python_objects_are_one_sentence(tmp_path):
    from training.model import Backbone
    path = tmp_path / "weights.pt"
    torch.save({"x": Foreign()}, path)
    with pytest.raises(ckpt.CheckpointError) as err:
        Backbone("resnet18", "bn", str(path))
    _one_safe_sentence(str(err.value))
