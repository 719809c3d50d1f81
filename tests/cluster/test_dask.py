"""Many files on a real Dask LocalCluster of two worker processes: the scores of the single-process
run bit for bit, a worker killed in the middle of a chunk, a bad file among good ones, and the
simulation over the cluster.

The tests share one cluster (the ``client`` fixture), except the one that kills a worker, which
starts its own so that no other test runs on a cluster that lost a worker."""

import os
import signal
import threading
import time

import awkward as ak
import pytest
import uproot

from e2ejax import cluster
from e2ejax.cluster import sha256_file
from e2ejax.sim import run as sim_run
from tests.cluster.conftest import EVENTS, friend_arrays

pytestmark = pytest.mark.xdist_group("cluster")


def _same_outputs(manifest, plain_outputs):
    for f, reference in plain_outputs.items():
        entry = manifest["files"][f]
        assert entry["status"] == "done" and sha256_file(entry["output"]) == entry["sha256"]
        assert friend_arrays(entry["output"]) == friend_arrays(reference), f


def test_cluster_scores_equal_the_single_process_run(client, files, qg_checkpoint, plain_outputs, directory_run, tmp_path):
    manifest = cluster.tag(client, files, qg_checkpoint, tmp_path / "out", chunk_events=256, progress=False)
    assert manifest["run"]["tagged"] == files
    _same_outputs(manifest, plain_outputs)
    here, _ = directory_run  # the same files tagged in this process
    assert here["run"]["summary"] == manifest["run"]["summary"]  # the AUCs over all files too


def _worker_holding_a_chunk(client, timeout=120):
    """The address of a worker while it runs a ``tag_chunk`` task."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        for address, keys in client.processing().items():
            if any(str(k).startswith("tag_chunk") for k in keys):
                return address
        time.sleep(0.01)
    raise AssertionError("no worker ran a chunk in time")


@pytest.fixture
def own_client():
    """A LocalCluster of two worker processes for one test alone (one that kills a worker)."""
    from e2ejax.cluster import dask_client

    with dask_client(workers=2, quiet=True) as c:
        yield c


def test_a_worker_killed_while_it_holds_a_chunk(own_client, files, qg_checkpoint, plain_outputs, tmp_path):
    client = own_client
    pids = client.run(os.getpid)
    result = {}
    run = threading.Thread(target=lambda: result.update(cluster.tag(client, files[:1], qg_checkpoint, tmp_path / "out",
                                                                    chunk_events=256, progress=False)))
    run.start()
    victim = _worker_holding_a_chunk(client)
    os.kill(pids[victim], signal.SIGKILL)
    run.join(timeout=300)
    assert not run.is_alive() and result["run"]["failed"] == {}
    assert victim not in client.scheduler_info()["workers"]  # that worker is gone (its nanny starts another)
    _same_outputs(result, {files[0]: plain_outputs[files[0]]})  # complete and aligned: no entry missing or twice


def test_a_bad_file_among_good_ones_on_the_cluster(client, small_files, qg_checkpoint, tmp_path):
    files = small_files
    bad = tmp_path / "truncated.root"
    bad.write_bytes(open(files[0], "rb").read()[:5000])
    manifest = cluster.tag(client, [files[0], str(bad), files[1]], qg_checkpoint, tmp_path / "out", chunk_events=256,
                           progress=False)
    assert manifest["run"]["tagged"] == [files[0], files[1]] and list(manifest["run"]["failed"]) == [str(bad)]
    assert manifest["files"][str(bad)]["status"] == "failed" and "truncated" in manifest["files"][str(bad)]["error"]
    assert not os.path.exists(manifest["files"][str(bad)]["output"])


def test_simulate_on_the_cluster_equals_the_single_process_file(client, tmp_path, monkeypatch):
    monkeypatch.setattr(sim_run, "CHUNK_EVENTS", 2)  # three chunks for the two workers
    sim_run.simulate("tau", events=5, seed=4, output=str(tmp_path / "here.root"), progress=False)
    sim_run.simulate("tau", events=5, seed=4, output=str(tmp_path / "there.root"), progress=False,
                     executor=client.get_executor(pure=False))
    with uproot.open(tmp_path / "here.root") as a, uproot.open(tmp_path / "there.root") as b:
        x, y = a["Events"].arrays(), b["Events"].arrays()
        assert x.fields == y.fields and all(ak.array_equal(x[k], y[k]) for k in x.fields)


def test_the_worker_functions_in_a_users_own_graph(client, files, qg_checkpoint, plain_outputs, tmp_path):
    """``client.map(tag_chunk, ...)`` over planned chunks: the records a user writes with PredictionWriter."""
    from e2ejax.io import PredictionWriter

    entries = client.gather(client.map(cluster.file_entries, files, tasks_used=["qg"]))
    assert entries == [EVENTS] * len(files)
    items = cluster.plan_chunks(files[0], entries[0], chunk_events=256)  # the chunks of the first file, in entry order
    assert len(items) == 3
    results = client.gather(client.map(cluster.tag_chunk, items, models=[("tiny_qg", qg_checkpoint)]))
    out = tmp_path / "mine.root"
    with PredictionWriter(out, group="jet", n_entries=entries[0]) as writer:
        for r in results:
            for start, event, mask, scores in r["records"]:
                writer.write(scores, mask=mask, event=event, entry_start=start)
    assert friend_arrays(out) == friend_arrays(plain_outputs[files[0]])
