"""Dataset directories: shards, split, shuffle determinism, prefetching, transforms."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import yaml

from e2ejax.errors import InputError
from e2ejax.io import (
    FeatureTransform,
    Prefetcher,
    Transform,
    apply_transform,
    build_transform,
    iterate_dataset,
    load_dataset,
    split_shards,
    write_dataset,
)

from .conftest import write_sparse


@pytest.fixture
def dataset(tmp_path):
    src = str(tmp_path / "src.root")
    write_sparse(src, 60, seed=5)
    return write_dataset(str(tmp_path / "ds"), src, shard_entries=6, step_size=7)


def _ids(batches):
    return [(int(s), int(e)) for b in batches for s, e in zip(b["shard"], b["entry"])]


def test_shards_cover_the_input(dataset):
    assert len(dataset.shards) == 10 and dataset.entries == 60
    ds = load_dataset(dataset.root)
    assert ds.shards == dataset.shards
    events = np.concatenate([b["event"] for b in iterate_dataset(ds, split="train", fractions=(1, 0, 0), prefetch=0)])
    np.testing.assert_array_equal(events, 5 * 10**7 + np.arange(60))


def test_split_is_by_shard_and_deterministic(dataset):
    splits = split_shards(10, seed=1)
    assert splits == split_shards(10, seed=1) and splits != split_shards(10, seed=2)
    assert sorted(sum(splits.values(), ())) == list(range(10))
    seen = {}
    for split in ("train", "validation", "test"):
        ids = _ids(iterate_dataset(dataset, split=split, seed=1, batch_size=4))
        seen[split] = {s for s, _ in ids}
        assert seen[split] == set(splits[split])
        assert len(ids) == 6 * len(splits[split])


def test_shuffle_is_deterministic_from_seed_and_epoch(dataset):
    run = lambda **kw: _ids(iterate_dataset(dataset, batch_size=5, shuffle_buffer=16, seed=3, **kw))  # noqa: E731
    a, b, c = run(epoch=0), run(epoch=0), run(epoch=1)
    assert a == b and a != c and sorted(a) == sorted(c)
    ordered = _ids(iterate_dataset(dataset, batch_size=5, seed=3))
    assert sorted(a) == sorted(ordered) and a != ordered
    sizes = [len(x["event"]) for x in iterate_dataset(dataset, batch_size=5, shuffle_buffer=16, seed=3,
                                                      drop_remainder=True)]
    assert set(sizes) == {5}


def test_batches_are_padded_to_buckets(dataset):
    for b in iterate_dataset(dataset, batch_size=8, shuffle_buffer=10, groups=("eb", "jet")):
        assert b["eb_mask"].shape[1] in (16, 32, 64) and b["eb_energy"].shape == b["eb_mask"].shape
        assert np.all(b["eb_energy"][~b["eb_mask"]] == 0)
        assert set(b) >= {"event", "shard", "entry", "eb_ieta", "jet_pt", "jet_mask"}


def test_transform_build_and_apply(dataset):
    spec = {"eb_energy": "log1p", "trk_pt": {"transform": "clip", "min": 0.0, "max": 50.0}, "trk_d0": "none"}
    transform = build_transform(dataset, spec, seed=0)
    ds = load_dataset(dataset.root)
    assert ds.transform == transform
    saved = yaml.safe_load(open(f"{dataset.root}/transform.yaml"))
    assert saved["features"]["trk_pt"]["transform"] == "clip" and saved["features"]["trk_pt"]["max"] == 50.0
    values = []
    for b in iterate_dataset(ds, split="train", batch_size=16, groups=("eb", "trk")):
        assert np.all(b["eb_energy"][~b["eb_mask"]] == 0)
        values.append(b["eb_energy"][b["eb_mask"]])
    values = np.concatenate(values)
    assert abs(values.mean()) < 1e-4 and abs(values.std() - 1) < 1e-4
    raw = next(iter(iterate_dataset(ds, batch_size=4, transform=False, prefetch=0, groups=("trk",))))
    f = transform.features[1]
    out = apply_transform(raw, Transform((f,)))
    expected = (np.clip(raw["trk_pt"], 0, 50) - f.centre) / f.scale
    np.testing.assert_allclose(out["trk_pt"], np.where(raw["trk_mask"], expected, 0), rtol=1e-5)


def test_transform_whitelist():
    with pytest.raises(InputError, match="expected a transform in"):
        FeatureTransform("eb_energy", transform="__import__('os')")
    with pytest.raises(InputError, match="positive scale"):
        FeatureTransform("eb_energy", scale=0.0)


def test_prefetch_propagates_errors_and_stops():
    def produce():
        yield 1
        raise RuntimeError("shard broke")

    p = Prefetcher(produce, size=1)
    assert next(p) == 1
    with pytest.raises(RuntimeError, match="shard broke"):
        next(p)
    closed = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    p = Prefetcher(endless, size=2)
    assert [next(p) for _ in range(3)] == [0, 1, 2]
    p.close()
    assert not p.alive and closed.is_set()


def test_iterator_thread_stops_on_close(dataset):
    it = iterate_dataset(dataset, batch_size=2, prefetch=2)
    next(it)
    it.close()
    assert not it.alive
