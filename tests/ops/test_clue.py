"""CLUE (e2ejax.ops.clue) against a NumPy loop that follows CLUEstering's kernels step by step.

The reference measures every pair's distance with NumPy (no tiles: CLUEstering's tiles only
choose which pairs are looked at, never the result), then loops in Python over the pairs within
reach, in point order, as CLUEstering's kernels do: KernelCalculateLocalDensity,
KernelCalculateNearestHigher (with its sequential "closer, or as close and denser, or as
dense and later" update), KernelFindClusters (seeds pushed in point order),
KernelAssignSeedIndices and KernelAssignClusters (a while loop up each chain).

The op compiles once per shape and static parameters, and compiling, not running, is what these
tests spend their time on. So the random events are drawn at a few fixed shapes (``EVENTS``
events of ``N`` points, the tile capacity ``N``: always exact) and share their static
parameters wherever the behaviour under test allows, and the data varies inside one compiled
program. Compared with the reference, ties included: 4 x 8 simulated events (blobs on a uniform
background, as showers on pile-up; 3 x 8 of them with dyadic weights and equal densities in
every event), 2 x 8 more in 3-D and 1-D, 3 x 8 with wide search radii, 8 at the tile capacity,
and 3 x 20 random lattice events (many equal distances and equal densities).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e2ejax.errors import InputError
from e2ejax.ops import ClueResult, clue
from tests.conftest import run_three_ways

TWO_PI = np.float32(2 * np.pi)
PI = np.float32(np.pi)


def _reference_event(x, w, m, dc, rhoc, deltac, deltao, phi_axis, flat):
    N, D = x.shape
    x = x.astype(np.float32).copy()
    w = w.astype(np.float32)
    if phi_axis is not None:
        phi = x[:, phi_axis]
        x[:, phi_axis] = np.where(np.abs(phi) <= PI, phi, phi - TWO_PI * np.round(phi / TWO_PI))
    real = np.flatnonzero(m)

    def distances(i):  # float32, coordinates summed in order, the azimuth wrapped
        total = np.zeros(N, np.float32)
        for k in range(D):
            diff = np.abs(x[i, k] - x[:, k])
            if k == phi_axis:
                diff = np.minimum(diff, TWO_PI - diff)
            total = total + diff * diff
        return np.sqrt(total)

    # KernelCalculateLocalDensity: rho_i += [d_ij <= dc] * kernel(i, j) * w_j over every j
    rho = np.zeros(N, np.float32)
    for i in real:
        d = distances(i)
        for j in real[d[real] <= np.float32(dc)]:
            rho[i] += np.float32(1.0 if i == j else flat) * w[j]

    # KernelCalculateNearestHigher
    nh = np.full(N, -1, np.int32)
    delta = np.full(N, np.inf, np.float32)
    for i in real:
        reach = np.float32(deltac if rho[i] >= np.float32(rhoc) else deltao)
        dist = distances(i)
        for j in real[dist[real] <= reach]:  # the pairs farther than reach fail the test below anyway
            higher = rho[j] > rho[i] or (rho[j] == rho[i] and rho[j] > 0 and j > i)
            if not higher:
                continue
            d = dist[j]
            if d <= reach and (d < delta[i] or (d == delta[i] and nh[i] >= 0 and (
                    rho[j] > rho[nh[i]] or (rho[j] == rho[nh[i]] and j > nh[i])))):
                delta[i], nh[i] = d, j

    # KernelFindClusters, KernelAssignSeedIndices, KernelAssignClusters
    is_seed = np.zeros(N, bool)
    seeds = []
    for i in real:
        if nh[i] == -1 and rho[i] >= np.float32(rhoc):
            is_seed[i] = True
            seeds.append(i)
    cluster = np.full(N, -1, np.int32)
    for number, s in enumerate(seeds):
        cluster[s] = number
    for i in real:
        if is_seed[i] or nh[i] == -1:
            continue
        current = i
        while not is_seed[current] and nh[current] != -1:
            current = nh[current]
        cluster[i] = cluster[current]
    return rho, delta, nh, is_seed, cluster, np.int32(len(seeds))


def clue_reference(points, weights, mask, *, dc, rhoc, deltac=None, deltao=None, phi_axis=None,
                   neighbour_weight=0.5):
    """NumPy loop CLUE of ``[..., N, D]`` points: the first six fields of :class:`ClueResult`."""
    points, weights, mask = np.asarray(points), np.asarray(weights), np.asarray(mask)
    lead, (N, D) = points.shape[:-2], points.shape[-2:]
    deltac = dc if deltac is None else deltac
    deltao = dc if deltao is None else deltao
    axis = None if phi_axis is None else phi_axis % D
    events = [_reference_event(x, w, m, dc, rhoc, deltac, deltao, axis, neighbour_weight)
              for x, w, m in zip(points.reshape(-1, N, D), weights.reshape(-1, N), mask.reshape(-1, N))]
    return tuple(np.stack(f).reshape(lead + np.shape(f[0])) for f in zip(*events))


def _fields(result):
    return tuple(np.asarray(f) for f in result[:6])


def _assert_matches(result, expected, rho_rtol=0.0):
    names = ClueResult._fields
    for name, got, want in zip(names, _fields(result), expected):
        if name == "rho":
            np.testing.assert_allclose(got, want, rtol=rho_rtol, atol=0, err_msg=name)
        elif name == "delta":
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=0, err_msg=name)
        else:
            np.testing.assert_array_equal(got, want, err_msg=name)


def _events(rng, B, N, D, *, spread, blobs, dyadic, phi_axis=None, seam=False):
    """Blobs on a uniform background; dyadic weights make every density exact in float32 (ties)."""
    x = rng.uniform(-spread, spread, (B, N, D))
    n_blob = N // 2
    centres = rng.uniform(-spread, spread, (B, blobs, D))
    which = rng.integers(0, blobs, (B, n_blob))
    x[:, :n_blob] = np.take_along_axis(centres, which[..., None], 1) + rng.normal(0, 0.06, (B, n_blob, D))
    if phi_axis is not None:
        x[..., phi_axis] = rng.uniform(-np.pi, np.pi, (B, N))
        if seam:  # a blob across phi = +-pi
            x[:, :n_blob, phi_axis] = np.pi + rng.normal(0, 0.06, (B, n_blob))
        x[..., phi_axis] = np.mod(x[..., phi_axis] + np.pi, 2 * np.pi) - np.pi
    x = x.astype(np.float32)
    if dyadic:
        w = (rng.integers(1, 12, (B, N)) / 4).astype(np.float32)
    else:
        w = rng.exponential(1.0, (B, N)).astype(np.float32)
    mask = rng.random((B, N)) < 0.85
    mask[-1, N // 2:] = False  # a half-padded event
    return x, w, mask


PARAMS = dict(dc=0.1, rhoc=2.0, deltac=0.2, deltao=0.3)
#: the shape of the random blob events: EVENTS events of N points (tile_capacity=N is always exact)
EVENTS, N = 8, 48
#: the parameters of the hand-made 1-D events of four points below, which share one compiled program
LINE = {"dc": 0.1, "rhoc": 1.0, "deltac": 0.25, "deltao": 0.5}


@pytest.mark.parametrize("spread, blobs, dyadic", [(3.0, 4, True), (1.0, 6, True), (0.4, 3, True), (1.0, 5, False)],
                         ids=["sparse", "medium", "dense", "float-weights"])
def test_matches_reference_eta_phi_three_ways(rng, spread, blobs, dyadic):
    """(eta, phi) with the wrap and a blob across the seam, plain, jit and vmap (one compiled program
    of each for every case). Dyadic weights: every field exact and equal densities (the index
    tie-break) in every event; real-valued energies: rho within float32 rounding, the rest exact."""
    x, w, mask = _events(rng, EVENTS, N, 2, spread=spread, blobs=blobs, dyadic=dyadic, phi_axis=1, seam=True)
    expected = clue_reference(x, w, mask, phi_axis=1, **PARAMS)
    results = run_three_ways(clue, x, w, mask, phi_axis=1, tile_capacity=N, **PARAMS)
    for r in results:
        _assert_matches(r, expected, rho_rtol=0.0 if dyadic else 2e-6)
        assert not r.overflow.any()
    assert expected[5].min() >= 1 and (expected[4] == -1).any()  # clusters and outliers both occur
    if dyadic:
        ties = [(np.unique(r[m], return_counts=True)[1] > 1).any() for r, m in zip(expected[0], mask)]
        assert all(ties)  # equal densities in every event: the index tie-break is exercised


@pytest.mark.parametrize("D, phi_axis", [(3, None), (1, None)])
def test_matches_reference_other_coordinates(rng, D, phi_axis):
    """Real-valued energies in 3-D and in 1-D, no coordinate wrapped (plain: jit and vmap above;
    the azimuth as the first coordinate: the wide search below)."""
    x, w, mask = _events(rng, EVENTS, N, D, spread=1.0, blobs=5, dyadic=False, phi_axis=phi_axis)
    expected = clue_reference(x, w, mask, phi_axis=phi_axis, **PARAMS)
    _assert_matches(clue(x, w, mask, phi_axis=phi_axis, tile_capacity=N, **PARAMS), expected, rho_rtol=2e-6)
    assert expected[5].min() >= 1 and (expected[4] == -1).any()


def test_two_blobs_and_an_outlier():
    a = [(0.0, 0.0), (0.05, 0.0), (0.0, 0.05), (-0.05, 0.0)]
    b = [(1.0, 1.0), (1.05, 1.0), (1.0, 1.05)]
    x = np.array([a + b + [(3.0, -2.0), (0.0, 0.0)]], np.float32)
    w = np.array([[1.0, 4.0, 1.0, 1.0, 5.0, 1.0, 1.0, 0.2, 7.0]], np.float32)
    mask = np.array([[True] * 8 + [False]])
    r = clue(x, w, mask, dc=0.08, rhoc=1.0, deltac=0.3, deltao=0.5, phi_axis=1)
    np.testing.assert_array_equal(r.cluster[0], [0, 0, 0, 0, 1, 1, 1, -1, -1])
    np.testing.assert_array_equal(r.is_seed[0], [False, True, False, False, True, False, False, False, False])
    np.testing.assert_array_equal(r.nearest_higher[0], [1, -1, 1, 0, -1, 4, 4, -1, -1])
    assert int(r.n_clusters[0]) == 2 and np.isinf(r.delta[0, [1, 4, 7, 8]]).all()
    assert float(r.rho[0, 7]) == np.float32(0.2) and float(r.rho[0, 8]) == 0.0  # the lone point; padding
    _assert_matches(r, clue_reference(x, w, mask, dc=0.08, rhoc=1.0, deltac=0.3, deltao=0.5, phi_axis=1))


def test_follower_of_an_outlier_has_no_cluster():
    # 0 (rho 0.5 + 0.15) and 1 (rho 0.3 + 0.25) are below rhoc and 0 has no higher: 0 is an outlier
    x = np.array([[0.0], [0.05], [5.0], [0.0]], np.float32)  # the last point is padding
    w = np.array([0.5, 0.3, 3.0, 9.0], np.float32)
    m = np.array([True, True, True, False])
    r = clue(x, w, m, **LINE)
    np.testing.assert_array_equal(r.nearest_higher, [-1, 0, -1, -1])
    np.testing.assert_array_equal(r.cluster, [-1, -1, 0, -1])
    np.testing.assert_array_equal(r.is_seed, [False, False, True, False])
    _assert_matches(r, clue_reference(x, w, m, **LINE))


def test_density_radius_is_inclusive():
    # distance 0.5 exactly (dyadic): counted; the next float32 above it: not
    beyond = np.nextafter(np.float32(0.5), np.float32(1.0))
    x = np.array([[[0.0, 0.0], [0.5, 0.0], [0.0, 10.0], [beyond, 10.0]]], np.float32)
    w = np.ones((1, 4), np.float32)
    r = clue(x, w, np.ones((1, 4), bool), dc=0.5, rhoc=1.0)
    np.testing.assert_array_equal(r.rho[0], [1.5, 1.5, 1.0, 1.0])
    # the tie in density goes to the larger index; the far pair are two seeds
    np.testing.assert_array_equal(r.nearest_higher[0], [1, -1, -1, -1])
    np.testing.assert_array_equal(r.cluster[0], [0, 0, 1, 2])
    assert float(r.delta[0, 0]) == 0.5


def test_search_distances_are_inclusive_and_depend_on_density():
    # point 1 (rho >= rhoc) searches within deltac, point 3 (rho < rhoc) within deltao
    x = np.array([[0.0], [0.25], [4.0], [4.5]], np.float32)
    w = np.array([4.0, 2.0, 4.0, 0.5], np.float32)
    for deltac, deltao, nh1, nh3 in [(0.25, 0.5, 0, 2), (0.24, 0.5, -1, 2), (0.25, 0.49, 0, -1)]:  # the first is LINE
        r = clue(x, w, np.ones(4, bool), dc=0.1, rhoc=1.0, deltac=deltac, deltao=deltao)
        np.testing.assert_array_equal(r.nearest_higher, [-1, nh1, -1, nh3])
        np.testing.assert_array_equal(r.is_seed, [True, nh1 < 0, True, False])
        _assert_matches(r, clue_reference(x, w, np.ones(4, bool), dc=0.1, rhoc=1.0, deltac=deltac, deltao=deltao))


def test_equal_distance_goes_to_denser_then_larger_index():
    # point 0 has higher points 1 and 2 at distance 1 each (both sides on a line)
    x = np.array([[0.0], [-1.0], [1.0], [3.0], [5.0]], np.float32)
    w = np.array([1.0, 3.0, 2.0, 1.0, 2.0], np.float32)
    r = clue(x, w, np.ones(5, bool), dc=0.5, rhoc=0.5, deltac=2.0)
    assert int(r.nearest_higher[0]) == 1  # denser wins at equal distance
    w[2] = 3.0  # now equally dense: the larger index wins; and 2 is higher than 1 (tie -> index)
    r = clue(x, w, np.ones(5, bool), dc=0.5, rhoc=0.5, deltac=2.0)
    assert int(r.nearest_higher[0]) == 2
    # point 3 sits between 2 (rho 3) and 4 (rho 2) at distance 2: denser 2 wins over the larger index 4
    assert int(r.nearest_higher[3]) == 2
    _assert_matches(r, clue_reference(x, w, np.ones(5, bool), dc=0.5, rhoc=0.5, deltac=2.0))


def test_zero_density_ties_are_not_higher():
    x = np.array([[0.0], [0.1]], np.float32)
    r = clue(x, np.zeros(2, np.float32), np.ones(2, bool), dc=0.5, rhoc=0.0)
    np.testing.assert_array_equal(r.nearest_higher, [-1, -1])
    np.testing.assert_array_equal(r.is_seed, [True, True])  # rho 0 >= rhoc 0: both are seeds
    np.testing.assert_array_equal(r.cluster, [0, 1])


def test_phi_wrap_joins_a_blob_across_pi():
    """Fails if the wrap were ignored: across phi = +-pi the points are 0.02 apart, not 2 pi - 0.02."""
    phi = np.float32(np.pi - 0.01)
    x = np.array([[0.0, phi], [0.0, -phi], [0.02, phi], [0.0, 0.0]], np.float32)
    w = np.array([3.0, 1.0, 1.0, 2.0], np.float32)
    m = np.ones(4, bool)
    r = clue(x, w, m, dc=0.05, rhoc=1.0, phi_axis=1)
    np.testing.assert_array_equal(r.cluster, [0, 0, 0, 1])
    np.testing.assert_array_equal(r.nearest_higher, [-1, 0, 0, -1])
    np.testing.assert_allclose(r.rho, [4.0, 3.0, 3.0, 2.0])
    _assert_matches(r, clue_reference(x, w, m, dc=0.05, rhoc=1.0, phi_axis=1))
    unwrapped = clue(x, w, m, dc=0.05, rhoc=1.0)  # phi as a plain coordinate: point 1 is on its own
    assert int(unwrapped.n_clusters) == 3 and int(unwrapped.cluster[1]) == 1 and bool(unwrapped.is_seed[1])
    # phi given outside [-pi, pi] is wrapped first: shifting phis by multiples of 2 pi changes nothing
    shifted = x.copy()
    shifted[:, 1] += TWO_PI * np.array([1, -1, 2, 1], np.float32)
    s = clue(shifted, w, m, dc=0.05, rhoc=1.0, phi_axis=1)
    np.testing.assert_array_equal(s.cluster, r.cluster)
    np.testing.assert_array_equal(s.nearest_higher, r.nearest_higher)
    np.testing.assert_allclose(s.rho, r.rho)


def test_tile_margin_keeps_pairs_at_the_search_distance_in_neighbouring_tiles():
    # found by search: with tiles of side exactly dc, float32 rounding of (x - min) / dc puts
    # these two points (0.10099673 <= dc apart) two tiles apart, and neither would see the other
    dc = 0.10099678486585617
    x = np.array([[-1.999497413635254], [1.232399582862854], [1.333396315574646]], np.float32)
    w = np.ones(3, np.float32)
    r = clue(x, w, np.ones(3, bool), dc=dc, rhoc=1.0)
    np.testing.assert_array_equal(r.rho, [1.0, 1.5, 1.5])
    np.testing.assert_array_equal(r.nearest_higher, [-1, 2, -1])
    _assert_matches(r, clue_reference(x, w, np.ones(3, bool), dc=dc, rhoc=1.0))


@pytest.mark.parametrize("dc, phi_axis, neighbour_weight", [(1.0, 1, 0.25), (2.5, 0, None), (4.0, 1, None)])
def test_wide_search_with_few_phi_tiles_and_the_defaults(rng, dc, phi_axis, neighbour_weight):
    """2 pi holds 6, 2 or 1 tiles of side ~dc: no tile is visited twice (rho would double count).
    The defaults: deltac and deltao (dc) in all three, the kernel height (0.5) in the last two
    (0.25 in the first). The azimuth is the first coordinate in the second."""
    x, w, mask = _events(rng, EVENTS, N, 2, spread=2.0, blobs=3, dyadic=True, phi_axis=phi_axis)
    kernel = {} if neighbour_weight is None else {"neighbour_weight": neighbour_weight}
    expected = clue_reference(x, w, mask, dc=dc, rhoc=3.0, phi_axis=phi_axis, **kernel)
    _assert_matches(clue(x, w, mask, dc=dc, rhoc=3.0, phi_axis=phi_axis, tile_capacity=N, **kernel), expected)
    if neighbour_weight is not None:  # the height changes the densities of these events: a height ignored would fail
        assert not np.array_equal(expected[0], clue_reference(x, w, mask, dc=dc, rhoc=3.0, phi_axis=phi_axis)[0])
    if phi_axis == 0:  # the wrap on the first coordinate matters: as a plain coordinate it gives other densities
        assert not np.array_equal(expected[0], clue_reference(x, w, mask, dc=dc, rhoc=3.0)[0])


def test_long_chain_is_followed_to_its_seed():
    # 300 points on a line, each 0.9 dc from the next, weights rising: a chain of 299 nearest highers
    n = 300
    x = (np.arange(n, dtype=np.float32) * np.float32(0.9))[:, None]
    w = np.linspace(1.0, 2.0, n).astype(np.float32)
    w[-1] = 10.0  # the end of the line is its densest point
    r = clue(x, w, np.ones(n, bool), dc=1.0, rhoc=1.0)
    np.testing.assert_array_equal(r.nearest_higher[:-1], np.arange(1, n))
    assert int(r.n_clusters) == 1 and (np.asarray(r.cluster) == 0).all()


def test_leading_axes_and_single_event(rng):
    x, w, mask = _events(rng, EVENTS, N, 2, spread=0.6, blobs=3, dyadic=True, phi_axis=1)
    batched = clue(x, w, mask, phi_axis=1, tile_capacity=N, **PARAMS)
    nested = clue(x.reshape(2, 4, N, 2), w.reshape(2, 4, N), mask.reshape(2, 4, N), phi_axis=1,
                  tile_capacity=N, **PARAMS)
    single = clue(x[4], w[4], mask[4], phi_axis=1, tile_capacity=N, **PARAMS)
    for field, a, b, c in zip(ClueResult._fields, batched, nested, single):
        np.testing.assert_array_equal(np.asarray(b).reshape(np.shape(a)), a, err_msg=field)
        np.testing.assert_array_equal(c, np.asarray(a)[4], err_msg=field)
    assert nested.n_clusters.shape == (2, 4) and single.cluster.shape == (N,)


def test_empty_and_fully_padded_events():
    x = np.zeros((EVENTS, N, 3), np.float32)
    r = clue(x, np.ones((EVENTS, N), np.float32), np.zeros((EVENTS, N), bool), tile_capacity=N, **PARAMS)
    assert (np.asarray(r.cluster) == -1).all() and (np.asarray(r.nearest_higher) == -1).all()
    assert not np.asarray(r.is_seed).any() and (np.asarray(r.n_clusters) == 0).all()
    assert (np.asarray(r.rho) == 0).all() and np.isinf(r.delta).all() and (np.asarray(r.max_tile_points) == 0).all()


def test_tile_capacity_is_exact_at_the_limit_and_overflow_is_not_silent(rng):
    x, w, mask = _events(rng, EVENTS, N, 2, spread=0.5, blobs=2, dyadic=True, phi_axis=1)
    # event 0: all N points in one tile (side 1.016 deltao, phi tiles of 2 pi / 20 from -pi), so the
    # capacity these events need is N, the capacity of the program every test of this shape shares
    tile = 2 * np.pi / 20
    x[0, :, 0] = rng.uniform(0.0, 0.25, N)
    x[0, :, 1] = -np.pi + tile * (10.5 + rng.uniform(-0.4, 0.4, N))
    w[0], mask[0] = (rng.integers(1, 12, N) / 4).astype(np.float32), True
    exact = clue(x, w, mask, phi_axis=1, tile_capacity=N, **PARAMS)
    need = int(np.max(exact.max_tile_points))
    assert need == N and (np.asarray(exact.max_tile_points)[1:] < need).all()
    _assert_matches(exact, clue_reference(x, w, mask, phi_axis=1, **PARAMS))  # exact with the fullest tile at capacity
    with pytest.raises(InputError, match=rf"tile_capacity={need - 1} points per tile.*found {need} points.*"
                                         rf"fix: pass tile_capacity>={need}"):
        clue(x, w, mask, phi_axis=1, tile_capacity=need - 1, **PARAMS)
    flagged = clue(x, w, mask, phi_axis=1, tile_capacity=need - 1, on_overflow="flag", **PARAMS)
    jitted = jax.jit(lambda *a: clue(*a, phi_axis=1, tile_capacity=need - 1, **PARAMS))(x, w, mask)
    for r in (flagged, jitted):  # event 0 only
        np.testing.assert_array_equal(r.overflow, np.asarray(exact.max_tile_points) > need - 1)
        np.testing.assert_array_equal(r.max_tile_points, exact.max_tile_points)


def test_too_many_tiles_is_flagged():
    x = np.array([[0.0], [1e9], [0.0], [0.0]], np.float32)  # two points 2e9 tiles of side 0.5 apart, two padding
    w, m = np.ones(4, np.float32), np.array([True, True, False, False])
    r = clue(x, w, m, on_overflow="flag", **LINE)
    assert bool(r.overflow) and int(r.max_tile_points) == 1
    with pytest.raises(InputError, match="span at most 2\\^30 tiles"):
        clue(x, w, m, **LINE)


def test_result_types(rng):
    x, w, mask = _events(rng, EVENTS, N, 2, spread=0.5, blobs=2, dyadic=True, phi_axis=1)
    r = clue(x, w, mask, phi_axis=1, tile_capacity=N, **PARAMS)
    assert isinstance(r, ClueResult)
    dtypes = [jnp.float32, jnp.float32, jnp.int32, jnp.bool_, jnp.int32, jnp.int32, jnp.bool_, jnp.int32]
    assert [f.dtype for f in r] == dtypes
    assert [f.shape for f in r] == [(EVENTS, N)] * 5 + [(EVENTS,)] * 3


@pytest.mark.parametrize("rhoc, deltao, wrap", [(0.0, 1.0, True), (1.0, 2.0, False), (2.5, 1.0, True)])
@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_property_lattice_matches_reference(rhoc, deltao, wrap, seed):
    """Points on a coarse lattice (many equal distances, equal densities, points at exactly dc).

    One compiled program per case: every seed's lattice runs in it. The cases take each threshold
    (0: every point is dense enough to seed), a low-density search distance below and above
    deltac, and the azimuth wrapped or not."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-4, 5, (24, 2)).astype(np.float32) * np.float32(0.5)
    w = (rng.integers(0, 6, 24) / 2).astype(np.float32)
    mask = rng.random(24) < 0.8
    kw = dict(dc=1.0, rhoc=rhoc, deltac=1.5, deltao=deltao, phi_axis=1 if wrap else None)
    _assert_matches(clue(x, w, mask, tile_capacity=24, **kw), clue_reference(x, w, mask, **kw))


