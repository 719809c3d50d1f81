"""Background mass sculpting: e2ejax.metrics.jensen_shannon / mass_sculpting and ``e2ejax plot mass``."""

import math
import re
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from e2ejax import plotting
from e2ejax.cli import main
from e2ejax.errors import InputError
from e2ejax.metrics import MASS_BINS, MassSculpting, jensen_shannon, mass_sculpting

REPO = Path(__file__).resolve().parent.parent
SIM_TOP = REPO / "e2ejax" / "data" / "sim_top.root"


def jsd_loop(p, q):
    """The definition, bin by bin: JSD = (KL(P||M) + KL(Q||M)) / 2 in bits, M = (P + Q) / 2, 0 log 0 = 0."""
    p = [float(x) / sum(p) for x in p]
    q = [float(x) / sum(q) for x in q]
    total = 0.0
    for a, b in zip(p, q):
        m = (a + b) / 2
        if a > 0:
            total += 0.5 * a * math.log2(a / m)
        if b > 0:
            total += 0.5 * b * math.log2(b / m)
    return total


# -- jensen_shannon ------------------------------------------------------------------------


@pytest.mark.parametrize("case", range(6))
def test_jensen_shannon_matches_the_definition(case):
    rng = np.random.default_rng(case)
    k = int(rng.integers(2, 40))
    p = rng.poisson(rng.uniform(0.3, 20), k).astype(float)
    q = rng.exponential(5.0, k) * (rng.random(k) > 0.3)  # empty bins in both
    p[0], q[-1] = 1.0, 1.0  # at least one entry each
    got = jensen_shannon(p, q)
    assert isinstance(got, float) and 0.0 <= got <= 1.0
    assert got == pytest.approx(jsd_loop(p, q), rel=1e-12, abs=1e-15)
    assert jensen_shannon(q, p) == pytest.approx(got, rel=1e-12, abs=1e-15)


def test_jensen_shannon_zero_for_identical_one_for_disjoint():
    h = np.array([0.0, 3.0, 1.0, 0.0, 7.0])
    assert jensen_shannon(h, h) == 0.0
    assert jensen_shannon(h, 5 * h) == pytest.approx(0.0, abs=1e-15)  # shapes only
    assert jensen_shannon([1, 2, 0, 0], [0, 0, 4, 1]) == 1.0
    assert jensen_shannon([1, 1], [1, 0]) == pytest.approx(jsd_loop([1, 1], [1, 0]))
    assert jensen_shannon(np.array([2, 5], np.int64), [2.0, 5.0]) == 0.0  # integer counts


@pytest.mark.parametrize("p, q, match", [
    ([1.0, -1.0, 2.0], [1.0, 1.0, 1.0], "non-negative counts in p"),
    ([1.0, 1.0, 1.0], [1.0, np.nan, 1.0], "finite q"),
    ([1.0, np.inf], [1.0, 1.0], "finite p"),
    ([1.0, 2.0], [1.0, 2.0, 3.0], "same length"),
    ([0.0, 0.0], [1.0, 2.0], "all 2 bins zero"),
    ([1.0, 2.0], [0, 0], "histogram q with at least one non-zero bin"),
    ([], [], "at least one entry"),
    ([[1.0, 2.0]], [[1.0, 2.0]], "shape \\[N\\]"),
])
def test_jensen_shannon_bad_input(p, q, match):
    with pytest.raises(InputError, match=match):
        jensen_shannon(p, q)


# -- mass_sculpting ------------------------------------------------------------------------


def sample(n_bkg=20000, n_sig=5001, seed=1):
    """Falling QCD-like background mass, a top-like signal peak; labels shuffled."""
    rng = np.random.default_rng(seed)
    m_bkg = 20.0 + rng.exponential(60.0, n_bkg)
    m_sig = rng.normal(172.5, 20.0, n_sig)
    labels = np.r_[np.zeros(n_bkg, np.int64), np.ones(n_sig, np.int64)]
    mass = np.r_[m_bkg, m_sig]
    order = rng.permutation(labels.size)
    return labels[order], mass[order], rng


