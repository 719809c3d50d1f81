"""CLUE density clustering of padded weighted points (jit- and vmap-able, tiled: ~linear in N).

CLUE (Rovere et al., "CLUE: A Fast Parallel Clustering Algorithm for High Granularity
Calorimeters in High-Energy Physics", Front. Big Data 3 (2020) 591315) clusters weighted
points (calorimeter hits) in four steps. This module follows the definitions of the CMS
implementation, CLUEstering (github.com/cms-patatrack/CLUEstering, ``master`` at commit
7fa1301 of 2026-08-21, ``include/CLUEstering/core/detail/ClusteringKernels.hpp``), with its
default flat kernel; the code is written from those definitions, not translated:

1. **local density** ``rho_i = sum_j K_ij w_j`` over the points ``j`` with ``d_ij <= dc``
   (``i`` itself included), ``K_ii = 1`` and ``K_ij = neighbour_weight`` (CLUEstering's
   ``FlatKernel``, default height 0.5: the paper's ``chi``) for ``j != i``;
2. **nearest higher**: ``j`` is *higher* than ``i`` when ``rho_j > rho_i``, or when
   ``rho_j == rho_i > 0`` and ``j > i`` (ties in density go to the larger index). Among the
   higher points within the search distance of ``i`` -- ``deltac`` when ``rho_i >= rhoc``,
   else ``deltao`` (both inclusive) -- ``nearest_higher_i`` is the closest one; at equal
   distance the denser one, then the larger index. ``delta_i`` is its distance
   (``inf`` when there is none, ``nearest_higher_i = -1``);
3. **seeds**: ``nearest_higher == -1`` and ``rho >= rhoc`` (that is: ``rho >= rhoc`` and
   ``delta > deltac``); the other points without a nearest higher (``rho < rhoc`` and
   ``delta > deltao``) are **outliers**;
4. **followers** (every other point) take the cluster of the point their chain of nearest
   highers ends at: a seed's cluster, or ``-1`` when the chain ends at an outlier
   (CLUEstering's ``KernelAssignClusters``).

Clusters are numbered ``0 .. n_clusters - 1`` per event in increasing index of their seed
(the order of CLUEstering's serial backend, whose seeds are pushed in point order).

**Tiles.** Each event's points are sorted by the tile they fall in: cubes of side
``s = (1 + 1/64) * max(dc, deltac, deltao)`` anchored at the event's smallest coordinate
(the ``phi_axis`` is cut into ``floor(2 pi / s)`` equal tiles instead, wrapping at
``+-pi``). Every search then looks at the ``3^D`` tiles around a point's own, reading at
most ``tile_capacity`` points from each: ``N * 3^D * tile_capacity`` distances (and as many
words of memory per intermediate), an ``O(N log N)`` sort and ``2 * 3^D`` binary searches per
point; for fixed density linear in ``N`` up to the logs. The points are processed in tile
order, so a point's candidates are a few contiguous runs of the sorted arrays, and the nearest
higher is one lexicographic ``(distance, -density, -index)`` reduction. The 1/64 margin keeps
a pair at exactly the search distance in neighbouring tiles despite float32 rounding of the
tile coordinates (up to ~10^4 tiles along an axis). **Overflow**: a tile holding more than
``tile_capacity`` points, or more than ``2^30`` tiles in an event's bounding box, makes the
results of that event approximate (points are missed); ``ClueResult.overflow`` flags it
and ``ClueResult.max_tile_points`` says the capacity that event needs. Called on concrete
arrays with ``on_overflow="raise"`` (the default) the op raises an
:class:`e2ejax.errors.InputError` instead; under ``jit``/``vmap`` it cannot raise, so check
the flag.

Cluster assignment follows the nearest-higher chains by pointer jumping:
``ceil(log2 N)`` rounds of ``parent = parent[parent]`` (chains are at most ``N - 1`` long).
"""

from __future__ import annotations

import functools
import itertools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from e2ejax.errors import InputError
from e2ejax.ops._checks import shape_str, shapes_equal

__all__ = ["ClueResult", "clue"]

TWO_PI = np.float32(2 * np.pi)
PI = np.float32(np.pi)
TILE_MARGIN = 1.0 + 2.0**-6
MAX_TILES = 2**30
_KEY_PAD = np.int32(np.iinfo(np.int32).max)


