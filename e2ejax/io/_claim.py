"""The output policy of prediction files: a known extension, an existing directory, one writer
at a time, and no file replaced unless it is an earlier e2ejax prediction file (or ``overwrite``)."""

from __future__ import annotations

import contextlib
import fcntl
import os

import uproot

from e2ejax.errors import E2EJaxError, InputError, OutputError, require

__all__ = ["OUTPUT_SUFFIXES", "check_output", "claim_output", "exclusive_lock", "is_prediction_file"]

#: extensions of the prediction files (ROOT friend tree or parquet table)
OUTPUT_SUFFIXES = (".root", ".parquet")

#: the tree of every e2ejax prediction file (``e2ejax.io.FRIEND_TREE``)
_TREE = "Predictions"


def _root_predictions(path: str) -> bool:
    with uproot.open(path) as f:
        names = {k.split(";")[0] for k in f.keys(recursive=False)}
        if names != {_TREE} or f.classname_of(_TREE) != "TTree":
            return False
        branches = set(f[_TREE].keys(recursive=False))
    return "event" in branches and any(b.endswith("_valid") for b in branches)


def _parquet_predictions(path: str) -> bool:
    schema = require("pyarrow.parquet", "parquet").read_schema(path)
    if len(schema.names) != 2 or schema.names[0] != "event":
        return False
    record = getattr(schema.field(1).type, "value_type", None)  # list<struct<valid, scores...>>
    return record is not None and "valid" in [record.field(i).name for i in range(getattr(record, "num_fields", 0))]


def is_prediction_file(path) -> bool:
    """True when ``path`` is a prediction file written by :class:`e2ejax.io.PredictionWriter`.

    A ROOT file qualifies when its only key is the ``Predictions`` tree, holding ``event`` and
    a ``<group>_valid`` branch; a parquet file when its columns are ``event`` and one group.
    Anything unreadable as such (another tool's output, text, events) gives False.
    """
    path = os.fspath(path)
    try:
        return _parquet_predictions(path) if path.endswith(".parquet") else _root_predictions(path)
    except E2EJaxError:  # e.g. the parquet extra is missing: say so
        raise
    except Exception:  # any reader failure: not a file e2ejax wrote
        return False


def check_output(path, *, overwrite: bool = False, flag: str = "-o/--output", source=None) -> bool:
    """Check an output path before any work: returns True when an earlier prediction file is there.

    Args:
        path: the destination (``.root`` or ``.parquet``).
        overwrite: allow replacing a file that is not an e2ejax prediction file.
        flag: how the user named the path, for the messages.
        source: the input the output is made from (``path`` or ``path:tree``), never to be written over.

    Raises:
        InputError: another extension, a missing parent directory (never created), a
            directory at ``path``, or an existing file of another kind without ``overwrite``.
    """
    path = os.fspath(path)
    stem, suffix = os.path.splitext(path)
    if suffix not in OUTPUT_SUFFIXES:
        raise InputError(f"{flag}: expected a file name ending in .root or .parquet; found {path!r}; "
                         f"fix: use {stem or 'scores'}.root")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise InputError(f"{flag}: expected an existing directory for {path!r}; found no directory {directory!r}; "
                         f"fix: mkdir -p {directory} (e2ejax does not create it)")
    if os.path.isdir(path):
        raise InputError(f"{flag}: expected a file name; found the directory {path!r}; "
                         f"fix: use {os.path.join(path, 'scores' + suffix)}")
    if not os.path.exists(path):
        return False
    src = None if source is None else str(source).split(":")[0]
    if src is not None and os.path.exists(src) and os.path.samefile(path, src):
        raise InputError(f"{flag}: expected an output path other than the input {str(source)!r}; found the same file; "
                         "writing there would replace the events: choose another name")
    if is_prediction_file(path):
        return True
    if overwrite:
        return False
    raise InputError(f"{flag}: expected a new file or an earlier e2ejax prediction file at {path!r}; found another "
                     "file there (left unchanged); fix: choose another name, or pass --overwrite to replace it")


def _lock(path: str, what: str = "writer of") -> tuple[int, str]:
    """Hold an exclusive ``flock`` on ``.NAME.lock`` beside ``path``: ``(fd, lock path)``."""
    lock = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.lock")
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputError(f"expected to be the only {what} {path!r}; found another e2ejax run writing it "
                              f"(lock {lock!r} held); wait for it to finish or choose another output") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:  # not a lock file that its previous holder removed meanwhile
            return fd, lock
        os.close(fd)


@contextlib.contextmanager
def claim_output(path, *, overwrite: bool = False, flag: str = "-o/--output"):
    """Be the only writer of ``path`` while the block runs, under the policy of :func:`check_output`.

    Yields:
        True when an earlier prediction file is being replaced (for a "replaced ..." notice).

    Raises:
        OutputError: another process holds the claim (checked without waiting).
        InputError: as :func:`check_output`, checked again once the claim is held.
    """
    path = os.fspath(path)
    check_output(path, overwrite=overwrite, flag=flag)
    with exclusive_lock(path):
        yield check_output(path, overwrite=overwrite, flag=flag)


@contextlib.contextmanager
def exclusive_lock(path, *, what: str = "writer of"):
    """Hold an exclusive lock on ``path`` (a ``.NAME.lock`` file beside it) while the block runs.

    Raises:
        OutputError: another process holds it (checked without waiting): "expected to be the only <what> <path>".
    """
    fd, lock = _lock(os.fspath(path), what)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        os.close(fd)
