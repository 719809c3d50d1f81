"""``e2ejax tag`` on bad inputs: one line naming the file / branch, exit 2, no traceback, nothing written."""

from __future__ import annotations

import numpy as np
import pytest
import uproot

from tests.reliability.conftest import (
    assert_one_line_error,
    call_main,
    egamma_events,
    listing,
    replace_field,
    run_cli,
    run_cli_many,
    write_tree,
)


def _missing(d):
    return d / "nope.root", ["nope.root", "no such file"]


def _directory(d):
    (d / "dir.root").mkdir()
    return d / "dir.root", ["dir.root", "found a directory"]


def _text(d):
    (d / "notes.root").write_text("event,energy\n1,2.0\n")
    return d / "notes.root", ["notes.root", "b'even'"]


def _truncated(d):
    full = write_tree(d / "full.root", egamma_events(40))
    data = full.read_bytes()
    (d / "cut.root").write_bytes(data[: len(data) // 2])
    full.unlink()
    return d / "cut.root", ["cut.root", "truncated"]


def _no_tree(d):
    # A file whose only tree holds no E2E branches (one that did would be read as the events).
    return write_tree(d / "other.root", {"event": np.arange(4, dtype=np.int64)}, tree="Meta"), [
        "other.root", "'Events'", "['Meta']", "none of them holds E2E branches"]


def _empty(d):
    return write_tree(d / "empty.root", egamma_events(0)), ["empty.root", "0 entries"]


def _missing_branch(d):
    ev = egamma_events()
    eb = ev.pop("eb")
    ev["eb"] = eb[["ieta", "iphi"]]
    ev["eb_x"] = eb[["energy"]]  # written as eb_x_energy
    return write_tree(d / "renamed.root", ev), ["renamed.root", "'eb_energy'", "closest"]


def _wrong_type(d):
    ev = replace_field(egamma_events(), "eb", "ieta", lambda v: v.astype(np.float64) + 0.5)
    return write_tree(d / "typed.root", ev), ["typed.root", "'eb_ieta'", "integer", "double"]


def _nan(d):
    ev = replace_field(egamma_events(), "eb", "energy", lambda v: np.where(np.arange(len(v)) == 50, np.nan, v))
    return write_tree(d / "nan.root", ev), ["nan.root", "'eb_energy'", "nan", "finite"]


def _inf(d):
    ev = replace_field(egamma_events(), "ee", "energy", lambda v: np.where(np.arange(len(v)) == 7, np.inf, v))
    return write_tree(d / "inf.root", ev), ["inf.root", "'ee_energy'", "inf", "entry 0"]


def _outside_grid(d):
    ev = replace_field(egamma_events(), "eb", "iphi", lambda v: np.where(np.arange(len(v)) == 3, 361, v).astype(np.int32))
    return write_tree(d / "grid.root", ev), ["grid.root", "'eb_iphi'", "361", "[1, 360]"]


def _ieta_zero(d):
    ev = replace_field(egamma_events(), "eb", "ieta", lambda v: np.where(np.arange(len(v)) == 3, 0, v).astype(np.int32))
    return write_tree(d / "zero.root", ev), ["zero.root", "'eb_ieta'", "without 0"]


BAD_INPUTS = {
    "missing file": _missing, "directory": _directory, "text file named .root": _text, "truncated": _truncated,
    "no tree": _no_tree, "empty tree": _empty, "missing branch": _missing_branch, "wrong branch type": _wrong_type,
    "NaN energy": _nan, "inf energy": _inf, "index outside the grid": _outside_grid, "ieta 0": _ieta_zero,
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_tag_bad_input(case, tmp_path, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()  # a missing output directory is refused before the input is read
    path, names = BAD_INPUTS[case](tmp_path / "in")
    before = listing(tmp_path / "in")
    proc = call_main(capsys, "tag", path, "-o", tmp_path / "out" / "scores.root", "--model", "egamma", "-q")
    assert proc.returncode == 2
    assert_one_line_error(proc, "tag", *names)
    assert listing(tmp_path / "out") == [] and listing(tmp_path / "in") == before


CHILD_CASES = ("missing file", "text file named .root", "truncated", "empty tree", "missing branch", "NaN energy")


def test_tag_bad_inputs_in_child_processes(tmp_path, jax_cache):
    """The same contract for a real ``python -m e2ejax tag`` process: exit 2, one line, no traceback."""
    jobs, expected = {}, {}
    for case in CHILD_CASES:
        root = tmp_path / case.replace(" ", "_")
        (root / "in").mkdir(parents=True)
        (root / "out").mkdir()
        path, names = BAD_INPUTS[case](root / "in")
        jobs[case] = (("tag", path, "-o", root / "out" / "scores.root", "--model", "egamma", "-q"), root)
        expected[case] = (root, names, listing(root / "in"))
    for case, proc in run_cli_many(jobs, cache=jax_cache).items():
        root, names, before = expected[case]
        assert proc.returncode == 2, case
        assert_one_line_error(proc, "tag", *names)
        assert listing(root / "out") == [] and listing(root / "in") == before, case


def test_tag_refuses_to_overwrite_its_input(egamma_file, capsys):
    data = egamma_file.read_bytes()
    proc = call_main(capsys, "tag", egamma_file, "-o", egamma_file, "--model", "egamma", "-q")
    assert_one_line_error(proc, "tag", "eg.root", "other than the input")
    assert egamma_file.read_bytes() == data and listing(egamma_file.parent) == ["eg.root"]


def test_tag_unknown_model(egamma_file, tmp_path, capsys):
    proc = call_main(capsys, "tag", egamma_file, "-o", tmp_path / "o.root", "--model", "higgs", "-q")
    assert_one_line_error(proc, "tag", "'higgs'", "egamma")
    assert not (tmp_path / "o.root").exists()


def test_tag_good_file_exit_zero_output_aligned(egamma_file, tmp_path, jax_cache):
    out = tmp_path / "out" / "scores.root"
    out.parent.mkdir()
    proc = run_cli("tag", egamma_file, "-o", out, "--model", "egamma", "-q", cwd=tmp_path, cache=jax_cache)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert "12 events, 24 seeds" in proc.stdout and str(out) in proc.stdout
    assert listing(out.parent) == ["scores.root"]
    pred = uproot.open(out)["Predictions"].arrays(library="np")
    np.testing.assert_array_equal(pred["event"], uproot.open(egamma_file)["Events"]["event"].array(library="np"))
    assert [len(s) for s in pred["eg_egamma"]] == [2] * 12
    assert all((np.isfinite(s) & (s >= 0) & (s <= 1)).all() for s in pred["eg_egamma"])
