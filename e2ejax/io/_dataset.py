"""Dataset directories: ``data.yaml`` (shards), ``transform.yaml`` (preprocessing), a batch iterator.

``data.yaml``::

    tree: Events          # tree read in every shard
    layout: sparse        # or dense, or auto
    shards:               # paths relative to data.yaml
      - {path: shard_00000.root, entries: 1000}
      - {path: shard_00001.root, entries: 1000}

Shards are split into train / validation / test by shard, deterministically from a seed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import yaml

from e2ejax.errors import InputError
from e2ejax.io._atomic import atomic_path
from e2ejax.io._collate import slice_batch, take_events
from e2ejax.io._open import DEFAULT_TREE, Source, open_tree
from e2ejax.io._prefetch import Prefetcher
from e2ejax.io._read import iterate_events
from e2ejax.io._schema import GROUPS
from e2ejax.io._transform import Transform, apply_transform, fit_transform, load_transform, save_transform
from e2ejax.io._write_events import write_events

__all__ = ["Shard", "Dataset", "load_dataset", "write_dataset", "split_shards", "iterate_dataset", "build_transform"]

DATA_YAML = "data.yaml"
TRANSFORM_YAML = "transform.yaml"
SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class Shard:
    """One ROOT file of a dataset: ``path`` relative to ``data.yaml`` and its entry count."""

    path: str
    entries: int


@dataclass(frozen=True)
class Dataset:
    """A dataset directory as loaded by :func:`load_dataset`.

    Attributes:
        root: absolute directory holding ``data.yaml``.
        shards: the shards, in file order.
        tree: tree name in every shard.
        layout: ``"sparse"``, ``"dense"`` or ``"auto"``.
        transform: the content of ``transform.yaml``, or ``None`` when absent.
    """

    root: str
    shards: tuple[Shard, ...]
    tree: str = DEFAULT_TREE
    layout: str = "auto"
    transform: Transform | None = None

    def shard_path(self, i: int) -> str:
        """Absolute path of shard ``i``."""
        return os.path.join(self.root, self.shards[i].path)

    @property
    def entries(self) -> int:
        """Total entries over all shards."""
        return sum(s.entries for s in self.shards)


def load_dataset(directory: str, *, verify: bool = True) -> Dataset:
    """Read ``data.yaml`` (and ``transform.yaml`` if present) of a dataset directory.

    Args:
        directory: the dataset directory.
        verify: open every shard and check that it exists and holds the listed entries.

    Raises:
        InputError: missing or malformed ``data.yaml``, a missing shard, an entry count that
            differs from the file's.
    """
    root = os.path.abspath(directory)
    path = os.path.join(root, DATA_YAML)
    if not os.path.isfile(path):
        raise InputError(f"expected {DATA_YAML} in dataset directory {root!r}; found no such file; "
                         "create the dataset with e2ejax.io.write_dataset")
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    allowed = {"tree", "layout", "shards"}
    if not isinstance(data, dict) or set(data) - allowed or not isinstance(data.get("shards"), list):
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise InputError(f"expected {path!r} to be a mapping with keys {sorted(allowed)} and a list 'shards'; found {found}")
    shards = []
    for i, s in enumerate(data["shards"]):
        if not isinstance(s, dict) or set(s) != {"path", "entries"} or not isinstance(s["entries"], int):
            raise InputError(f"expected shard {i} of {path!r} as {{path: <file>, entries: <int>}}; found {s!r}")
        shards.append(Shard(str(s["path"]), int(s["entries"])))
    if not shards:
        raise InputError(f"expected at least one shard in {path!r}; found an empty list")
    transform_path = os.path.join(root, TRANSFORM_YAML)
    transform = load_transform(transform_path) if os.path.isfile(transform_path) else None
    ds = Dataset(root, tuple(shards), str(data.get("tree", DEFAULT_TREE)), str(data.get("layout", "auto")), transform)
    if verify:
        for i, s in enumerate(ds.shards):
            full = ds.shard_path(i)
            if not os.path.isfile(full):
                raise InputError(f"expected shard {s.path!r} listed in {path!r}; found no such file in {root!r}; "
                                 "restore the file or remove it from data.yaml")
            tree = open_tree(Source(full, ds.tree))
            n = int(tree.num_entries)
            tree.file.close()
            if n != s.entries:
                raise InputError(f"expected {s.entries} entries in shard {s.path!r} (data.yaml); found {n}; "
                                 "the shard list is inconsistent: rebuild data.yaml with write_dataset")
    return ds


def _save_data_yaml(root: str, shards: list[Shard], tree: str, layout: str) -> None:
    content = {"tree": tree, "layout": layout, "shards": [{"path": s.path, "entries": s.entries} for s in shards]}
    with atomic_path(os.path.join(root, DATA_YAML)) as tmp, open(tmp, "w") as f:
        yaml.safe_dump(content, f, sort_keys=False)


def write_dataset(directory: str, files, *, shard_entries: int = 10_000, tree: str = DEFAULT_TREE,
                  step_size: int = 1000, max_events: int | None = None) -> Dataset:
    """Re-shard sparse E2E files into a dataset directory of ``shard_entries``-entry shards + ``data.yaml``.

    Returns:
        The :class:`Dataset` written (``data.yaml`` is written last, after every shard).
    """
    os.makedirs(directory, exist_ok=True)
    shards: list[Shard] = []
    pending: list[dict] = []
    count = 0

    def emit():
        nonlocal pending, count
        name = f"shard_{len(shards):05d}.root"
        n = write_events(os.path.join(directory, name), pending, tree=tree)
        shards.append(Shard(name, n))
        pending, count = [], 0

    for batch in iterate_events(files, tree=tree, layout="sparse", step_size=step_size, max_events=max_events):
        start = 0
        while start < batch.size:
            take = min(shard_entries - count, batch.size - start)
            pending.append(slice_batch(batch, start, start + take))
            count += take
            start += take
            if count == shard_entries:
                emit()
    if pending:
        emit()
    _save_data_yaml(directory, shards, tree, "sparse")
    return load_dataset(directory, verify=False)


def split_shards(n_shards: int, *, seed: int, fractions=(0.8, 0.1, 0.1)) -> dict[str, tuple[int, ...]]:
    """Assign shard indices to train / validation / test, deterministically from ``seed``.

    Every split with a positive fraction gets at least one shard when there are enough.

    Examples:
        >>> s = split_shards(10, seed=0)
        >>> [len(s[k]) for k in ("train", "validation", "test")], sorted(sum(s.values(), ()))  == list(range(10))
        ([8, 1, 1], True)
    """
    if len(fractions) != 3 or min(fractions) < 0 or sum(fractions) <= 0:
        raise InputError(f"expected three non-negative split fractions (train, validation, test); got {fractions}")
    total = float(sum(fractions))
    order = np.random.default_rng(seed).permutation(n_shards)
    n_val, n_test = (int(round(n_shards * f / total)) for f in fractions[1:])
    positive = sum(f > 0 for f in fractions)
    if n_shards >= positive:
        n_val = max(n_val, 1) if fractions[1] > 0 else 0
        n_test = max(n_test, 1) if fractions[2] > 0 else 0
        n_val = min(n_val, n_shards - n_test - (1 if fractions[0] > 0 else 0))
    parts = (order[n_val + n_test:], order[:n_val], order[n_val:n_val + n_test])
    return {k: tuple(sorted(int(i) for i in p)) for k, p in zip(SPLITS, parts)}


def build_transform(dataset: Dataset, spec, *, seed: int = 0, fractions=(0.8, 0.1, 0.1),
                    max_events: int | None = 10_000, save: bool = True) -> Transform:
    """Fit centres and scales of ``spec`` on the train split and (by default) write ``transform.yaml``.

    Args:
        dataset: from :func:`load_dataset`.
        spec: feature -> transform name (``none``, ``log1p``, ``sqrt``, ``clip``) or mapping
            ``{transform: clip, min: 0, max: 100}``.
        seed, fractions: the split (as in :func:`iterate_dataset`).
        max_events: events measured at most.
        save: write ``transform.yaml`` into the dataset directory.
    """
    train = split_shards(len(dataset.shards), seed=seed, fractions=fractions)["train"]
    files = [f"{dataset.shard_path(i)}:{dataset.tree}" for i in train]
    groups = {name.split("_", 1)[0] for name in spec}
    groups = sorted(groups) if groups <= set(GROUPS) else None
    batches = iterate_events(files, layout=dataset.layout, groups=groups, max_events=max_events)
    transform = fit_transform(batches, spec)
    if save:
        save_transform(transform, os.path.join(dataset.root, TRANSFORM_YAML))
    return transform


def _events(dataset, shards, *, batch_size, rng, shuffle_buffer, drop_remainder, step_size, groups, min_pad, transform):
    buffer: list[tuple[int, int]] = []
    sources: dict[int, dict] = {}
    next_id = 0

    def emit(n):
        picks = []
        for _ in range(n):
            j = int(rng.integers(len(buffer))) if rng is not None else 0
            picks.append(buffer[j])
            if rng is not None:
                buffer[j] = buffer[-1]
                buffer.pop()
            else:
                buffer.pop(0)
        used = sorted({i for i, _ in picks})
        index = {i: k for k, i in enumerate(used)}
        out = take_events([sources[i] for i in used], [(index[i], e) for i, e in picks], min_pad=min_pad)
        live = {i for i, _ in buffer}
        for i in used:
            if i not in live:
                del sources[i]
        return apply_transform(out, transform) if transform is not None else out

    for s in shards:
        path = dataset.shard_path(s)
        for batch in iterate_events(f"{path}:{dataset.tree}", layout=dataset.layout, groups=groups,
                                    step_size=step_size, min_pad=min_pad):
            arrays = dict(batch.arrays)
            arrays["shard"] = np.full(batch.size, s, np.int32)
            arrays["entry"] = np.arange(batch.entry_start, batch.entry_stop, dtype=np.int64)
            sources[next_id] = arrays
            buffer.extend((next_id, e) for e in range(batch.size))
            next_id += 1
            while len(buffer) >= max(shuffle_buffer, 1) + batch_size - 1 and len(buffer) >= batch_size:
                yield emit(batch_size)
    while len(buffer) >= batch_size:
        yield emit(batch_size)
    if buffer and not drop_remainder:
        yield emit(len(buffer))


def iterate_dataset(dataset: Dataset, *, split: str = "train", batch_size: int = 64, seed: int = 0, epoch: int = 0,
                    fractions=(0.8, 0.1, 0.1), shuffle_buffer: int = 0, drop_remainder: bool = False,
                    prefetch: int = 2, groups=None, step_size: int = 1000, min_pad: int = 16,
                    transform: Transform | None | bool = True) -> Iterable[dict]:
    """Batches of one split of a dataset, optionally shuffled, prefetched in a background thread.

    With ``shuffle_buffer > 0`` the split's shard order and the events (through a buffer of
    that many events) are shuffled from ``(seed, epoch)``; the same arguments give the same
    batches. The split itself depends on ``seed`` and ``fractions`` only, never on ``epoch``.

    Args:
        dataset: from :func:`load_dataset`.
        split: ``"train"``, ``"validation"`` or ``"test"``.
        batch_size: events per batch (the last one smaller unless ``drop_remainder``).
        shuffle_buffer: events held for shuffling (0: file order).
        prefetch: batches prepared ahead in a thread (0: no thread).
        groups: sparse groups to read (default: all present).
        transform: ``True`` applies the dataset's ``transform.yaml`` if any, ``False``/``None``
            none, or a :class:`Transform` to apply.

    Yields:
        dict of padded arrays as in :class:`~e2ejax.io.EventBatch` (groups re-padded to a
        power-of-two bucket per batch), plus ``shard`` int32 ``[B]`` and ``entry`` int64 ``[B]``
        (where each event came from). Call ``close()`` on the iterator when leaving it early:
        that stops the prefetch thread (a :class:`~e2ejax.io.Prefetcher`, also usable in ``with``).
    """
    if split not in SPLITS:
        raise InputError(f"expected split in {list(SPLITS)}; got {split!r}")
    if batch_size < 1:
        raise InputError(f"expected batch_size >= 1; got {batch_size}")
    shards = list(split_shards(len(dataset.shards), seed=seed, fractions=fractions)[split])
    rng = None
    if shuffle_buffer > 0:
        rng = np.random.default_rng([seed, epoch])
        rng.shuffle(shards)
    if transform is True:
        transform = dataset.transform
    elif transform is False:
        transform = None
    kwargs = dict(batch_size=batch_size, rng=rng, shuffle_buffer=shuffle_buffer, drop_remainder=drop_remainder,
                  step_size=step_size, groups=groups, min_pad=min_pad, transform=transform)
    make = lambda: _events(dataset, shards, **kwargs)  # noqa: E731
    return Prefetcher(make, size=prefetch) if prefetch > 0 else make()
