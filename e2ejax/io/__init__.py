"""ROOT I/O: stream E2E ntuples into padded numpy batches, write aligned predictions,
read them back (friend trees, provenance records); stream pre-cut frame files (ML4SCI's
HDF5 and parquet datasets, docs/ML4SCI.md) in fixed-size batches.

The only package of e2ejax that imports uproot, awkward, pyarrow and h5py. Layouts and branch names are
documented in docs/FORMAT.md; :class:`EventBatch` documents every array a batch holds.
"""

from e2ejax.io._atomic import atomic_path, write_json_atomic
from e2ejax.io._batch import EventBatch, HitOverflowWarning
from e2ejax.io._claim import OUTPUT_SUFFIXES, check_output, claim_output, exclusive_lock, is_prediction_file
from e2ejax.io._frame_files import (
    FrameBatch,
    count_frame_rows,
    count_frames,
    frame_rows,
    is_frame_file,
    iterate_frame_files,
    iterate_frames,
)
from e2ejax.io._frame_formats import FRAME_FORMATS, FRAME_SUFFIXES, FrameFormat
from e2ejax.io._frame_sources import frame_format
from e2ejax.io._friend import FRIEND_TREE, PredictionWriter
from e2ejax.io._open import DEFAULT_TREE, Source, resolve
from e2ejax.io._info import file_provenance
from e2ejax.io._prefetch import Prefetcher
from e2ejax.io._records import COMPRESSION, MANTISSA_BITS, EventWriter, branch_names, open_output, round_mantissa, to_arrays
from e2ejax.io._mlanalyzer import DEFAULT_TRACK_PROJECTION, TRACK_PROJECTIONS
from e2ejax.io._layout_readers import pad_jagged
from e2ejax.io._read import check_files, count_entries, detect_layout, entry_range_stop, iterate_events, label_task
from e2ejax.io._scores import RocInputs, load_roc_inputs
from e2ejax.io._schema import DEFAULT_MAX_HITS, DENSE_IMAGES, DENSE_SEEDS, GROUPS, INT_FIELDS, bucket
from e2ejax.io._write_events import unpad, write_dense, write_events

__all__ = [
    "COMPRESSION",
    "DEFAULT_MAX_HITS",
    "DEFAULT_TRACK_PROJECTION",
    "DEFAULT_TREE",
    "DENSE_IMAGES",
    "DENSE_SEEDS",
    "EventBatch",
    "EventWriter",
    "FRAME_FORMATS",
    "FRAME_SUFFIXES",
    "FrameBatch",
    "FrameFormat",
    "FRIEND_TREE",
    "GROUPS",
    "HitOverflowWarning",
    "INT_FIELDS",
    "MANTISSA_BITS",
    "OUTPUT_SUFFIXES",
    "Prefetcher",
    "RocInputs",
    "TRACK_PROJECTIONS",
    "PredictionWriter",
    "Source",
    "atomic_path",
    "branch_names",
    "bucket",
    "check_files",
    "check_output",
    "claim_output",
    "count_entries",
    "count_frame_rows",
    "count_frames",
    "detect_layout",
    "entry_range_stop",
    "exclusive_lock",
    "file_provenance",
    "frame_format",
    "frame_rows",
    "is_frame_file",
    "is_prediction_file",
    "iterate_events",
    "iterate_frame_files",
    "iterate_frames",
    "label_task",
    "load_roc_inputs",
    "open_output",
    "pad_jagged",
    "resolve",
    "round_mantissa",
    "to_arrays",
    "unpad",
    "write_dense",
    "write_events",
    "write_json_atomic",
]
