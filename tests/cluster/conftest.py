"""Fixtures of the many-file tests: small jet files of the qg sample, a tiny qg checkpoint, the plain
single-file outputs to compare with, one directory run in this process, and one real Dask
LocalCluster of two worker processes shared by the tests that do not kill a worker.

Everything here is session-scoped and computed once: the tests of tests/cluster that use it are
all in the ``cluster`` xdist group, so they run on one pytest-xdist worker."""

from __future__ import annotations

import pytest
import uproot

from e2ejax.inference import Tagger, tag_files
from tests.io.conftest import make_events
from tests.reliability.conftest import write_tree
from tests.test_tag_outputs import checkpoint, with_provenance

#: events of each file of ``files``: three 256-entry chunks, the last one short
EVENTS = 600
#: events of each file of ``small_files``: one chunk (a full batch of 64 and a short one, the
#: batch shapes of the last chunk of an EVENTS file, so nothing new is compiled for them)
SMALL_EVENTS = 88
#: events of ``big_file``: thirteen chunks, long enough to stop a run while it is in flight; the last
#: chunk has SMALL_EVENTS entries (batch shapes compiled already)
BIG_EVENTS = 12 * 256 + SMALL_EVENTS


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
    """Two files of three chunks each: the runs that must equal the single-file outputs chunk by chunk."""
    return jet_files(tmp_path_factory.mktemp("inputs"), 2)


@pytest.fixture(scope="session")
def small_files(tmp_path_factory):
    """Three one-chunk files: the runs that test bookkeeping (resume, failures), not chunking."""
    return jet_files(tmp_path_factory.mktemp("small"), 3, events=SMALL_EVENTS)


@pytest.fixture(scope="session")
def big_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("big") / "big.root"
    return str(with_provenance(write_tree(path, make_events(BIG_EVENTS, seed=20, counts={"jet": 2})), "qg"))


@pytest.fixture(scope="session")
def plain_outputs(files, qg_checkpoint, tmp_path_factory):
    """Each file tagged alone by :func:`e2ejax.inference.tag_files` (the single-file path of ``e2ejax tag``).

    The first load of ``qg_checkpoint`` also writes its ONNX export beside it, which the copies
    of the checkpoint made after this fixture carry along."""
    out = tmp_path_factory.mktemp("plain")
    tagger = {"tiny_qg": Tagger.from_pretrained(qg_checkpoint)}
    paths = {}
    for f in files:
        paths[f] = out / f"{f.rsplit('/', 1)[1][:-5]}_scores.root"
        tag_files(tagger, f, str(paths[f]), progress=False)
    return paths


@pytest.fixture(scope="session")
def directory_run(files, qg_checkpoint, plain_outputs, tmp_path_factory):
    """``files`` tagged into one directory in this process (``e2ejax tag FILES -o DIR``): ``(manifest, outdir)``.
    Read only: the directory test checks it, the Dask test compares its run summary."""
    from e2ejax import cluster

    out = tmp_path_factory.mktemp("directory") / "out"
    return cluster.tag(None, files, qg_checkpoint, out, chunk_events=256, progress=False), out


@pytest.fixture(scope="session")
def child_cache(tmp_path_factory):
    """The compilation cache of the child processes the tests stop, shared by them and apart from
    the run's own (a child killed while it writes an entry leaves it truncated)."""
    return tmp_path_factory.mktemp("child_jit")


@pytest.fixture(scope="session")
def client():
    """One LocalCluster of two worker processes for every test that leaves its workers alive
    (a test that kills a worker starts its own: see test_dask.py)."""
    from e2ejax.cluster import dask_client

    with dask_client(workers=2, quiet=True) as c:
        yield c
