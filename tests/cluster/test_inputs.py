"""Inputs of a many-file run: globs, list files, URLs, duplicates, output names, chunk plans."""

import os

import pytest

from e2ejax.cluster import WorkItem, expand_inputs, output_names, plan_chunks
from e2ejax.errors import InputError


def test_globs_list_files_and_urls(tmp_path):
    for name in ("b.root", "a.root", "c.root"):
        (tmp_path / name).write_bytes(b"")
    listing = tmp_path / "files.txt"
    listing.write_text("# inputs\nc.root\n\nroot://eos.cms//store/x.root  # remote\n")
    found = expand_inputs([str(tmp_path / "[ab].root"), str(listing), "d.root:Other"])
    # a glob in sorted order; a list's relative paths are relative to the list; URLs unchanged; paths absolute
    assert found == [str(tmp_path / "a.root"), str(tmp_path / "b.root"), str(tmp_path / "c.root"),
                     "root://eos.cms//store/x.root", os.path.abspath("d.root:Other")]
    assert expand_inputs(str(tmp_path / "a.root")) == [str(tmp_path / "a.root")]  # one input as a string


def test_an_input_given_twice_is_refused(tmp_path):
    (tmp_path / "a.root").write_bytes(b"")
    with pytest.raises(InputError, match="expected each input once"):
        expand_inputs([str(tmp_path / "a.root"), str(tmp_path / "*.root")])


def test_empty_glob_and_empty_list_are_refused(tmp_path):
    with pytest.raises(InputError, match="found no file"):
        expand_inputs([str(tmp_path / "*.root")])
    (tmp_path / "none.txt").write_text("# nothing\n")
    with pytest.raises(InputError, match="at least one input listed"):
        expand_inputs([str(tmp_path / "none.txt")])


def test_output_names_are_unique_and_stable():
    inputs = ["a/x.root", "b/x.root", "y.root:Events", "root://host//store/z.root?svc=1"]
    names = output_names(inputs, "out")
    assert len(set(names.values())) == 4
    assert names["y.root:Events"] == "out/y_scores.root" and names["root://host//store/z.root?svc=1"] == "out/z_scores.root"
    assert names == output_names(list(reversed(inputs)), "out")  # the same name whatever the order


def test_chunks_cover_the_range_once_on_read_boundaries():
    items = plan_chunks("f.root", 1000, chunk_events=300, read_events=256, entry_start=100, entry_stop=900)
    assert items == [WorkItem("f.root", 100, 612), WorkItem("f.root", 612, 900)]
    covered = [e for i in items for e in range(i.entry_start, i.entry_stop)]
    assert covered == list(range(100, 900))
    with pytest.raises(InputError, match="found none"):
        plan_chunks("f.root", 50, entry_start=60)
