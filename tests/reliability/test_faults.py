"""Faults: kill -9 during train / tag / simulate, a file-size limit on writes (a full disk)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.reliability.conftest import (
    SAMPLE_EGAMMA,
    assert_one_line_error,
    child_env,
    egamma_events,
    listing,
    write_tree,
)


def _start(*args, cwd, cache=None, **popen):
    return subprocess.Popen([sys.executable, "-m", "e2ejax", *map(str, args)], cwd=cwd, env=child_env(cache),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def _wait_for(predicate, proc, timeout=240.0):
    """Poll until ``predicate()`` holds; False if the process ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if proc.poll() is not None:
            return predicate()
        time.sleep(0.02)
    raise AssertionError("timed out waiting for the child process")


def _kill(proc):
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL


def _temporaries(directory, name):
    return [e for e in listing(directory) if e.startswith(f".{name}.") and e.endswith(".tmp")]


def test_kill_during_tag_keeps_the_previous_output(tmp_path, jax_cache):
    out = tmp_path / "out" / "scores.root"
    out.parent.mkdir()
    out.write_bytes(b"the previous, complete result")
    proc = _start("tag", SAMPLE_EGAMMA, "-o", out, "--batch-size", "4", "--overwrite", "-q", cwd=tmp_path, cache=jax_cache)
    assert _wait_for(lambda: _temporaries(out.parent, "scores.root"), proc), proc.communicate()
    time.sleep(0.5)  # inside the batch loop
    assert proc.poll() is None, "tagging ended before it could be killed"
    _kill(proc)
    assert out.read_bytes() == b"the previous, complete result"
    assert [e for e in listing(out.parent) if not e.startswith(".")] == ["scores.root"]


@pytest.mark.slow
def test_kill_during_simulate_leaves_no_file(tmp_path):
    pytest.importorskip("pythia8mc")
    out = tmp_path / "sim.root"
    proc = _start("simulate", "egamma", "--events", "5000", "--seed", "3", "-o", out, "-q", cwd=tmp_path)
    assert _wait_for(lambda: _temporaries(tmp_path, "sim.root"), proc), proc.communicate()
    time.sleep(1.0)
    assert proc.poll() is None
    _kill(proc)
    assert not out.exists()
    assert all(e.startswith(".sim.root.") for e in listing(tmp_path))


#: ``python -c LIMITED BYTES ARGS``: ``e2ejax ARGS`` with files limited to BYTES (``ulimit -f``; SIGXFSZ is
#: ignored by Python, so a write past the limit fails with EFBIG as on a full disk).
LIMITED = """
import resource, runpy, sys
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
sys.argv = ["e2ejax"] + sys.argv[2:]
runpy.run_module("e2ejax", run_name="__main__")
"""


@pytest.mark.parametrize("command", ["tag", "simulate"])
def test_file_size_limit_gives_one_line_and_no_file(command, tmp_path):
    if command == "simulate":
        pytest.importorskip("pythia8mc")
        args = ("simulate", "egamma", "--events", "30", "--seed", "1", "-q")
    else:
        args = ("tag", SAMPLE_EGAMMA, "--batch-size", "100", "-q")
    out = tmp_path / "out" / "result.root"
    out.parent.mkdir()
    proc = subprocess.run([sys.executable, "-c", LIMITED, "8000", *map(str, args), "-o", str(out)], cwd=tmp_path,
                          env=child_env(cache=False), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    line = assert_one_line_error(proc, command, str(out), "file-size limit", "nothing was written")
    assert "File too large" in line
    assert listing(out.parent) == []


CONFIG = """model: {name: vgg, options: {features: [4], hidden: 8}}
task: egamma
data: {train: [%(train)s], validation: [%(val)s]}
optimizer: {name: adam, learning_rate: 3.0e-3}
training: {epochs: 6, batch_size: 4, patience: 10, seed: 5}
output: %(out)s
"""


@pytest.mark.slow
def test_kill_during_train_then_resume_ends_like_an_uninterrupted_run(tmp_path, jax_cache):
    train = write_tree(tmp_path / "train.root", egamma_events(60, seed=11))
    val = write_tree(tmp_path / "val.root", egamma_events(20, seed=12))
    configs = {}
    for name in ("straight", "killed"):
        configs[name] = tmp_path / f"{name}.yaml"
        configs[name].write_text(CONFIG % {"train": train, "val": val, "out": tmp_path / name})
    straight = _start("train", configs["straight"], "-q", cwd=tmp_path, cache=jax_cache)
    killed = _start("train", configs["killed"], "-q", cwd=tmp_path, cache=jax_cache)
    ckpts = tmp_path / "killed" / "checkpoints"
    assert _wait_for(lambda: any(e.isdigit() for e in listing(ckpts)), killed), killed.communicate()
    assert killed.poll() is None, "training ended before it could be killed"
    _kill(killed)
    done_before = sorted(int(e) for e in listing(ckpts) if e.isdigit())
    resumed = subprocess.run([sys.executable, "-m", "e2ejax", "train", str(configs["killed"]), "-q"], cwd=tmp_path,
                             env=child_env(jax_cache), capture_output=True, text=True, timeout=300)
    out_straight, err_straight = straight.communicate(timeout=300)
    assert straight.returncode == 0, err_straight
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming from step {done_before[-1]} " in resumed.stdout
    a = json.loads((tmp_path / "straight" / "history.json").read_text())
    b = json.loads((tmp_path / "killed" / "history.json").read_text())
    assert [h["epoch"] for h in a] == [h["epoch"] for h in b] == [1, 2, 3, 4, 5, 6]
    # the kill came before the last epoch's checkpoint, so the resumed run trained at least one epoch itself
    assert done_before[-1] in [h["step"] for h in a[:-1]], (done_before, [h["step"] for h in a])
    for key in ("train_loss", "val_loss", "step"):
        np.testing.assert_allclose([h[key] for h in b], [h[key] for h in a], rtol=1e-6, err_msg=key)
    assert not any("tmp" in e for e in listing(ckpts))  # the half-written step was cleaned up
    final = lambda text: text.strip().splitlines()[-1].split("; ")[1]  # noqa: E731  "best validation AUC x"
    assert final(resumed.stdout) == final(out_straight)
