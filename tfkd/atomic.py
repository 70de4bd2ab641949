"""Files and folders written atomically: a reader (or a resumed run) sees the
old version or the new one, never a torn file.

Every file tfkd writes for keeps goes through here: checkpoints
(`tfkd.callbacks`), teacher caches, LiteRT exports and their reports, and
SavedModel folders.
"""

import ctypes
import json
import os
import shutil
import tempfile
import time


def write_file(path, write, suffix=""):
    """Calls `write(tmp)` on a temporary path beside `path`, flushes it to
    disk and renames it to `path`; on any error the temporary file is
    removed and `path` is left as it was.

    Args:
        path: the destination file.
        write: a function writing the whole file to the path it is given.
        suffix: the temporary name's ending, for writers that want one
            (`".keras"`, `".weights.h5"`, `".npz"`).

    Returns:
        `path`.

    Example:
        >>> write_file("model.keras", model.save, suffix=".keras")
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.tmp-", suffix=suffix, dir=folder)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def write_bytes(path, data):
    """Writes `data` (bytes) to `path` atomically; returns `path`."""

    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(data)

    return write_file(path, write)


def write_json(path, value, indent=1, sort_keys=False):
    """Writes `value` as JSON (ending in a newline) to `path` atomically; returns `path`."""
    return write_bytes(path, (json.dumps(value, indent=indent, sort_keys=sort_keys) + "\n").encode())


def temporary_folder(path):
    """A new empty folder beside `path`, named after it (`.name.tmp-*`).

    `replace_folder` puts it in place once it is written.
    """
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    return tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.tmp-", dir=parent)


def _exchange(a, b):
    """Atomically swaps two paths (Linux renameat2 RENAME_EXCHANGE).

    Returns:
        False where the system or file system cannot do it.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def replace_folder(tmp, path):
    """Puts the folder `tmp` at `path`. A previous folder there is swapped
    out atomically where the system can (so `path` always holds a whole
    folder, old or new) and removed only afterwards; elsewhere two renames,
    which `recover_folder` completes after an interruption.

    Args:
        tmp: the finished folder (from `temporary_folder(path)`).
        path: its destination.
    """
    if not os.path.exists(path):
        os.rename(tmp, path)
    elif _exchange(tmp, path):
        shutil.rmtree(tmp, ignore_errors=True)  # now the old folder
    else:
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.old-", dir=os.path.dirname(path))
        os.rmdir(old)
        os.rename(path, old)
        os.rename(tmp, path)
        shutil.rmtree(old, ignore_errors=True)


def recover_folder(path, stale_seconds=3600):
    """Puts back a previous folder left aside by an interrupted two-rename
    swap, and drops unfinished temporary folders older than `stale_seconds`
    (a younger one may still be being written).

    Args:
        path: the destination `replace_folder` writes.
        stale_seconds: age after which a temporary folder is abandoned.
    """
    parent, name = os.path.dirname(os.path.abspath(path)), os.path.basename(path)
    if not os.path.isdir(parent):
        return
    for entry in sorted(os.listdir(parent)):
        full = os.path.join(parent, entry)
        if entry.startswith(f".{name}.old-") and not os.path.exists(path):
            os.rename(full, path)
        elif entry.startswith(f".{name}.old-") or (
            entry.startswith(f".{name}.tmp-") and time.time() - os.path.getmtime(full) > stale_seconds
        ):
            shutil.rmtree(full, ignore_errors=True)
