"""Predictions as a friend tree (or parquet table) aligned entry by entry with the input events."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping

import awkward as ak
import numpy as np
import uproot

from e2ejax.errors import InputError, require
from e2ejax.io._atomic import atomic_path
from e2ejax.io._claim import claim_output
from e2ejax.io._write_events import _TreeSink

__all__ = ["PredictionWriter", "FRIEND_TREE"]

FRIEND_TREE = "Predictions"


class PredictionWriter:
    """Write per-seed scores aligned with the entries of one input tree.

    The output has one entry per input entry, in the same order: ``event`` int64 (the input's
    event id), counter ``n<group>`` int32, and jagged branches ``<group>_<name>`` float32 (one
    value per seed slot up to the last valid one) plus ``<group>_valid`` bool (the seed mask).
    Add it as a friend in ROOT (``events->AddFriend("Predictions", "scores.root")``) or read it
    beside the input with uproot. ``.parquet`` paths give a parquet table with the same columns
    (needs the ``parquet`` extra).

    The output is written under a temporary name and renamed by :meth:`close` only when the
    number of entries written equals the input's; on an error or a misaligned batch nothing
    appears at ``path``. While it is open the writer holds :func:`e2ejax.io.claim_output` on
    ``path``: a second writer of the same path is refused, and an existing file is replaced
    only if it is an earlier prediction file (``replaced`` is then True) or with ``overwrite``.

    Args:
        path: output path (``.root`` or ``.parquet``).
        group: name of the jagged group (``"jet"`` or ``"eg"``, as in the input) (keyword-only).
        tree: output tree name (ROOT only).
        n_entries: expected entry count; defaults to the entries from ``entry_start`` to
            ``entry_stop`` (or the end) of the input tree of the first
            :class:`~e2ejax.io.EventBatch` written.
        entry_start: the input entry of the first output entry (output entry ``i`` is input
            entry ``entry_start + i``).
        entry_stop: the input entry after the last one written (None: the tree's end).
        overwrite: replace a file at ``path`` that is not an e2ejax prediction file.
        flush_entries: entries buffered per ``extend``.

    Raises:
        InputError: a path refused by :func:`e2ejax.io.check_output`.
        OutputError: another writer holds ``path``.

    Examples:
        >>> import tempfile, os
        >>> out = os.path.join(tempfile.mkdtemp(), "scores.root")
        >>> with PredictionWriter(out, group="jet", n_entries=2) as w:
        ...     w.write({"score": np.array([[0.5, 0.0], [0.25, 0.75]], np.float32)},
        ...             mask=np.array([[True, False], [True, True]]), event=np.array([7, 8]), entry_start=0)
        >>> uproot.open(out)["Predictions"]["jet_score"].array().tolist()
        [[0.5], [0.25, 0.75]]
    """

    def __init__(self, path, *, group: str = "jet", tree: str = FRIEND_TREE, n_entries: int | None = None,
                 entry_start: int = 0, entry_stop: int | None = None, overwrite: bool = False,
                 flush_entries: int = 100_000):
        self.path = os.fspath(path)
        self.group, self.tree_name, self.n_entries = group, tree, n_entries
        self.entry_start, self.entry_stop = int(entry_start), entry_stop
        self.parquet = self.path.endswith(".parquet")
        if self.parquet:
            require("pyarrow", "parquet")
        self._claim = contextlib.ExitStack()
        self.replaced = self._claim.enter_context(claim_output(self.path, overwrite=overwrite))
        try:
            self._ctx = atomic_path(self.path)
            self._tmp = self._ctx.__enter__()
        except BaseException:
            self._claim.close()
            raise
        try:
            self._file = None if self.parquet else uproot.recreate(self._tmp, compression=uproot.LZ4(1))
            self._sink = None if self.parquet else _TreeSink(self._file, tree, flush_entries=flush_entries)
        except BaseException as exc:
            self._closed = True
            self._release(type(exc), exc, exc.__traceback__)
            raise
        self.flush_entries = flush_entries
        self._pending: list[tuple] = []
        self._n_pending = 0
        self._chunks: list[dict] = []
        self._next = self.entry_start
        self._source: tuple[str, str] | None = None
        self._closed = False

    def write(self, scores: Mapping[str, np.ndarray], *, mask: np.ndarray, batch=None, event=None,
              entry_start: int | None = None) -> None:
        """Append the predictions of one batch of consecutive input entries.

        Args:
            scores: name -> float ``[B, S]`` per-seed values.
            mask: bool ``[B, S]``, true for real seeds.
            batch: the :class:`~e2ejax.io.EventBatch` the scores were computed from (gives
                ``event``, ``entry_start`` and the input file, checked for alignment).
            event: int ``[B]`` event ids (when no ``batch`` is given).
            entry_start: input entry of the first row (when no ``batch`` is given).

        Raises:
            InputError: when the batch does not start where the previous one stopped, comes from
                another input file, or shapes disagree.
        """
        if batch is not None:
            event, entry_start = batch["event"], batch.entry_start
            source = (batch.file, batch.tree)
            if self._source is None:
                self._source = source
                if self.n_entries is None:
                    total = batch.tree_entries
                    if total is None:
                        with uproot.open(batch.file) as f:
                            total = int(f[batch.tree].num_entries)
                    stop = total if self.entry_stop is None else min(total, int(self.entry_stop))
                    self.n_entries = max(stop - self.entry_start, 0)
            elif source != self._source:
                self._fail(f"expected batches from {self._source[0]!r} only (one friend file per input file); "
                           f"found a batch from {source[0]!r}; write one output per input file")
        if event is None:
            self._fail("expected event ids: pass batch= or event=")
        event = np.asarray(event, np.int64)
        mask = np.asarray(mask, bool)
        start = self._next if entry_start is None else int(entry_start)
        if start != self._next:
            self._fail(f"expected the batch starting at input entry {self._next}; found entry_start={start}; "
                       "write batches in input order without gaps")
        if mask.ndim != 2 or mask.shape[0] != len(event):
            self._fail(f"expected mask of shape [B, S] with B={len(event)}; found {mask.shape}")
        count = np.where(mask.any(axis=1), mask.shape[1] - np.argmax(mask[:, ::-1], axis=1), 0)
        keep = np.arange(mask.shape[1])[None, :] < count[:, None]
        flat = {"valid": mask[keep]}
        for name, values in scores.items():
            values = np.asarray(values, np.float32)
            if values.shape != mask.shape:
                self._fail(f"expected scores {name!r} of shape {mask.shape} (as the mask); found {values.shape}")
            flat[name] = values[keep]
        # kept as numpy and turned into awkward arrays once per flush (a few ms per call otherwise)
        self._pending.append((event, count, flat))
        self._n_pending += len(event)
        self._next += len(event)
        if self._n_pending >= self.flush_entries:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        events, counts, flats = zip(*self._pending)
        columns = ak.zip({k: np.concatenate([f[k] for f in flats]) for k in flats[0]})
        out = {"event": np.concatenate(events), self.group: ak.unflatten(columns, np.concatenate(counts))}
        if self.parquet:
            self._chunks.append(out)
        else:
            self._sink.extend(out, len(out["event"]))
        self._pending, self._n_pending = [], 0

    def _fail(self, message: str):
        self.abort()
        raise InputError(message)

    def _release(self, exc_type, exc, tb):
        """Leave the temporary-file context (rename, or remove on an error), then release the claim on ``path``."""
        try:
            return self._ctx.__exit__(exc_type, exc, tb)
        finally:
            self._claim.close()

    def _close_file(self) -> None:
        """Mark closed and close the ROOT file, ignoring its errors (the output is being discarded)."""
        self._closed = True
        if self._file is not None:
            with contextlib.suppress(Exception):
                self._file.close()

    def abort(self) -> None:
        """Discard the output (the temporary file is removed)."""
        if self._closed:
            return
        self._close_file()
        try:
            self._release(InputError, InputError("aborted"), None)
        except InputError:
            pass

    def close(self) -> None:
        """Finish the file and rename it to ``path``.

        Raises:
            InputError: when fewer or more entries were written than the input has.
        """
        if self._closed:
            return
        written = self._next - self.entry_start
        if self.n_entries is not None and written != self.n_entries:
            self._fail(f"expected predictions for all {self.n_entries} input entries; found {written}; "
                       "the output would not align with its input, so it was not written")
        try:
            self._flush()
            if self.parquet:
                table = {"event": np.concatenate([c["event"] for c in self._chunks]) if self._chunks else np.zeros(0, np.int64)}
                if self._chunks:
                    table[self.group] = ak.concatenate([c[self.group] for c in self._chunks])
                ak.to_parquet(ak.zip(table, depth_limit=1), self._tmp)
            else:
                self._file.close()
        except BaseException as exc:  # e.g. the disk is full: remove the temporary file, report the path
            self._close_file()
            if not self._release(type(exc), exc, exc.__traceback__):
                raise
            return
        self._closed = True
        self._release(None, None, None)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        elif not self._closed:
            self._close_file()
            self._release(exc_type, exc, tb)  # removes the temporary file; a full disk becomes an OutputError
        return False
