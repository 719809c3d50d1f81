"""Pure JAX ops of the E2E pipeline: hits -> images -> seeds -> frames -> graphs.

Every function is jit- and vmap-able with static sizes given as keyword-only
arguments, float32 in and out, and differentiable in its float inputs.
"""

from e2ejax.ops._clue import ClueResult, clue
from e2ejax.ops._frames import extract_frames, frame_offset, frames_in_acceptance
from e2ejax.ops._graph import Graph, build_graph, frame_to_points, frames_to_graphs, gather_neighbours, knn
from e2ejax.ops._hit_frames import hits_to_frames
from e2ejax.ops._images import (
    endcap_hits_to_image,
    hbhe_towers,
    hits_to_image,
    safe_divide,
    stitch_ecal,
    track_image,
)
from e2ejax.ops._lsh import binned_knn, directions_used, lsh_buckets, radix_argsort
from e2ejax.ops._seeds import egamma_seeds, hits_window_argmax, jet_seeds, window_argmax
from e2ejax.ops._segment import neighbour_mean, segment_max, segment_mean, segment_softmax, segment_sum
from e2ejax.ops._upsample import upsample, upsampled_frames

__all__ = [
    "ClueResult",
    "Graph",
    "binned_knn",
    "build_graph",
    "directions_used",
    "clue",
    "egamma_seeds",
    "endcap_hits_to_image",
    "extract_frames",
    "frame_offset",
    "frames_in_acceptance",
    "frame_to_points",
    "frames_to_graphs",
    "gather_neighbours",
    "hbhe_towers",
    "hits_to_frames",
    "hits_window_argmax",
    "hits_to_image",
    "jet_seeds",
    "knn",
    "lsh_buckets",
    "neighbour_mean",
    "radix_argsort",
    "safe_divide",
    "segment_max",
    "segment_mean",
    "segment_softmax",
    "segment_sum",
    "stitch_ecal",
    "track_image",
    "upsample",
    "upsampled_frames",
    "window_argmax",
]