class ClueResult(NamedTuple):
    """CLUE per point (and per event) of a padded batch; fields carry the input's leading axes ``[...]``.

    Attributes:
        rho: float32 ``[..., N]`` local density (0 for padding).
        delta: float32 ``[..., N]`` distance to ``nearest_higher`` (``inf`` where it is -1).
        nearest_higher: int32 ``[..., N]`` index of the nearest higher point in the event, -1 for
            seeds, outliers and padding.
        is_seed: bool ``[..., N]``.
        cluster: int32 ``[..., N]`` cluster index, -1 for outliers, for followers of outliers and
            for padding.
        n_clusters: int32 ``[...]`` number of clusters (seeds) in the event.
        overflow: bool ``[...]``, true where a tile held more than ``tile_capacity`` points (or
            the event spans more than 2^30 tiles): that event's results are not exact.
        max_tile_points: int32 ``[...]`` the most points in one tile of the event: the smallest
            ``tile_capacity`` that is exact for it.
    """

    rho: jax.Array
    delta: jax.Array
    nearest_higher: jax.Array
    is_seed: jax.Array
    cluster: jax.Array
    n_clusters: jax.Array
    overflow: jax.Array
    max_tile_points: jax.Array


def _bad(expected: str, found: str, fix: str) -> InputError:
    return InputError(f"clue expected {expected}; found {found}; fix: {fix}")


def _distance_param(name, value, *, allow_zero=False):
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        kind = "a finite float >= 0" if allow_zero else "a finite float > 0"
        raise _bad(f"{name} to be {kind} (a static Python number)", f"{name}={value!r}",
                   f"pass {name} as a positive Python float")
    return value


def _check_inputs(points, weights, mask, phi_axis, tile_capacity, on_overflow):
    for name, x in (("points", points), ("weights", weights), ("mask", mask)):
        if not hasattr(x, "shape") or not hasattr(x, "dtype"):
            raise _bad(f"{name} to be an array", f"{type(x).__name__}", f"pass {name} as a NumPy or JAX array")
    if jnp.ndim(points) < 2:
        raise _bad("points of shape [..., N, D]", f"shape {shape_str(jnp.shape(points))}",
                   "pass one row of D coordinates per point, e.g. [B, N, 2] for (eta, phi)")
    if not jnp.issubdtype(jnp.result_type(points), jnp.floating) or not jnp.issubdtype(jnp.result_type(weights),
                                                                                      jnp.floating):
        raise _bad("float points and weights (float32)",
                   f"points {jnp.result_type(points)} and weights {jnp.result_type(weights)}",
                   "cast them with .astype(np.float32)")
    if jnp.result_type(mask) != jnp.bool_:
        raise _bad("mask with dtype bool", f"dtype {jnp.result_type(mask)}", "pass mask.astype(bool)")
    lead_n = jnp.shape(points)[:-1]
    for name, x in (("weights", weights), ("mask", mask)):
        if not shapes_equal(jnp.shape(x), lead_n):
            raise _bad(f"{name} of shape {shape_str(lead_n)} (points {shape_str(jnp.shape(points))} without D)",
                       f"{name} {shape_str(jnp.shape(x))}", f"give one {name[:-1] if name == 'weights' else name} "
                       "entry per point, padded like the points")
    D = int(jnp.shape(points)[-1])
    if D < 1:
        raise _bad("at least one coordinate per point (D >= 1)", f"D = {D}", "pass points of shape [..., N, D]")
    if phi_axis is not None and (isinstance(phi_axis, bool) or not isinstance(phi_axis, (int, np.integer))
                                 or not -D <= int(phi_axis) < D):
        raise _bad(f"phi_axis to be None or an int axis of the D = {D} coordinates", f"phi_axis={phi_axis!r}",
                   "pass phi_axis=1 for (eta, phi) points, None when no coordinate wraps")
    if isinstance(tile_capacity, bool) or not isinstance(tile_capacity, (int, np.integer)) or tile_capacity < 1:
        raise _bad("tile_capacity to be a positive int", f"tile_capacity={tile_capacity!r}",
                   "pass the most points one tile may hold, e.g. tile_capacity=32")
    if on_overflow not in ("raise", "flag"):
        raise _bad('on_overflow="raise" or on_overflow="flag"', f"on_overflow={on_overflow!r}",
                   'use "flag" to only set ClueResult.overflow')
    return D, None if phi_axis is None else int(phi_axis) % D


