"""Many files in this process (``e2ejax tag FILES -o DIR``): the same scores as one file at a time,
a manifest that stays true, resume, failures that stop only their own file, kill and Ctrl-C."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import uproot

from e2ejax import cluster
from e2ejax.cluster import MANIFEST_NAME, sha256_file
from tests.cluster.conftest import EVENTS, friend_arrays
from tests.reliability.conftest import ROOT, call_main, child_env, listing

pytestmark = pytest.mark.xdist_group("cluster")


def _manifest(out):
    return json.loads((out / MANIFEST_NAME).read_text())


def test_directory_run_gives_the_scores_of_one_file_at_a_time(directory_run, files, qg_checkpoint, plain_outputs):
    manifest, out = directory_run
    assert manifest["run"]["tagged"] == files and manifest["run"]["failed"] == {}
    for f in files:
        entry = manifest["files"][f]
        assert entry["status"] == "done" and entry["chunks"] == 3 and entry["events"] == entry["entries"] == EVENTS
        assert entry["sha256"] == sha256_file(entry["output"])
        assert friend_arrays(entry["output"]) == friend_arrays(plain_outputs[f])  # bit-identical, chunk by chunk
    assert manifest["models"]["tiny_qg"]["card_sha256"] == sha256_file(os.path.join(qg_checkpoint, "model_card.json"))
    assert _manifest(out)["files"] == manifest["files"]
    summary = manifest["run"]["summary"]["qg"]  # the models of the files' own task, over all files, baselines beside
    assert summary["n_signal"] + summary["n_background"] == sum(e["seeds"] for e in manifest["files"].values())
    assert set(summary["baseline_auc"]) == {"girth", "multiplicity"}


def test_rerun_skips_complete_files_and_redoes_the_rest(small_files, qg_checkpoint, plain_outputs, tmp_path):
    files = small_files
    mine = tmp_path / "checkpoints"  # a copy (with the ONNX export plain_outputs left in it) whose card is changed below
    shutil.copytree(qg_checkpoint, mine)
    out = tmp_path / "out"

    def tag(inputs, **options):
        return cluster.tag(None, inputs, str(mine), out, chunk_events=256, progress=False, **options)

    first = tag(files)
    stamps = {f: os.stat(first["files"][f]["output"]).st_mtime_ns for f in files}
    again = tag(files)
    assert again["run"]["skipped"] == files and again["run"]["tagged"] == []
    os.unlink(first["files"][files[1]]["output"])  # a lost output
    with open(first["files"][files[2]]["output"], "ab") as f:  # a damaged one
        f.write(b"x")
    third = tag(files)
    assert third["run"]["tagged"] == files[1:] and third["run"]["skipped"] == files[:1]
    assert os.stat(first["files"][files[0]]["output"]).st_mtime_ns == stamps[files[0]]
    forced = tag(files[:1], force=True)
    assert forced["run"]["tagged"] == files[:1]
    card = json.loads((mine / "model_card.json").read_text())
    card["card"]["metrics"]["val_loss"] = 0.25  # the same checkpoint directory and model name, another card
    (mine / "model_card.json").write_text(json.dumps(card))
    changed = tag(files)
    assert changed["run"]["tagged"] == files


def test_a_bad_file_is_reported_and_the_others_finish(small_files, qg_checkpoint, tmp_path, capsys):
    files = small_files
    bad = tmp_path / "bad.root"
    bad.write_bytes(b"not a ROOT file at all")
    no_jets = str(tmp_path / "nojets.root")
    with uproot.recreate(no_jets) as f:  # a ROOT file without the jet branches
        f["Events"] = {"event": np.arange(5)}
    proc = call_main(capsys, "tag", files[0], bad, no_jets, files[1], "--model", qg_checkpoint, "-o", tmp_path / "out",
                     "-q", "--chunk-events", "256")
    assert proc.returncode == 1
    failed = [line for line in proc.stderr.splitlines() if line.startswith("e2ejax tag: failed: ")]
    assert len(failed) == 2 and str(bad) in failed[0] + failed[1] and no_jets in failed[0] + failed[1], proc.stderr
    assert "Traceback" not in proc.stderr
    manifest = _manifest(tmp_path / "out")
    assert {f: e["status"] for f, e in manifest["files"].items()} == {
        files[0]: "done", str(bad): "failed", no_jets: "failed", files[1]: "done"}
    assert "expected a ROOT file" in manifest["files"][str(bad)]["error"]
    assert listing(tmp_path / "out") == sorted([MANIFEST_NAME, "jets0_scores.root", "jets1_scores.root"])
    assert "2 tagged, 0 already done, 2 failed of 4 inputs" in proc.stdout


def _start(files, ckpt, out, cache):
    return subprocess.Popen([sys.executable, "-m", "e2ejax", "tag", *files, "--model", ckpt, "-o", str(out), "-q",
                             "--chunk-events", "256"], cwd=ROOT, env=child_env(cache), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)


def _default_sigint():
    """The child's Ctrl-C as a user's: a SIGINT ignored by the test process (inherited across exec, as
    some earlier test in the same pytest worker leaves it) would make the child ignore it too."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_done(out, n, proc, timeout=240):
    """Wait until the manifest records ``n`` files (the run still going)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if len(_manifest(out)["files"]) >= n:
                return
        except (OSError, ValueError):
            pass
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("the run recorded no file in time")


@pytest.mark.parametrize("stop", ["kill", "interrupt"])
def test_a_stopped_run_leaves_complete_outputs_and_resumes_the_rest(small_files, big_file, qg_checkpoint, child_cache,
                                                                    tmp_path, capsys, stop):
    many = [small_files[0], big_file]  # the run is stopped while it tags the big file (thirteen chunks: long enough on a loaded machine too)
    out = tmp_path / "out"
    proc = _start(many, qg_checkpoint, out, child_cache)
    _wait_for_done(out, 1, proc)
    proc.send_signal(signal.SIGKILL if stop == "kill" else signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if stop == "interrupt":  # Ctrl-C: one line, exit 130, no traceback
        assert proc.returncode == 130 and err.strip().splitlines()[-1] == "e2ejax tag: interrupted", err
    done = _manifest(out)["files"]
    assert list(done) == many[:1] and all(e["status"] == "done" for e in done.values())
    for e in done.values():  # the manifest is true: every output it names is complete
        assert sha256_file(e["output"]) == e["sha256"]
    written = {name for name in listing(out) if name.endswith("_scores.root")}
    assert written == {os.path.basename(e["output"]) for e in done.values()}  # no output of a file in flight
    # the same command again (in this process: nothing of the stopped one is shared but the directory)
    rerun = call_main(capsys, "tag", *many, "--model", qg_checkpoint, "-o", out, "-q", "--chunk-events", "256")
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(many) - len(done)} tagged, {len(done)} already done" in rerun.stdout
    assert not [n for n in listing(out) if n.endswith(".tmp")]  # what the killed run left is cleaned
    assert all(e["status"] == "done" for e in _manifest(out)["files"].values()) and len(_manifest(out)["files"]) == len(many)


def test_directory_mode_errors_are_one_line(files, qg_checkpoint, tmp_path, capsys):
    from tests.reliability.conftest import assert_one_line_error

    proc = call_main(capsys, "tag", files[0], "--model", qg_checkpoint, "--workers", "2")
    assert_one_line_error(proc, "tag", "-o DIR")
    proc = call_main(capsys, "tag", *files[:2], "--model", qg_checkpoint, "-o", tmp_path / "x.root")
    assert_one_line_error(proc, "tag", "expected a directory for 2 inputs")
    proc = call_main(capsys, "tag", *files[:2], "--model", qg_checkpoint, "-o", tmp_path / "no" / "such" / "dir")
    assert_one_line_error(proc, "tag", "existing parent directory")
    assert not (tmp_path / "no").exists()


def test_a_url_is_read_through_uproot_as_given(files, qg_checkpoint, plain_outputs, tmp_path):
    url = f"file://{files[0]}"  # root:// and https:// take the same path; file:// needs no server
    listed = tmp_path / "inputs.txt"
    listed.write_text(f"{url}\n")
    manifest = cluster.tag(None, [str(listed)], qg_checkpoint, tmp_path / "out", chunk_events=256, progress=False)
    assert manifest["run"]["tagged"] == [url]
    assert friend_arrays(manifest["files"][url]["output"]) == friend_arrays(plain_outputs[files[0]])


def test_the_manifest_skips_rewrites_that_would_dominate_and_flushes_at_the_end(tmp_path, monkeypatch):
    from e2ejax.cluster import Manifest

    m = Manifest(tmp_path, models={}, options={})
    out = tmp_path / "x_scores.root"
    out.write_bytes(b"done")
    m.done("a.root", str(out), (0, None), {})  # the first record is written at once
    assert list(_manifest(tmp_path)["files"]) == ["a.root"]
    m._last_cost = 3600.0  # as if the last rewrite had taken an hour
    m.done("b.root", str(out), (0, None), {})
    assert list(_manifest(tmp_path)["files"]) == ["a.root"]  # held back: still true, one file behind
    m.flush()
    assert sorted(_manifest(tmp_path)["files"]) == ["a.root", "b.root"]
