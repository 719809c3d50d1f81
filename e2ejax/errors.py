"""Exceptions that carry a user-facing message (expected / found / how to fix)."""

from __future__ import annotations

import importlib

__all__ = ["E2EJaxError", "InputError", "OutputError", "MissingDependencyError", "need_fields"]


class E2EJaxError(Exception):
    """Base class: the CLI prints ``str(error)`` on one line and exits non-zero."""


class InputError(E2EJaxError, ValueError):
    """A file, branch, argument or array that is not what e2ejax expects."""


class OutputError(E2EJaxError, OSError):
    """An output could not be written (disk full, file-size limit, quota); nothing was left at its path."""


class MissingDependencyError(E2EJaxError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""


def require(module: str, extra: str):
    """Import an optional dependency or raise :class:`MissingDependencyError`.

    Examples:
        >>> require("numpy", "test").__name__
        'numpy'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"this feature needs the optional package {module!r} ({exc}); "
            f"install it with: pip install 'e2ejax[{extra}]'"
        ) from None


def need_fields(events, names, *, what: str = "", fix: str = "") -> None:
    """Raise :class:`InputError` naming every field of ``names`` missing from ``events``.

    Args:
        events: a mapping of event fields (padded arrays, an ``EventBatch``, ...).
        names: the fields needed.
        what: who needs them, to start the message (e.g. ``"jet calibration"``).
        fix: how to fix it, appended to the message.

    Examples:
        >>> need_fields({"jet_pt": 1}, ["jet_pt", "jet_eta"], what="baselines")
        Traceback (most recent call last):
        ...
        e2ejax.errors.InputError: baselines expected event fields ['jet_pt', 'jet_eta']; missing ['jet_eta']; found ['jet_pt']
    """
    missing = [n for n in names if n not in events]
    if missing:
        message = f"{what + ' ' if what else ''}expected event fields {list(names)}; missing {missing}; found {sorted(events)}"
        raise InputError(message + (f"; fix: {fix}" if fix else ""))
