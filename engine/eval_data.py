"""The one setting that finds the third-party evaluation data: $MAXSIGHT_EVAL_DATA, default
../shared/data beside the repository. The data is never copied into the repository."""
from __future__ import annotations

import os
from pathlib import Path

_REPO = Path(__file__).resolve().parents[1]


def eval_data_dir() -> Path:
    env = os.environ.get("MAXSIGHT_EVAL_DATA")
    return Path(env).expanduser() if env else (_REPO.parent / "shared" / "data")


class EvalDataMissing(FileNotFoundError):
    """The evaluation data (or a part of it) is not on this machine, as on a newcomer's clone. The
    tests turn it into a skip with this sentence outside CI, and a failure in CI."""


def require(*parts: str) -> Path:
    """A path inside the evaluation data, or EvalDataMissing with one clear sentence."""
    p = eval_data_dir().joinpath(*parts)
    if not p.exists():
        raise EvalDataMissing(f"evaluation data {p} is missing; set MAXSIGHT_EVAL_DATA to the folder that holds it")
    return p