def test_a_score_equal_to_the_mass_sculpts():
    labels, mass, _ = sample()
    r = mass_sculpting(labels, mass, mass)
    assert isinstance(r, MassSculpting)
    assert np.array_equal(r.edges, MASS_BINS) and r.edges.size == 31 and r.edges[-1] == 300.0
    # the cut keeps only heavy background: its shape is the tail above the threshold
    thr = r.threshold
    assert 165.0 < thr < 180.0
    assert np.all(r.background_after[r.edges[1:] <= thr] == 0)
    assert r.jsd > 0.5 and r.jsd > r.jsd_random + 20 * r.jsd_random_std
    assert r.jsd == pytest.approx(jsd_loop(r.background_before, r.background_after), rel=1e-12)


def test_a_score_independent_of_the_mass_sits_at_the_random_floor():
    labels, mass, rng = sample()
    score = labels + rng.normal(0.0, 1.0, labels.size)  # separates, but knows nothing of the mass
    r = mass_sculpting(labels, score, mass)
    assert 0.1 < r.background_efficiency < 0.4
    assert 0 < r.jsd_random < 0.01 and r.jsd_random_std > 0
    assert abs(r.jsd - r.jsd_random) < 4 * r.jsd_random_std
    sculpting = mass_sculpting(labels, mass, mass)
    assert r.jsd < 0.05 * sculpting.jsd


@pytest.mark.parametrize("n_sig, eff", [(5001, 0.5), (5000, 0.5), (777, 0.3), (40, 1.0)])
def test_threshold_gives_the_signal_efficiency_within_one_event(n_sig, eff):
    labels, mass, rng = sample(n_bkg=3000, n_sig=n_sig, seed=n_sig)
    score = rng.random(labels.size) + 0.5 * labels
    r = mass_sculpting(labels, score, mass, signal_efficiency=eff)
    passed = score >= r.threshold
    n_pass = int(passed[labels == 1].sum())
    assert n_pass == math.ceil(eff * n_sig)  # no ties: the fewest that reach eff
    assert abs(n_pass - eff * n_sig) <= 1
    assert r.signal_efficiency == n_pass / n_sig
    assert r.threshold in score[labels == 1]
    bkg = labels == 0
    assert r.background_efficiency == passed[bkg].mean()
    assert np.array_equal(r.background_before, np.histogram(mass[bkg], MASS_BINS)[0])
    assert np.array_equal(r.background_after, np.histogram(mass[bkg & passed], MASS_BINS)[0])


def test_weights_bins_and_seed():
    labels, mass, rng = sample(n_bkg=4000, n_sig=1000)
    score = rng.random(labels.size) + 0.3 * labels
    plain = mass_sculpting(labels, score, mass, seed=3)
    doubled = mass_sculpting(labels, score, mass, weights=np.full(labels.size, 2.0), seed=3)
    assert doubled.threshold == plain.threshold and doubled.jsd == pytest.approx(plain.jsd, rel=1e-12)
    assert np.allclose(doubled.background_before, 2 * plain.background_before)
    # zero weights drop entries: the same as leaving them out
    w = (rng.random(labels.size) > 0.2).astype(float)
    keep = w > 0
    a = mass_sculpting(labels, score, mass, weights=w, bins=[0, 50, 100, 200, 400])
    b = mass_sculpting(labels[keep], score[keep], mass[keep], bins=[0, 50, 100, 200, 400])
    assert a.threshold == b.threshold and a.jsd == b.jsd and a.background_efficiency == b.background_efficiency
    assert a.edges.tolist() == [0, 50, 100, 200, 400]
    # a weighted signal: the threshold reaches half the signal weight
    ws = np.where(labels == 1, rng.uniform(0.5, 3.0, labels.size), 1.0)
    r = mass_sculpting(labels, score, mass, weights=ws)
    sig = labels == 1
    passed = sig & (score >= r.threshold)
    assert ws[passed].sum() / ws[sig].sum() >= 0.5
    assert (ws[passed].sum() - ws[sig & (score == r.threshold)].sum()) / ws[sig].sum() < 0.5
    # the floor: equal seeds equal, other seeds differ a little
    assert mass_sculpting(labels, score, mass, seed=3).jsd_random == plain.jsd_random
    other = mass_sculpting(labels, score, mass, seed=4).jsd_random
    assert other != plain.jsd_random and other == pytest.approx(plain.jsd_random, rel=0.5)