def clue(points, weights, mask, *, dc: float, rhoc: float, deltac: float | None = None,
         deltao: float | None = None, phi_axis: int | None = None, neighbour_weight: float = 0.5,
         tile_capacity: int = 32, on_overflow: str = "raise") -> ClueResult:
    """CLUE clustering of each event's padded weighted points (see the module docstring for the rules).

    Args:
        points: float ``[..., N, D]`` coordinates, e.g. ``(eta, phi)`` with ``D = 2`` or
            ``(x, y, z)`` with ``D = 3``; float32 is used.
        weights: float ``[..., N]`` point weights (energies).
        mask: bool ``[..., N]``, true for real points; padding takes no part.
        dc: static density radius (CLUEstering's ``density_radius``), keyword-only.
        rhoc: static density threshold of seeds (``min_density``), ``>= 0``.
        deltac: static search distance of points with ``rho >= rhoc`` (``seeding_distance``);
            default ``dc``.
        deltao: static search distance of points with ``rho < rhoc`` (``outlier_distance``);
            default ``dc``. CMSSW's ``outlierDeltaFactor`` ``f`` is ``deltao = f * dc``.
        phi_axis: static index of an azimuth coordinate (periodic in ``2 pi``; values in
            ``[-pi, pi]``, others are first wrapped into it by ``phi - 2 pi round(phi / 2 pi)``);
            its difference is ``min(|dphi|, 2 pi - |dphi|)`` (CLUEstering's
            ``PeriodicEuclideanMetric``). ``None``: no coordinate wraps.
        neighbour_weight: static flat-kernel height of the neighbours ``j != i`` (> 0).
        tile_capacity: static int, the most points read from one tile (see Overflow in the
            module docstring); the cost grows linearly with it.
        on_overflow: ``"raise"`` (on concrete inputs: raise :class:`~e2ejax.errors.InputError`
            naming the capacity needed) or ``"flag"`` (only set ``ClueResult.overflow``).

    Distances are Euclidean, ``sqrt(sum_k diff_k^2)`` summed in coordinate order, in float32.

    Returns:
        A :class:`ClueResult`.

    Raises:
        InputError: bad shapes, dtypes or parameters; a tile overflow on concrete inputs with
            ``on_overflow="raise"``.

    Examples:
        Two blobs of three points and a lone soft point (padding in the last slot):

        >>> import jax.numpy as jnp
        >>> pts = jnp.array([[[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [2.0, 3.1], [2.1, -3.1], [5.0, 0.0], [0.0, 0.0]]])
        >>> w = jnp.array([[3.0, 1.0, 1.0, 2.0, 1.0, 0.5, 9.0]])
        >>> m = jnp.array([[True, True, True, True, True, True, False]])
        >>> r = clue(pts, w, m, dc=0.2, rhoc=1.0, deltac=0.5, deltao=1.0, phi_axis=1)
        >>> r.cluster.tolist(), r.is_seed.tolist(), r.n_clusters.tolist()
        ([[0, 0, 0, 1, 1, -1, -1]], [[True, False, False, True, False, False, False]], [2])
        >>> r.rho.tolist(), r.nearest_higher.tolist()
        ([[4.0, 3.0, 3.0, 2.5, 2.0, 0.5, 0.0]], [[-1, 0, 0, -1, 3, -1, -1]])
    """
    D, axis = _check_inputs(points, weights, mask, phi_axis, tile_capacity, on_overflow)
    dc = _distance_param("dc", dc)
    rhoc = _distance_param("rhoc", rhoc, allow_zero=True)
    deltac = dc if deltac is None else _distance_param("deltac", deltac)
    deltao = dc if deltao is None else _distance_param("deltao", deltao)
    neighbour_weight = _distance_param("neighbour_weight", neighbour_weight)
    params = dict(dc=dc, rhoc=rhoc, deltac=deltac, deltao=deltao, axis=axis, flat=neighbour_weight,
                  cap=int(tile_capacity))

    points = jax.lax.stop_gradient(jnp.asarray(points).astype(jnp.float32))
    weights = jnp.asarray(weights).astype(jnp.float32)
    mask = jnp.asarray(mask)
    lead, N = points.shape[:-2], points.shape[-2]
    out = _clue_batch(points.reshape((-1, N, D)), weights.reshape((-1, N)), mask.reshape((-1, N)), **params)
    result = ClueResult(*(o.reshape(lead + o.shape[1:]) for o in out))
    if on_overflow == "raise" and not isinstance(result.overflow, jax.core.Tracer):
        _raise_on_overflow(result, int(tile_capacity), TILE_MARGIN * max(dc, deltac, deltao))
    return result


