"""Small timing helpers shared by the benchmark scripts (not part of the package)."""

from __future__ import annotations

import time


def best_time(fn, *, repeat: int = 5, number: int = 1) -> float:
    """Best wall time of ``number`` calls of ``fn`` over ``repeat`` rounds, per call (s).

    JAX results are blocked on so that asynchronous dispatch is timed fully.
    """
    out = fn()  # warm-up (compilation)
    _block(out)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            out = fn()
        _block(out)
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def _block(out):
    import jax

    jax.tree.map(lambda x: x.block_until_ready() if hasattr(x, "block_until_ready") else x, out)


def table(rows: list[dict], columns: list[str]) -> str:
    """Format dict rows as a fixed-width text table."""
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(out)