def test_no_background_passing_gives_nan():
    r = mass_sculpting([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], [50.0, 60.0, 170.0, 175.0])
    assert r.background_efficiency == 0.0 and math.isnan(r.jsd) and math.isnan(r.jsd_random)


@pytest.mark.parametrize("kwargs, match", [
    (dict(mass=[50.0, 60.0, 170.0]), "same length"),
    (dict(mass=[50.0, np.nan, 170.0, 175.0]), "finite mass"),
    (dict(signal_efficiency=0.0), "signal_efficiency in \\(0, 1\\]"),
    (dict(signal_efficiency=1.5), "signal_efficiency in \\(0, 1\\]"),
    (dict(bins=[0.0, 100.0, 50.0]), "increasing edges"),
    (dict(bins=[500.0, 600.0]), "background \\(label 0\\) entries inside the mass bins"),
    (dict(n_random=1), "n_random of at least 2"),
    (dict(labels=[1, 1, 1, 1]), "both classes"),
    (dict(labels=[0, 2, 1, 1]), "binary labels"),
    (dict(scores=[0.1, np.inf, 0.8, 0.9]), "finite scores"),
    (dict(weights=[1.0, -1.0, 1.0, 1.0]), "non-negative weights"),
])
def test_mass_sculpting_bad_input(kwargs, match):
    args = dict(labels=[0, 0, 1, 1], scores=[0.1, 0.85, 0.8, 0.9], mass=[50.0, 60.0, 170.0, 175.0])
    args.update(kwargs)
    with pytest.raises(InputError, match=match):
        mass_sculpting(args.pop("labels"), args.pop("scores"), args.pop("mass"), **args)


def test_mass_figure_draws_the_normalised_shapes():
    labels, mass, _ = sample(n_bkg=3000, n_sig=1000)
    results = {"mass": mass_sculpting(labels, mass, mass), "-mass": mass_sculpting(labels, -mass, mass)}
    signal = np.histogram(mass[labels == 1], MASS_BINS)[0]
    fig = plotting.mass_figure(results, signal=signal, classes=("QCD", "top"))
    ax = fig.axes[0]
    drawn = [p.get_data().values for p in ax.patches]
    before = results["mass"].background_before
    expected = [before / before.sum(), signal / signal.sum()] + [r.background_after / r.background_after.sum()
                                                                 for r in results.values()]
    assert len(drawn) == 4 and all(np.allclose(d, e) for d, e in zip(drawn, expected))
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[0] == "QCD, before the cut" and texts[1] == "Top, before the cut"
    assert f"JSD = {results['mass'].jsd:.3f}" in texts[2] and f"{results['-mass'].background_efficiency:.3g}" in texts[3]
    assert ax.get_legend().get_title().get_text() == "QCD after the cut at top efficiency 50%"
    with pytest.raises(InputError, match="at least one"):
        plotting.mass_figure({})


# -- e2ejax plot mass ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tagged(tmp_path_factory):
    """The top model's friend file of the first 100 events of sim_top.root, and those 100 events' jets."""
    from e2ejax.io import iterate_events, write_events

    tmp = tmp_path_factory.mktemp("tmp")
    scores = tmp / "scores.root"
    assert main(["tag", str(SIM_TOP), "--model", "top", "-o", str(scores), "--max-events", "100", "-q"]) == 0
    first = tmp / "sim_top_100.root"  # the tagged entries: a friend aligns with its input entry by entry
    write_events(str(first), iterate_events(str(SIM_TOP), groups=("jet",), max_events=100))
    return scores, first


def reference(scores_path, input_path):
    """Labels, top scores and jet masses by an entry/slot loop over uproot's arrays."""
    friend = uproot.open(scores_path)["Predictions"].arrays(["jet_valid", "jet_top"])
    truth = uproot.open(input_path)["Events"].arrays(["jet_label", "jet_mass"])
    labels, scores, mass = [], [], []
    for e in range(len(friend)):
        for s in range(len(friend["jet_valid"][e])):
            if friend["jet_valid"][e][s] and truth["jet_label"][e][s] >= 0:
                labels.append(int(truth["jet_label"][e][s]))
                scores.append(float(friend["jet_top"][e][s]))
                mass.append(float(truth["jet_mass"][e][s]))
    return np.array(labels), np.array(scores), np.array(mass)


