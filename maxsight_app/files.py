"""Writing the user's files without losing theirs or MaxSight's own.

  own_file        what of MaxSight's own a path is (the profile database and its -wal/-shm, the
                  user's taught objects, the model cache, the shipped assets), or None;
  check_target    an output file: refused, in one sentence, when it is a folder, not a regular
                  file (a FIFO would hang the command, a device swallow it), one of MaxSight's own
                  files, or sits in a missing or read-only folder;
  check_folder    the same for an output folder;
  atomic          write a file through a temporary one beside it and rename it into place only
                  when everything was written: a full disk or a killed command never leaves a
                  truncated file under the real name;
  atomic_paths    the same for several files that belong together (a report);
  why_not_written one sentence for an OSError (disk full, file too large, no permission, ...).

Every refusal and failure is an OutputError (a ValueError, so the command line prints it as one
sentence and exits 2)."""
from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path
from typing import IO, Iterator


class OutputError(ValueError):
    """An output that may not or could not be written, as one sentence."""


_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EFBIG: "the file would be larger than this system allows",
    errno.EACCES: "no permission",
    errno.EPERM: "no permission",
    errno.EROFS: "the file system is read-only",
    errno.ENOENT: "the folder does not exist",
    errno.EISDIR: "it is a folder",
    errno.EIO: "the disk reported an error",
}


def why_not_written(exc: OSError) -> str:
    """The reason an OSError gives, in words."""
    return _REASONS.get(exc.errno, exc.strerror or str(exc))


def _data_dir() -> Path:
    from maxsight_app.profile.store import default_path
    return default_path().parent


def _own_folders() -> list[tuple[Path, str]]:
    """(folder, what it is) of folders that are wholly MaxSight's own."""
    import assets
    out = [(Path(assets.__file__).resolve().parent, "MaxSight's own assets")]
    try:
        from engine.models.registry import bundled_models_dir, cache_dir
        out.append((cache_dir(), "MaxSight's model cache"))
        bundled = bundled_models_dir()
        if bundled is not None:
            out.append((bundled, "MaxSight's bundled models"))
    except ImportError:          # the registry moved: the cache is still where its environment says
        env = os.environ.get("MAXSIGHT_CACHE")
        if env:
            out.append((Path(env).expanduser(), "MaxSight's model cache"))
    return out


def _resolve(p: Path) -> Path:
    try:
        return p.expanduser().resolve()
    except (OSError, RuntimeError):
        return p.absolute()


def _inside(p: Path, folder: Path) -> bool:
    folder = _resolve(folder)
    return p == folder or folder in p.parents


def own_file(path: Path) -> str | None:
    """What of MaxSight's own `path` is (as words), or None when it is none of them."""
    p = _resolve(Path(path))
    data = _resolve(_data_dir())
    if p.parent == data:
        if p.name.startswith("profiles.db"):          # the database, its -wal, -shm, -journal and damaged copies
            return "your profile database"
        if p.name.startswith("personal-"):            # personal-N.faiss and its labels
            return "your taught objects"
    for folder, what in _own_folders():
        if _inside(p, folder):
            return what
    if p.exists():                                    # a hard link to the database is the database
        try:
            db = data / "profiles.db"
            if db.exists() and os.path.samefile(p, db):
                return "your profile database"
        except OSError:
            pass
    return None


def check_target(name: str, path: Path) -> None:
    """Refuse (OutputError) an output file that must not or cannot be written. Writes nothing."""
    p = Path(path)
    if p.is_dir():
        raise OutputError(f"{name} {p} is a folder; give a file name")
    if p.exists() or p.is_symlink():
        try:
            mode = p.stat().st_mode
        except OSError as exc:
            raise OutputError(f"{name} {p} cannot be written ({why_not_written(exc)})") from None
        if not stat.S_ISREG(mode):
            raise OutputError(f"{name} {p} is not a regular file (a pipe, device or socket); give a file name")
    own = own_file(p)
    if own:
        raise OutputError(f"{name} {p} is {own}; writing there would destroy it, so give another file name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{name} {p}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise OutputError(f"{name} {p} cannot be written (no permission)")


def check_folder(name: str, path: Path) -> None:
    """Refuse (OutputError) an output folder that is a file, one of MaxSight's own, or cannot be
    created or written. Writes nothing."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputError(f"{name} {p} is a file, not a folder")
    own = own_file(p)
    if own:
        raise OutputError(f"{name} {p} is inside {own}; give a folder of your own")
    existing = p
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise OutputError(f"{name} {p} cannot be created: {existing} is a file")
    if not os.access(existing, os.W_OK):
        raise OutputError(f"{name} {p} cannot be written ({'no permission' if existing == p else f'{existing} is read-only'})")


def temp_for(path: Path) -> Path:
    """A temporary name beside `path`: hidden, this process's own, with the same suffix (so that
    writers choosing a format by it, such as matplotlib, write the right one)."""
    return path.with_name(f".{path.stem}.{os.getpid()}.partial{path.suffix}")


@contextlib.contextmanager
def atomic(path: Path, mode: str = "w", **open_kw) -> Iterator[IO]:
    """A file to write `path` through: written to a temporary file beside it, renamed into place
    when the block ends without an error. On any error the temporary file is removed and `path`
    is left as it was; an OSError becomes an OutputError naming the file and the reason."""
    path = Path(path)
    tmp = temp_for(path)
    f = None
    try:
        f = open(tmp, mode, **open_kw)
        yield f
        f.flush()
        os.fsync(f.fileno())
        f.close()
        os.replace(tmp, path)
    except BaseException as exc:
        if f is not None:
            with contextlib.suppress(OSError):
                f.close()
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {path} ({why_not_written(exc)}); nothing was written there") from None
        raise


@contextlib.contextmanager
def atomic_paths(paths: list[Path]) -> Iterator[list[Path]]:
    """Temporary paths to write several files that belong together; all are renamed into place
    only when the block ends without an error, else all are removed and none is left."""
    paths = [Path(p) for p in paths]
    tmps = [temp_for(p) for p in paths]
    try:
        yield tmps
        for t in tmps:
            with open(t, "rb+") as f:
                os.fsync(f.fileno())
        for t, p in zip(tmps, paths):
            os.replace(t, p)
    except BaseException as exc:
        for t in tmps:
            with contextlib.suppress(OSError):
                t.unlink()
        if isinstance(exc, OSError):
            folder = paths[0].parent if paths else Path(".")
            raise OutputError(f"cannot write the files in {folder} ({why_not_written(exc)}); none was written") from None
        raise
