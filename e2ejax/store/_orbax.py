"""Quieting and condensing orbax for e2ejax's own one-line errors; the device restored arrays go to."""

from __future__ import annotations

import contextlib
import logging

import jax

__all__ = ["one_device", "quiet_orbax", "first_line"]


def one_device():
    """The default device, as the sharding of restored arrays."""
    return jax.sharding.SingleDeviceSharding(jax.devices()[0])


class _DropOrbaxRecords(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "orbax" not in record.pathname


@contextlib.contextmanager
def quiet_orbax():
    """Hold back orbax's own log lines while reading: a damaged checkpoint is reported once, by an InputError."""
    logger, drop = logging.getLogger("absl"), _DropOrbaxRecords()
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


def first_line(exc: BaseException) -> str:
    """The first line of an orbax / tensorstore error, without its long tensorstore spec."""
    text = str(exc).strip().splitlines()
    line = text[0].split(" [tensorstore_spec=")[0] if text else ""
    return f"{type(exc).__name__}: {line[:300]}"
