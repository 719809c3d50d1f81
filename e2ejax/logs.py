"""Other libraries' log lines that concern no e2ejax user, held back while a block runs."""

from __future__ import annotations

import contextlib
import logging

__all__ = ["held_back"]


@contextlib.contextmanager
def held_back(name: str, level: int = logging.ERROR):
    """Raise the level of the logger ``name`` (its child loggers inherit it) to ``level`` while the block runs.

    Examples:
        >>> with held_back("distributed"):
        ...     logging.getLogger("distributed").getEffectiveLevel() == logging.ERROR
        True
    """
    logger = logging.getLogger(name)
    saved = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(saved)