def test_cli_plot_mass_writes_png_and_prints_jsd(tagged, tmp_path, capsys):
    scores, first = tagged
    labels, score, mass = reference(scores, first)
    inputs = plotting.load_roc_inputs([str(scores)], str(first))
    from e2ejax.plotting.mass import input_jet_mass

    assert np.array_equal(input_jet_mass(str(first), inputs.entry, inputs.slot), mass)
    out = tmp_path / "mass.png"
    capsys.readouterr()
    rc = main(["plot", "mass", str(scores), "--input", str(first), "--score", "top", "--task", "top",
               "--signal-efficiency", "0.9", "-o", str(out), "--dpi", "30", "--size", "8x6"])
    text = capsys.readouterr().out
    assert rc == 0 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p.name for p in tmp_path.iterdir() if p.name != "mass.png"]  # no temporary left behind
    want = mass_sculpting(labels, score, mass, signal_efficiency=0.9)
    line = re.search(r"^top: JSD ([0-9.]+) \(random selection ([0-9.]+) \+- [0-9.]+\), QCD efficiency ([0-9.]+), "
                     r"top efficiency ([0-9.]+)", text, re.MULTILINE)
    assert line, text
    assert line.group(1) == f"{want.jsd:.4f}" and line.group(2) == f"{want.jsd_random:.4f}"
    assert line.group(3) == f"{want.background_efficiency:.4f}" and line.group(4) == f"{want.signal_efficiency:.4f}"
    assert f"{int((labels == 1).sum())} top and {int((labels == 0).sum())} QCD jets" in text
    # the default cut (50% signal efficiency) keeps no QCD jet of this small sample: said so, figure still written
    out50 = tmp_path / "mass50.png"
    assert main(["plot", "mass", str(scores), "--input", str(first), "-o", str(out50), "--dpi", "20"]) == 0
    assert "top: JSD n/a" in capsys.readouterr().out and out50.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("extra, match", [
    (["--score", "nope"], "--score: expected names among \\['top'\\]"),
    (["--signal-efficiency", "0"], "--signal-efficiency: expected a fraction in \\(0, 1\\]"),
    (["--range", "300,0"], "--range: expected finite LO < HI"),
    (["--range", "abc"], "--range: expected LO,HI"),
    (["--bins", "0"], "--bins: expected a positive number"),
    (["--full-input"], "align with .* entry by entry .*pass with --input the file that was tagged"),
    (["-o", "mass.txt"], "image format"),
])
def test_cli_plot_mass_bad_input(tagged, tmp_path, capsys, extra, match):
    scores, first = tagged
    given = str(SIM_TOP) if "--full-input" in extra else str(first)
    extra = [e for e in extra if e != "--full-input"]
    out = tmp_path / "mass.png"
    capsys.readouterr()
    rc = main(["plot", "mass", str(scores), "--input", given, "-o", str(out), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and re.search(match, err[0]), err
    assert not out.exists() and not list(tmp_path.iterdir())


def test_cli_plot_mass_needs_jet_scores(tmp_path, capsys):
    from e2ejax.io import PredictionWriter

    truth = tmp_path / "eg.root"
    with uproot.recreate(truth) as f:
        eg = ak.zip({"label": ak.values_astype(ak.Array([[0, 1]]), np.int32), "pt": ak.values_astype(ak.Array([[1.0, 2.0]]), np.float32)})
        f.mktree("Events", {"event": np.int64, "eg": eg.type.content}).extend({"event": np.array([7]), "eg": eg})
    with PredictionWriter(tmp_path / "eg_scores.root", group="eg", n_entries=1) as w:
        w.write({"m": np.array([[0.1, 0.9]], np.float32)}, mask=np.ones((1, 2), bool), event=np.array([7]), entry_start=0)
    rc = main(["plot", "mass", str(tmp_path / "eg_scores.root"), "--input", str(truth), "-o", str(tmp_path / "m.png")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "expected jet scores" in err[0]
