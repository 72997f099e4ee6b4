"""Reading a PyTorch weights file safely: weights and tensors only (`weights_only=True`), so a file
cannot run code, with one sentence when it cannot be read. A leaf module: the model (for
model.pretrained) and the checkpoint format both use it without importing each other."""
from __future__ import annotations

import logging
import pickle
from pathlib import Path

import torch

log = logging.getLogger(__name__)


class CheckpointError(ValueError):
    pass


def load_weights(path: str | Path, what: str = "MaxSight checkpoint"):
    """torch.load with weights only. Its errors become one sentence that says what the file is and
    what to do; PyTorch's own advice (load it with weights_only=False, which lets a file run code)
    is never passed on."""
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:   # torch raises many types for damaged or foreign files
        log.debug("torch.load(%s) failed: %r", path, exc)
        if isinstance(exc, pickle.UnpicklingError) and "weights only" in str(exc).lower():
            raise CheckpointError(f"{path} is not a readable {what}: it holds Python objects besides weights and tensors "
                                  f"(saved by another program or version), and MaxSight reads only weights so that no file "
                                  f"can run code; save just the model's state_dict, or train it with MaxSight") from None
        raise CheckpointError(f"{path} is not a readable {what}: it is damaged or is not a PyTorch file; copy it again, "
                              f"or train it again") from None