def _raise_on_overflow(result: ClueResult, capacity: int, side: float) -> None:
    overflow = np.asarray(result.overflow)
    if not overflow.any():
        return
    needed = int(np.asarray(result.max_tile_points).max(initial=0))
    events = [tuple(int(i) for i in e) for e in np.argwhere(overflow)[:5]]
    if needed > capacity:
        raise _bad(f"at most tile_capacity={capacity} points per tile of side {side:.4g}",
                   f"{needed} points in one tile (events {events}{' ...' if overflow.sum() > 5 else ''})",
                   f"pass tile_capacity>={needed}, or on_overflow='flag' to get ClueResult.overflow instead")
    raise _bad(f"each event's points to span at most 2^30 tiles of side {side:.4g}",
               f"a wider spread (events {events})",
               "check the coordinates' units (or clip outliers), or pass on_overflow='flag'")


def _distance(xi, xj, axis):
    """float32 distance of ``xi [..., D]`` and ``xj [..., D]``, dimensions summed in order."""
    total = None
    for k in range(xi.shape[-1]):
        diff = jnp.abs(xi[..., k] - xj[..., k])
        if k == axis:
            diff = jnp.minimum(diff, TWO_PI - diff)
        total = diff * diff if total is None else total + diff * diff
    return jnp.sqrt(total)