def test_errors():
    x, w, m = np.zeros((1, 4, 2), np.float32), np.ones((1, 4), np.float32), np.ones((1, 4), bool)
    with pytest.raises(InputError, match=r"expected points of shape \[..., N, D\]; found shape \(4,\)"):
        clue(np.zeros(4, np.float32), w[0], m[0], dc=0.1, rhoc=1.0)
    with pytest.raises(InputError, match=r"expected weights of shape \(1, 4\).*found weights \(1, 3\)"):
        clue(x, w[:, :3], m, dc=0.1, rhoc=1.0)
    with pytest.raises(InputError, match="expected mask with dtype bool; found dtype int32; fix"):
        clue(x, w, m.astype(np.int32), dc=0.1, rhoc=1.0)
    with pytest.raises(InputError, match="expected float points and weights"):
        clue(x.astype(np.int32), w, m, dc=0.1, rhoc=1.0)
    with pytest.raises(InputError, match="expected dc to be a finite float > 0.*found dc=0.0"):
        clue(x, w, m, dc=0.0, rhoc=1.0)
    with pytest.raises(InputError, match="expected rhoc to be a finite float >= 0"):
        clue(x, w, m, dc=0.1, rhoc=-1.0)
    with pytest.raises(InputError, match="expected deltao to be a finite float > 0"):
        clue(x, w, m, dc=0.1, rhoc=1.0, deltao=float("inf"))
    with pytest.raises(InputError, match="expected phi_axis to be None or an int axis of the D = 2"):
        clue(x, w, m, dc=0.1, rhoc=1.0, phi_axis=2)
    with pytest.raises(InputError, match="expected tile_capacity to be a positive int"):
        clue(x, w, m, dc=0.1, rhoc=1.0, tile_capacity=0)
    with pytest.raises(InputError, match='expected on_overflow="raise" or on_overflow="flag"'):
        clue(x, w, m, dc=0.1, rhoc=1.0, on_overflow="ignore")
    with pytest.raises(InputError, match="expected dc to be a finite float > 0"):
        jax.jit(lambda d: clue(x, w, m, dc=d, rhoc=1.0))(0.1)  # a traced dc: not static
