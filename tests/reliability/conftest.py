"""Helpers of the reliability suite: tiny ROOT files, the shipped e/gamma model, CLI runs in a child process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from tests.io.conftest import make_events

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_EGAMMA = ROOT / "checkpoints" / "egamma"
SAMPLE_EGAMMA = ROOT / "e2ejax" / "data" / "sim_egamma.root"


def write_tree(path, events: dict, *, tree: str = "Events") -> Path:
    """Write ``{"event": int64 [E], group: jagged records}`` (as from ``make_events``) with uproot."""
    with uproot.recreate(str(path)) as f:
        types = {k: (v.dtype if isinstance(v, np.ndarray) else v.type.content) for k, v in events.items()}
        f.mktree(tree, types)
        if len(events["event"]):
            f[tree].extend(events)
    return Path(path)


def egamma_events(n: int = 12, *, seed: int = 1) -> dict:
    """Random sparse events with one or two e/gamma candidates each, seeds inside the barrel."""
    events = make_events(n, seed=seed, counts={"eg": 2, "jet": 1})
    eg = {f: events["eg"][f] for f in events["eg"].fields}
    rng = np.random.default_rng(seed)
    eg["seed_row"] = ak.unflatten(rng.integers(70, 210, 2 * n).astype(np.int32), np.full(n, 2))
    return {**events, "eg": ak.zip(eg)}


def replace_field(events: dict, group: str, field: str, fn) -> dict:
    """``events`` with ``group.field`` replaced by ``fn(flat numpy values)`` (same counts)."""
    columns = {f: events[group][f] for f in events[group].fields}
    counts = ak.num(columns[field], axis=1)
    columns[field] = ak.unflatten(fn(np.asarray(ak.flatten(columns[field])).copy()), counts)
    return {**events, group: ak.zip(columns)}


@pytest.fixture
def egamma_file(tmp_path):
    (tmp_path / "in").mkdir()
    return write_tree(tmp_path / "in" / "eg.root", egamma_events())


@pytest.fixture
def shipped_copy(tmp_path):
    """A copy of the shipped e/gamma checkpoint (with its ONNX export) that a test may damage."""
    dest = tmp_path / "model"
    shutil.copytree(SHIPPED_EGAMMA, dest)
    return dest


@pytest.fixture(scope="session")
def jax_cache(tmp_path_factory):
    """A persistent XLA compilation cache shared by the child processes of this session."""
    return tmp_path_factory.mktemp("jax_cache")


def child_env(cache=None, **extra) -> dict:
    """The environment of a child process: the run's own compilation cache (the root conftest.py)
    unless ``cache`` names another directory, or none at all with ``cache=False`` (a child that
    must write no file but its output)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TQDM_DISABLE="1")
    if cache is False:
        for key in ("JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
                    "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"):
            env.pop(key, None)
    elif cache is not None:
        env.update(JAX_COMPILATION_CACHE_DIR=str(cache), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                   JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")
    env.update(extra)
    return env


def run_cli(*args, cwd, cache=None, timeout: float = 300, **popen) -> subprocess.CompletedProcess:
    """``python -m e2ejax ARGS`` in a child process (stdout / stderr captured as text)."""
    return subprocess.run([sys.executable, "-m", "e2ejax", *map(str, args)], cwd=cwd, env=child_env(cache),
                          capture_output=True, text=True, timeout=timeout, **popen)


def assert_one_line_error(proc: subprocess.CompletedProcess, command: str, *names: str) -> str:
    """Non-zero exit, no traceback, stderr exactly one line ``e2ejax COMMAND: error: ...`` naming ``names``."""
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    lines = proc.stderr.strip("\n").split("\n")
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"e2ejax {command}: error: "), lines[0]
    for name in names:
        assert name in lines[0], (name, lines[0])
    return lines[0]


def listing(directory) -> list[str]:
    """Every entry of ``directory`` (hidden temporary files included), sorted."""
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


def run_cli_many(jobs: dict, *, cache=None, workers: int = 3, timeout: float = 300) -> dict:
    """Run several ``run_cli`` jobs (name -> (args, cwd)) side by side; name -> CompletedProcess."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        futures = {name: pool.submit(run_cli, *args, cwd=cwd, cache=cache, timeout=timeout)
                   for name, (args, cwd) in jobs.items()}
        return {name: f.result() for name, f in futures.items()}


def call_main(capsys, *args) -> subprocess.CompletedProcess:
    """``e2ejax.cli.main(ARGS)`` in this process, as a CompletedProcess (stdout / stderr from capsys)."""
    from e2ejax.cli import main

    capsys.readouterr()
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, captured.out, captured.err)
