"""One training at a time per run folder: a lock file, released on exit, stale locks replaced.

Two trainings writing into one run folder would interleave their checkpoints and losses.
:func:`run_folder_lock` creates ``<run_dir>/training.lock`` exclusively (``O_CREAT | O_EXCL``)
with the holder's process id, host and start time, and removes it when the training ends,
however it ends. A lock whose process is gone (same host, the process id no longer runs; or
a lock file that cannot be read and is older than a few seconds) is stale and is replaced.
A lock held by a live process, or by another host (which cannot be checked from here),
refuses the second training with :class:`~napari_vesselgan.InvalidInput` naming the holder.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from napari_vesselgan import InvalidInput

__all__ = ["LOCK_NAME", "run_folder_lock"]

LOCK_NAME = "training.lock"
#: An unreadable lock file younger than this may still be being written by its holder.
_UNREADABLE_GRACE_S = 5.0


def _holder(path: Path) -> dict | None:
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) and isinstance(holder.get("pid"), int) else None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    except OSError:
        return False
    return True


def _in_use(path: Path, holder: dict | None) -> bool:
    if holder is None:
        try:
            return time.time() - path.stat().st_mtime < _UNREADABLE_GRACE_S
        except OSError:
            return False
    if holder.get("host") != socket.gethostname():
        return True  # cannot tell from here: the user removes the lock if that training is gone
    return _process_alive(holder["pid"])


@contextmanager
def run_folder_lock(run_dir: str | os.PathLike) -> Iterator[Path]:
    """Hold ``run_dir``'s training lock for the ``with`` block (the folder must exist)."""
    path = Path(run_dir) / LOCK_NAME
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(path)
            if _in_use(path, holder):
                who = (f"process {holder['pid']} on {holder.get('host')}, since {holder.get('started')}"
                       if holder else "another process")
                raise InvalidInput(f"{run_dir} is in use by another training ({who}); wait for it to end or "
                                   f"choose another run folder (if no training runs there, delete {path})") from None
            path.unlink(missing_ok=True)  # stale: its training is gone
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(me, handle)
        break
    else:
        raise InvalidInput(f"could not take the training lock {path}; try again")
    try:
        yield path
    finally:
        if (_holder(path) or {}).get("pid") == me["pid"]:
            path.unlink(missing_ok=True)
