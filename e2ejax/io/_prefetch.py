"""Run an iterator in a background thread with a bounded queue, so I/O overlaps compute."""

from __future__ import annotations

import queue
import threading

__all__ = ["Prefetcher"]

_DONE = object()


class _Raised:
    def __init__(self, exc: BaseException):
        self.exc = exc


class Prefetcher:
    """Iterate ``make_iterator()`` in a daemon thread, keeping at most ``size`` items ready.

    An exception raised by the producer is re-raised by ``next()`` in the consumer. Closing
    the prefetcher (``close()``, ``with``, or garbage collection of an exhausted one) stops the
    thread and closes the producer's generator.

    Args:
        make_iterator: zero-argument callable returning the iterator to run (called in the thread).
        size: queue bound (keyword-only).

    Examples:
        >>> with Prefetcher(lambda: iter(range(3)), size=2) as p:
        ...     list(p)
        [0, 1, 2]
    """

    def __init__(self, make_iterator, *, size: int = 2):
        if size < 1:
            raise ValueError(f"expected size >= 1, got {size}")
        self._queue: queue.Queue = queue.Queue(maxsize=size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(make_iterator,), daemon=True, name="e2ejax-prefetch")
        self._finished = False
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, make_iterator) -> None:
        iterator = None
        try:
            iterator = make_iterator()
            for item in iterator:
                if not self._put(item):
                    break
            else:
                self._put(_DONE)
        except BaseException as exc:  # handed to the consumer, re-raised there
            self._put(_Raised(exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    def __iter__(self):
        return self

    def __next__(self):
        if self._finished:
            raise StopIteration
        item = self._queue.get()
        if item is _DONE:
            self._finished = True
            self._thread.join()
            raise StopIteration
        if isinstance(item, _Raised):
            self._finished = True
            self._thread.join()
            raise item.exc
        return item

    def close(self) -> None:
        """Stop the producer thread and wait for it."""
        self._finished = True
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join()

    @property
    def alive(self) -> bool:
        """Whether the producer thread is still running."""
        return self._thread.is_alive()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        self._stop.set()
