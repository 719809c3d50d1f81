"""ROOT I/O: stream E2E ntuples into padded numpy batches, write aligned predictions, datasets.

The only package of e2ejax that imports uproot and awkward. Layouts and branch names are
documented in docs/FORMAT.md; :class:`EventBatch` documents every array a batch holds.
"""

from e2ejax.io._atomic import atomic_path
from e2ejax.io._batch import EventBatch, HitOverflowWarning
from e2ejax.io._dataset import (
    Dataset,
    Shard,
    build_transform,
    iterate_dataset,
    load_dataset,
    split_shards,
    write_dataset,
)
from e2ejax.io._friend import FRIEND_TREE, PredictionWriter
from e2ejax.io._images import DENSE_CHANNELS, sparse_to_dense
from e2ejax.io._open import DEFAULT_TREE, Source, resolve
from e2ejax.io._prefetch import Prefetcher
from e2ejax.io._read import check_files, detect_layout, iterate_events, pad_jagged
from e2ejax.io._schema import DEFAULT_MAX_HITS, DENSE_IMAGES, DENSE_SEEDS, GROUPS, INT_FIELDS, bucket
from e2ejax.io._transform import (
    TRANSFORMS,
    FeatureTransform,
    Transform,
    apply_transform,
    fit_transform,
    load_transform,
    save_transform,
)
from e2ejax.io._write_events import unpad, write_dense, write_events

__all__ = [
    "DEFAULT_MAX_HITS",
    "DEFAULT_TREE",
    "DENSE_CHANNELS",
    "DENSE_IMAGES",
    "DENSE_SEEDS",
    "Dataset",
    "EventBatch",
    "FRIEND_TREE",
    "FeatureTransform",
    "GROUPS",
    "HitOverflowWarning",
    "INT_FIELDS",
    "Prefetcher",
    "PredictionWriter",
    "Shard",
    "Source",
    "TRANSFORMS",
    "Transform",
    "apply_transform",
    "atomic_path",
    "build_transform",
    "bucket",
    "check_files",
    "detect_layout",
    "fit_transform",
    "iterate_dataset",
    "iterate_events",
    "load_dataset",
    "load_transform",
    "pad_jagged",
    "resolve",
    "save_transform",
    "sparse_to_dense",
    "split_shards",
    "unpad",
    "write_dataset",
    "write_dense",
    "write_events",
]
