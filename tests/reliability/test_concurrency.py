"""Threads share one Tagger / one ONNX Runtime session bit-identically; same seed, same bits (train, simulate, tag)."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import uproot

from e2ejax import geometry
from e2ejax.inference import onnx_session
from e2ejax.inference import Tagger
from tests.reliability.conftest import SHIPPED_EGAMMA, call_main, egamma_events, write_tree

THREADS, CALLS = 8, 200


def _events(seed, B=2, N=16):
    """Barrel hits in two clusters per event; the e/gamma candidates sit on the clusters."""
    rng = np.random.default_rng(seed)
    centre_ieta = rng.integers(-70, 70, (B, 2)) | 1  # odd: never 0
    centre_iphi = rng.integers(20, 340, (B, 2))
    ieta = centre_ieta.repeat(N // 2, axis=1) + rng.integers(-2, 3, (B, N)) * 2
    iphi = centre_iphi.repeat(N // 2, axis=1) + rng.integers(-3, 4, (B, N))
    row, col = geometry.eb_index_to_cell(centre_ieta, centre_iphi)
    return {
        "eb_ieta": ieta.astype(np.int32), "eb_iphi": iphi.astype(np.int32),
        "eb_energy": rng.exponential(5.0, (B, N)).astype(np.float32), "eb_mask": np.ones((B, N), bool),
        "eg_seed_row": (np.asarray(row) + geometry.EB_ROW_OFFSET).astype(np.int32),
        "eg_seed_col": np.asarray(col).astype(np.int32),
        "eg_mask": np.ones((B, 2), bool),
    }


def _hammer(fn, inputs):
    """Call ``fn`` THREADS x CALLS times from THREADS threads; returns (thread, call) -> bytes of the result."""
    results, errors = {}, []
    start = threading.Barrier(THREADS)

    def work(t):
        try:
            start.wait()
            for i in range(CALLS):
                results[t, i] = fn(inputs[(t + i) % len(inputs)]).tobytes()
        except BaseException as exc:  # noqa: BLE001  reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors[0]
    return results


def test_one_tagger_shared_by_threads_is_bit_identical_to_serial():
    tagger = Tagger.from_pretrained("egamma", backend="xla")
    batches = [_events(seed) for seed in range(8)]
    serial = [tagger(ev).scores.tobytes() for ev in batches]
    assert len(set(serial)) == len(serial)  # the inputs differ, so a mix-up between threads would show
    for (t, i), got in _hammer(lambda ev: tagger(ev).scores, batches).items():
        assert got == serial[(t + i) % len(batches)], (t, i)


def test_one_onnx_session_shared_by_threads_is_bit_identical_to_serial():
    session = onnx_session(SHIPPED_EGAMMA / "model.onnx", threads=1)
    rng = np.random.default_rng(3)
    frames = [rng.exponential(size=(3, 32, 32, 1)).astype(np.float32) for _ in range(8)]
    run = lambda x: session.run(["scores"], {"frames": x})[0]  # noqa: E731
    serial = [run(x).tobytes() for x in frames]
    assert len(set(serial)) == len(serial)
    for (t, i), got in _hammer(run, frames).items():
        assert got == serial[(t + i) % len(frames)], (t, i)


CONFIG = """model: {name: vgg, options: {features: [4], hidden: 8}}
task: egamma
data: {train: [%(f)s], validation: [%(f)s]}
training: {epochs: 2, batch_size: 4, seed: 3}
output: %(out)s
"""


def test_training_twice_with_the_same_seed_is_bit_identical(tmp_path, capsys):
    data = write_tree(tmp_path / "eg.root", egamma_events(16, seed=8))
    runs = []
    for name in ("a", "b"):
        cfg = tmp_path / f"{name}.yaml"
        cfg.write_text(CONFIG % {"f": data, "out": tmp_path / name})
        assert call_main(capsys, "train", cfg, "-q").returncode == 0
        history = json.loads((tmp_path / name / "history.json").read_text())
        step = max(int(e.name) for e in (tmp_path / name / "checkpoints").iterdir() if e.name.isdigit())
        integrity = json.loads((tmp_path / name / "checkpoints" / str(step) / "integrity" / "metadata").read_text())
        runs.append((history, step, {p: r["sha256"] for p, r in integrity["leaves"].items()}))
    (ha, sa, wa), (hb, sb, wb) = runs
    assert ha == hb and sa == sb == 16  # exact float equality of every epoch's losses
    assert wa == wb and len(wa) > 4  # SHA-256 of every parameter and optimiser array


def test_simulation_twice_with_the_same_seed_is_bit_identical(tmp_path):
    pytest.importorskip("pythia8mc")
    from e2ejax.sim.run import simulate

    arrays = []
    for name in ("a.root", "b.root"):
        simulate("egamma", events=3, seed=21, output=str(tmp_path / name), progress=False)
        arrays.append(uproot.open(tmp_path / name)["Events"].arrays(library="np"))
    assert sorted(arrays[0]) == sorted(arrays[1]) and len(arrays[0]) > 40
    for key in arrays[0]:
        a, b = arrays[0][key], arrays[1][key]
        if a.dtype == object:
            assert all(x.tobytes() == y.tobytes() for x, y in zip(a, b)), key
        else:
            assert a.tobytes() == b.tobytes(), key


def test_tagging_twice_is_bit_identical(tmp_path, capsys):
    data = write_tree(tmp_path / "eg.root", egamma_events(20, seed=9))
    outs = []
    for name in ("a.root", "b.root"):
        assert call_main(capsys, "tag", data, "-o", tmp_path / name, "--model", "egamma", "-q").returncode == 0
        outs.append(uproot.open(tmp_path / name)["Predictions"].arrays(library="np"))
    assert sorted(outs[0]) == sorted(outs[1])
    for key in outs[0]:
        a, b = outs[0][key], outs[1][key]
        blobs = [np.asarray(x).tobytes() for x in a], [np.asarray(x).tobytes() for x in b]
        assert blobs[0] == blobs[1], key
