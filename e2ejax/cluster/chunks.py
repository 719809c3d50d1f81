"""Work units of a many-file run: ``(file, entry range)`` chunks, as coffea's WorkItems are."""

from __future__ import annotations

from typing import NamedTuple

from e2ejax.errors import InputError

__all__ = ["WorkItem", "plan_chunks", "DEFAULT_CHUNK_EVENTS"]

#: entries per chunk by default: a few seconds of work on one core for the jet taggers,
#: large enough that the scheduler's cost per chunk (milliseconds) is negligible
DEFAULT_CHUNK_EVENTS = 4096


class WorkItem(NamedTuple):
    """The entries ``[entry_start, entry_stop)`` of the tree of one input file (``path`` or ``path:tree``)."""

    file: str
    entry_start: int
    entry_stop: int

    @property
    def events(self) -> int:
        return self.entry_stop - self.entry_start


def plan_chunks(file: str, entries: int, *, chunk_events: int = DEFAULT_CHUNK_EVENTS, read_events: int = 256,
                entry_start: int = 0, entry_stop: int | None = None) -> list[WorkItem]:
    """The chunks of ``file``'s entries ``[entry_start, min(entry_stop, entries))``, in entry order.

    Every chunk but the last holds ``chunk_events`` rounded up to a multiple of
    ``read_events`` (the entries the tagger reads at once), so the batches of a chunked run
    are those of one pass over the file and the scores are bit-identical.

    Raises:
        InputError: ``chunk_events`` below 1, or an empty range.

    Examples:
        >>> [tuple(c)[1:] for c in plan_chunks("x.root", 1000, chunk_events=300)]
        [(0, 512), (512, 1000)]
    """
    if isinstance(chunk_events, bool) or not isinstance(chunk_events, int) or chunk_events < 1:
        raise InputError(f"--chunk-events: expected a positive number of entries per chunk; found {chunk_events!r}; fix: e.g. 4096")
    step = -(-chunk_events // read_events) * read_events
    stop = entries if entry_stop is None else min(entries, int(entry_stop))
    if stop <= entry_start:
        raise InputError(f"expected entries to tag in {file!r}; found none in entries [{entry_start}, {stop}) of its {entries}; "
                         "fix: choose a range inside the file")
    return [WorkItem(file, s, min(s + step, stop)) for s in range(int(entry_start), stop, step)]