def _tiles(x, m, side, axis):
    """Per point tile coordinates ``[N, D]`` int32, tiles per axis ``[D]`` int32, and a too-many-tiles flag."""
    D = x.shape[-1]
    cells, counts, total = [], [], jnp.float32(1.0)
    for k in range(D):
        if k == axis:
            n = max(1, int(float(TWO_PI) // side))
            tile = TWO_PI / np.float32(n)
            c = jnp.clip(jnp.floor((x[:, k] + PI) / tile), 0, n - 1).astype(jnp.int32)
            count = jnp.int32(n)
            total = total * np.float32(n)
        else:
            lo = jnp.min(jnp.where(m, x[:, k], jnp.inf))
            lo = jnp.where(jnp.isfinite(lo), lo, 0.0)
            u = jnp.where(m, jnp.floor((x[:, k] - lo) / np.float32(side)), 0.0)
            span = jnp.max(u) + 1.0
            total = total * span
            c = jnp.clip(u, 0, MAX_TILES).astype(jnp.int32)
            count = jnp.clip(span, 1, MAX_TILES).astype(jnp.int32)
        cells.append(c)
        counts.append(count)
    return jnp.stack(cells, -1), jnp.stack(counts), total > MAX_TILES


def _key(cells, counts):
    """Row-major tile number of tile coordinates ``[..., D]`` (int32; exact below 2^30 tiles)."""
    key = cells[..., 0]
    for k in range(1, cells.shape[-1]):
        key = key * counts[k] + cells[..., k]
    return key


def _offsets(D, axis, axis_tiles):
    """The static tile offsets of the 3^D neighbourhood, without repeats along a wrapped axis of 1 or 2 tiles."""
    per_axis = []
    for k in range(D):
        if k == axis and axis_tiles < 3:
            per_axis.append((0,) if axis_tiles == 1 else (0, 1))
        else:
            per_axis.append((-1, 0, 1))
    return np.array(list(itertools.product(*per_axis)), np.int32)  # [O, D]


@functools.partial(jax.jit, static_argnames=("dc", "rhoc", "deltac", "deltao", "axis", "flat", "cap"))
def _clue_batch(x, w, m, **params):
    """:func:`_clue_event` over ``[B, N, ...]`` events, compiled once per shape and parameters
    (inlined when the caller is traced)."""
    return jax.vmap(lambda a, b, c: _clue_event(a, b, c, **params))(x, w, m)


def _nearer(a, b):
    """The better of two ``(distance, density, index)`` candidates: nearer, then denser, then larger index."""
    (da, ra, ta), (db, rb, tb) = a, b
    a_wins = (da < db) | ((da == db) & ((ra > rb) | ((ra == rb) & (ta > tb))))
    return tuple(jnp.where(a_wins, u, v) for u, v in zip(a, b))


def _clue_event(x, w, m, *, dc, rhoc, deltac, deltao, axis, flat, cap):
    """CLUE of one event: ``x [N, D]``, ``w [N]``, ``m [N]`` -> the fields of :class:`ClueResult` (no lead axes)."""
    N, D = x.shape
    if axis is not None:
        phi = x[:, axis]
        phi = jnp.where(jnp.abs(phi) <= PI, phi, phi - TWO_PI * jnp.round(phi / TWO_PI))
        x = x.at[:, axis].set(phi)
    side = TILE_MARGIN * max(dc, deltac, deltao)
    cells, counts, too_many_tiles = _tiles(x, m, side, axis)
    key = jnp.where(m, _key(cells, counts), _KEY_PAD)
    # work in tile order: a point's candidates are then a few contiguous runs of the sorted arrays
    order = jnp.argsort(key, stable=True).astype(jnp.int32)
    sorted_key, xs, ws, ms, cs = key[order], x[order], w[order], m[order], cells[order]

    # the 3^D tiles around each point: where they start in the sorted points and how many they hold
    axis_tiles = max(1, int(float(TWO_PI) // side)) if axis is not None else 0
    offsets = _offsets(D, axis, axis_tiles)  # [O, D]
    own = int(np.flatnonzero((offsets == 0).all(-1))[0])
    near = cs[:, None, :] + jnp.asarray(offsets)[None, :, :]  # [N, O, D]
    inside = jnp.ones(near.shape[:2], bool)
    for k in range(D):
        if k == axis:
            near = near.at[..., k].set(jnp.mod(near[..., k], counts[k]))
        else:
            inside = inside & (near[..., k] >= 0) & (near[..., k] < counts[k])
    near_key = jnp.where(inside, _key(near, counts), -1)
    start = jnp.searchsorted(sorted_key, near_key, side="left").astype(jnp.int32)
    stop = jnp.searchsorted(sorted_key, near_key, side="right").astype(jnp.int32)
    held = jnp.where(inside, stop - start, 0)  # [N, O]
    max_tile_points = jnp.max(jnp.where(ms, held[:, own], 0))
    overflow = (max_tile_points > cap) | too_many_tiles

    # candidates q: up to `cap` points of each neighbouring tile, as positions in tile order
    slot = jnp.arange(cap, dtype=jnp.int32)
    q = jnp.clip(start[:, :, None] + slot[None, None, :], 0, N - 1).reshape(N, -1)  # [N, M]
    valid = (slot[None, None, :] < jnp.minimum(held, cap)[:, :, None]).reshape(N, -1) & ms[:, None]
    p = jnp.arange(N, dtype=jnp.int32)[:, None]
    d = _distance(xs[:, None, :], xs[q], axis)  # [N, M]

    # 1. local density, flat kernel
    kernel = jnp.where(q == p, jnp.float32(1.0), jnp.float32(flat))
    rho_s = jnp.sum(jnp.where(valid & (d <= dc), kernel * ws[q], 0.0), axis=-1)
    rho_s = jnp.where(ms, rho_s, 0.0)

    # 2. nearest higher: closest, then densest, then largest index (one lexicographic reduction)
    rho_p, rho_q, tag_p, tag_q = rho_s[:, None], rho_s[q], order[:, None], order[q]
    higher = (rho_q > rho_p) | ((rho_q == rho_p) & (rho_q > 0) & (tag_q > tag_p))
    reach = jnp.where(rho_p >= rhoc, jnp.float32(deltac), jnp.float32(deltao))
    candidate = valid & higher & (d <= reach)
    operands = (jnp.where(candidate, d, jnp.inf), jnp.where(candidate, rho_q, -jnp.inf),
                jnp.where(candidate, tag_q, -1))
    init = (np.float32(np.inf), np.float32(-np.inf), np.int32(-1))
    delta_s, _, nh_s = jax.lax.reduce(operands, init, _nearer, (1,))
    delta_s = jnp.where(nh_s >= 0, delta_s, jnp.inf)

    # back to point order
    back = jnp.zeros(N, jnp.int32).at[order].set(jnp.arange(N, dtype=jnp.int32))
    rho, delta, nearest_higher = rho_s[back], delta_s[back], nh_s[back].astype(jnp.int32)

    # 3. seeds, numbered in point order; 4. followers by pointer jumping to the end of their chain
    is_seed = m & (nearest_higher < 0) & (rho >= rhoc)
    seed_number = jnp.cumsum(is_seed.astype(jnp.int32)) - 1
    parent = jnp.where(nearest_higher >= 0, nearest_higher, jnp.arange(N, dtype=jnp.int32))
    rounds = max(1, math.ceil(math.log2(max(N, 2))))
    root = jax.lax.fori_loop(0, rounds, lambda _, p: p[p], parent)
    cluster = jnp.where(m & is_seed[root], seed_number[root], -1).astype(jnp.int32)
    n_clusters = jnp.sum(is_seed.astype(jnp.int32))
    return rho, delta, nearest_higher, is_seed, cluster, n_clusters, overflow, max_tile_points.astype(jnp.int32)
