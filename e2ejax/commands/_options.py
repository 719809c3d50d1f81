"""Options several subcommands share, spelled and checked alike: ``-n/--max-events``, ``--entries``, positive counts."""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import warnings

from e2ejax.errors import InputError

__all__ = ["add_event_range", "add_scheduler", "event_range", "positive", "warnings_as_lines"]


def add_event_range(parser: argparse.ArgumentParser) -> None:
    """``-n/--max-events`` and ``--entries START:STOP``: the entries a command reads (see :func:`event_range`)."""
    parser.add_argument("-n", "--max-events", metavar="N", type=int, default=None,
                        help="read at most N entries of each file (from START with --entries)")
    parser.add_argument("--entries", metavar="START:STOP", default=None,
                        help="read the entries [START, STOP) of each file only (either side may be empty: 100:, :500)")


def add_scheduler(parser: argparse.ArgumentParser) -> None:
    """``--scheduler ADDRESS``: run on a running Dask cluster instead of here (docs/DISTRIBUTED.md)."""
    parser.add_argument("--scheduler", metavar="ADDRESS", default=None,
                        help="attach to a running Dask scheduler (tcp://host:8786 or a scheduler file .json) and run there "
                             "(needs the dask extra; see docs/DISTRIBUTED.md)")


def positive(flag: str, value, *, allow_none: bool = False):
    """``value`` when it is a positive integer (or None with ``allow_none``).

    Raises:
        InputError: naming ``flag`` otherwise.
    """
    if value is None and allow_none:
        return None
    if value is None or value < 1:
        raise InputError(f"{flag}: expected a positive integer, found {value}; fix: pass e.g. {flag} 100")
    return value


def event_range(args) -> tuple[int, int | None]:
    """``(entry_start, entry_stop)`` from ``--entries START:STOP`` (``(0, None)`` without it), with
    ``-n/--max-events`` checked.

    Raises:
        InputError: a malformed range, ``START >= STOP`` or a non-positive ``-n``.

    Examples:
        >>> event_range(argparse.Namespace(entries="100:250", max_events=None))
        (100, 250)
        >>> event_range(argparse.Namespace(entries=":50", max_events=10))
        (0, 50)
    """
    positive("-n/--max-events", args.max_events, allow_none=True)
    if args.entries is None:
        return 0, None
    match = re.fullmatch(r"\s*(\d*)\s*:\s*(\d*)\s*", args.entries)
    start = int(match.group(1) or 0) if match else None
    stop = int(match.group(2)) if match and match.group(2) else None
    if match is None or (stop is not None and stop <= start):
        raise InputError(f"--entries: expected START:STOP with 0 <= START < STOP, found {args.entries!r}; "
                         "fix: pass e.g. --entries 0:1000 (entries of the input tree, STOP excluded)")
    return start, stop


@contextlib.contextmanager
def warnings_as_lines(command: str, categories=(UserWarning,)):
    """Inside: warnings of ``categories`` are shown once each as one ``e2ejax COMMAND: warning: ...`` line
    on stderr (not Python's ``file:line: Category:`` form); other warnings as usual."""
    shown = set()
    previous = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if not issubclass(category, tuple(categories)):
            return previous(message, category, filename, lineno, file, line)
        text = " ".join(str(message).split())
        if text not in shown:
            shown.add(text)
            print(f"e2ejax {command}: warning: {text}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield
