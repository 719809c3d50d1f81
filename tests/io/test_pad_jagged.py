"""pad_jagged (jagged awkward -> padded numpy) against a plain loop."""

import awkward as ak
import numpy as np
import pytest

from e2ejax.io._layout_readers import pad_jagged


def loop_pad(lists, size, dtype):
    values = np.zeros((len(lists), size), dtype)
    mask = np.zeros((len(lists), size), bool)
    for i, items in enumerate(lists):
        k = min(len(items), size)
        values[i, :k] = items[:k]
        mask[i, :k] = True
    return values, mask, np.array([len(x) for x in lists], np.int64)


@pytest.mark.parametrize("size", [1, 3, 8, 64])
@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_matches_loop_including_overflow_and_slices(rng, size, dtype):
    lists = [list(rng.integers(-50, 50, rng.integers(0, 12)).astype(float)) for _ in range(40)]
    array = ak.Array(lists)
    for part, sub in ((array, lists), (array[7:31], lists[7:31])):  # a slice: offsets do not start at 0
        for got, expected in zip(pad_jagged(part, size=size, dtype=dtype), loop_pad(sub, size, dtype)):
            np.testing.assert_array_equal(got, expected)
    values = pad_jagged(array, size=size, dtype=dtype)[0]
    assert values.dtype == dtype

