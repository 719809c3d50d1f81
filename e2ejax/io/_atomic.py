"""Write outputs under a temporary name in the destination directory; rename when complete."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile

from e2ejax.errors import OutputError

__all__ = ["atomic_path", "write_json_atomic"]

#: errors of a write that ran out of room: disk full, file-size limit (``ulimit -f``), quota.
_NO_ROOM = {errno.ENOSPC: "no space left on the device", errno.EFBIG: "file-size limit reached",
            errno.EDQUOT: "disk quota exceeded"}


@contextlib.contextmanager
def atomic_path(path: str):
    """Yield a temporary path beside ``path``; rename it to ``path`` on success, delete it on error.

    A write that runs out of room (disk full, file-size limit, quota) becomes an
    :class:`~e2ejax.errors.OutputError` naming ``path``; the temporary file is removed, so
    ``path`` keeps its previous content (or stays absent).

    Examples:
        >>> import os, tempfile
        >>> target = os.path.join(tempfile.mkdtemp(), "out.txt")
        >>> with atomic_path(target) as tmp:
        ...     _ = open(tmp, "w").write("ok")
        >>> open(target).read()
        'ok'
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise OutputError(
            f"expected to create {path!r}; cannot write in {directory!r} ({exc.strerror}); "
            "choose a writable output directory"
        ) from None
    os.close(fd)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError) and exc.errno in _NO_ROOM:
            raise OutputError(
                f"expected to write {path!r}; the write failed: {_NO_ROOM[exc.errno]} ({exc.strerror}); "
                "nothing was written there: free space or raise the limit, or write elsewhere"
            ) from None
        raise


def write_json_atomic(path, obj) -> None:
    """Write ``obj`` as indented, key-sorted JSON to ``path`` through :func:`atomic_path`, synced to disk."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
