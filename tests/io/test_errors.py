"""Bad input gives one InputError saying what was expected, what was found and how to fix it."""

from __future__ import annotations


import awkward as ak
import numpy as np
import pytest
import uproot

from e2ejax.errors import InputError
from e2ejax.io import iterate_events

from .conftest import write_sparse


def _read(path, **kw):
    return list(iterate_events(path, **kw))


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="expected a ROOT file at .*nope.root.*found no such file"):
        _read(str(tmp_path / "nope.root"))
    with pytest.raises(InputError, match="found no file; check the pattern"):
        _read(str(tmp_path / "*.root"))


def test_not_root(tmp_path):
    path = tmp_path / "events.root"
    path.write_text("event,energy\n1,2.0\n")
    with pytest.raises(InputError, match=r"expected a ROOT file \(starting with b'root'\).*b'even'"):
        _read(str(path))


def test_truncated(sparse_file, tmp_path):
    path, _ = sparse_file
    data = open(path, "rb").read()
    cut = tmp_path / "cut.root"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated"):
        _read(str(cut))


def test_corrupt_baskets(tmp_path):
    path = str(tmp_path / "big.root")
    write_sparse(path, 200, seed=3)
    data = open(path, "rb").read()
    # the middle of a compressed basket (random floats are stored uncompressed: zeros there read as values)
    branch = uproot.open(path)["Events"]["eb_ieta"]
    seek, size = int(branch.member("fBasketSeek")[0]), int(branch.member("fBasketBytes")[0])
    start = seek + size // 2
    bad = tmp_path / "bad.root"
    bad.write_bytes(data[:start] + bytes(200) + data[start + 200:])
    with pytest.raises(InputError, match="expected readable baskets in .*bad.root.*corrupt"):
        _read(str(bad))


def test_missing_tree_lists_trees(sparse_file):
    path, _ = sparse_file
    with pytest.raises(InputError, match=r"expected a tree 'Event' .*found trees \['Events'\].*did you mean"):
        _read(f"{path}:Event")


def test_missing_branch_lists_closest(tmp_path):
    path = str(tmp_path / "renamed.root")
    with uproot.recreate(path) as f:
        f.mktree("Events", {"event": np.int64, "eb": ak.Array([[{"ieta": np.int32(1)}]]).type.content,
                            "eb_iphi": ak.Array([[np.int32(1)]]).type.content,
                            "eb_energies": ak.Array([[np.float32(1)]]).type.content})
        f["Events"].extend({"event": np.array([1]), "eb": ak.zip({"ieta": ak.Array([[np.int32(3)]])}),
                            "eb_iphi": ak.Array([[np.int32(1)]]), "eb_energies": ak.Array([[np.float32(2)]])})
    with pytest.raises(InputError, match=r"expected branches 'eb_energy' \(closest: \['eb_energies'"):
        _read(path, groups=("eb",))


def test_wrong_branch_type(tmp_path):
    path = str(tmp_path / "typed.root")
    events = {"event": np.array([1]), "eb": ak.zip({"ieta": ak.Array([[1.5]]), "iphi": ak.Array([[np.int32(1)]]),
                                                    "energy": ak.Array([[np.float32(2)]])})}
    with uproot.recreate(path) as f:
        f.mktree("Events", {"event": np.int64, "eb": events["eb"].type.content})
        f["Events"].extend(events)
    with pytest.raises(InputError, match="expected integer values in branch 'eb_ieta'.*found type 'double"):
        _read(path)


def test_empty_file(tmp_path):
    path = str(tmp_path / "empty.root")
    with uproot.recreate(path) as f:
        f.mktree("Events", {"event": np.int64})
    with pytest.raises(InputError, match="expected events in tree 'Events'.*found 0 entries"):
        _read(path)


def test_not_an_e2e_tree(tmp_path):
    path = str(tmp_path / "other.root")
    with uproot.recreate(path) as f:
        f.mktree("Events", {"x": np.float32})
        f["Events"].extend({"x": np.ones(2, np.float32)})
    with pytest.raises(InputError, match="expected an E2E tree"):
        _read(path)


def test_bad_file_late_in_the_list_fails_before_the_first_batch(sparse_file, tmp_path):
    path, _ = sparse_file
    bad = tmp_path / "late.root"
    bad.write_bytes(b"\x89HDF\r\n")
    batches = iterate_events([path, str(bad)])
    with pytest.raises(InputError, match="late.root"):
        next(batches)
