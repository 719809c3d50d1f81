"""Fixtures of the many-file tests: small jet files of the qg sample, a tiny qg checkpoint, the plain
single-file outputs to compare with, and one real Dask LocalCluster of two worker processes."""

from __future__ import annotations

import pytest
import uproot

from e2ejax.inference import Tagger, tag_files
from tests.io.conftest import make_events
from tests.reliability.conftest import write_tree
from tests.test_tag_outputs import checkpoint, with_provenance

#: events of each small file: three 256-entry chunks, the last one short
EVENTS = 600


def jet_files(directory, n: int, *, events: int = EVENTS) -> list[str]:
    """``n`` files of ``events`` random events (two jets each), recorded as the qg sample."""
    directory.mkdir(exist_ok=True)
    return [str(with_provenance(write_tree(directory / f"jets{i}.root", make_events(events, seed=10 + i, counts={"jet": 2})), "qg"))
            for i in range(n)]


def friend_arrays(path) -> dict:
    """Every branch of a prediction file, as lists."""
    with uproot.open(str(path)) as f:
        tree = f["Predictions"]
        return {k: tree[k].array(library="ak").to_list() for k in tree.keys()}


@pytest.fixture(scope="session")
def qg_checkpoint(tmp_path_factory):
    return str(checkpoint(tmp_path_factory.mktemp("ckpt") / "checkpoints", task="qg", output="runs/tiny_qg", seed=3))


@pytest.fixture(scope="session")
def files(tmp_path_factory):
    return jet_files(tmp_path_factory.mktemp("inputs"), 3)


@pytest.fixture(scope="session")
def plain_outputs(files, qg_checkpoint, tmp_path_factory):
    """Each file tagged alone by :func:`e2ejax.inference.tag_files` (the single-file path of ``e2ejax tag``)."""
    out = tmp_path_factory.mktemp("plain")
    tagger = {"tiny_qg": Tagger.from_pretrained(qg_checkpoint)}
    paths = {}
    for f in files:
        paths[f] = out / f"{f.rsplit('/', 1)[1][:-5]}_scores.root"
        tag_files(tagger, f, str(paths[f]), progress=False)
    return paths


@pytest.fixture(scope="module")
def client():
    from e2ejax.cluster import dask_client

    with dask_client(workers=2, quiet=True) as c:
        yield c
