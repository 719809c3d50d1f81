import numpy as np
import pytest

from e2ejax.errors import InputError
from e2ejax.training import fixed_batches, seed_examples
from tests.test_features import toy_events


def test_seed_examples_keep_labelled_real_seeds(rng):
    ev = toy_events(rng, B=2)
    ev["jet_label"] = np.array([[1, -1, 0], [0, 1, 1]], np.int32)
    ev["jet_mass"] = np.ones((2, 3), np.float32)
    (frames,), labels, mass = seed_examples(ev, task="qg")
    # jet_mask is [[T, T, F], [T, T, F]]: labelled and real -> (0,0), (1,0), (1,1)
    assert frames.shape == (3, 125, 125, 3)
    np.testing.assert_array_equal(labels, [1, 0, 1])
    (points, pmask), labels, _ = seed_examples(ev, task="qg", n_points=16)
    assert points.shape == (3, 16, 5) and pmask.shape == (3, 16)
    with pytest.raises(InputError, match="expected a 'eg_label' field"):
        seed_examples(ev, task="egamma")


def test_fixed_batches_exact_sizes_and_padding(rng):
    chunks = [((np.arange(n, dtype=np.float32)[:, None] + 100 * i,), np.full(n, i % 2, np.float32), np.zeros(n, np.float32)) for i, n in enumerate([5, 7, 3])]
    batches = list(fixed_batches(chunks, batch_size=4))
    assert [b.inputs[0].shape for b in batches] == [(4, 1)] * 4
    assert float(sum(b.weights.sum() for b in batches)) == 15
    assert np.asarray(batches[-1].weights).tolist() == [1, 1, 1, 0]
    seen = np.concatenate([np.asarray(b.inputs[0])[np.asarray(b.weights) > 0, 0] for b in batches])
    np.testing.assert_array_equal(np.sort(seen), np.sort(np.concatenate([c[0][0][:, 0] for c in chunks])))
    shuffled = list(fixed_batches(chunks, batch_size=4, rng=np.random.default_rng(0), buffer=8))
    again = list(fixed_batches(chunks, batch_size=4, rng=np.random.default_rng(0), buffer=8))
    for a, b in zip(shuffled, again):
        np.testing.assert_array_equal(a.inputs[0], b.inputs[0])
    got = np.concatenate([np.asarray(b.inputs[0])[np.asarray(b.weights) > 0, 0] for b in shuffled])
    np.testing.assert_array_equal(np.sort(got), np.sort(seen))
    # the shuffle reorders: unshuffled the examples come in input order, shuffled they do not
    np.testing.assert_array_equal(seen, np.concatenate([c[0][0][:, 0] for c in chunks]))
    assert not np.array_equal(got, seen) and (got != seen).mean() > 0.5
    # and labels and mass travel with their inputs (label i % 2 of chunk i = 100 i + k)
    for b in shuffled:
        keep = np.asarray(b.weights) > 0
        np.testing.assert_array_equal(np.asarray(b.targets)[keep], (np.asarray(b.inputs[0])[keep, 0] // 100) % 2)
    other = np.concatenate([np.asarray(b.inputs[0])[np.asarray(b.weights) > 0, 0]
                            for b in fixed_batches(chunks, batch_size=4, rng=np.random.default_rng(1), buffer=8)])
    assert not np.array_equal(other, got)  # another seed, another order
