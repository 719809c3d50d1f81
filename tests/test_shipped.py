"""Every shipped model: loads by name, and its shipped ONNX file matches JAX in a fresh process."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from e2ejax.store import CHECKPOINTS, shipped_models

SHIPPED = shipped_models()

# one pytest-xdist worker runs this file: its module fixtures start one fresh process each
pytestmark = pytest.mark.xdist_group("shipped")

SHIPPED_NOW = sorted(n for n in SHIPPED if (CHECKPOINTS / n).is_dir())

#: one fresh process checks every model given as NAME=PATH pairs (one import of JAX and the runtime for all)
FRESH = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from e2ejax.inference import onnx_session, random_inputs
    from e2ejax.store import load_model
    from e2ejax.nets import make_predict
    out = {}
    for pair in sys.argv[1:]:
        name, path = pair.split("=", 1)
        model, card, _ = load_model(name)
        predict, params = make_predict(model, objective="regression" if card["task"] == "jetcalib" else "classification")
        session = onnx_session(path, threads=1)
        diffs = {}
        for b in (1, 2, 7, 64):
            x = random_inputs(model, b, seed=b)
            got = session.run(["scores"], {s.name: a for s, a in zip(model.input_spec, x)})[0]
            diffs[b] = float(np.max(np.abs(got - np.asarray(predict(params, *x)))))
        out[name] = diffs
    print(json.dumps(out))
    """
)


def _fresh_process(script: str, pairs: dict) -> dict:
    """``script`` run once in a fresh interpreter over ``{name: path}``: ``{name: {batch: max |diff|}}``."""
    out = subprocess.run([sys.executable, "-c", script, *(f"{n}={p}" for n, p in pairs.items())], capture_output=True,
                         text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def onnx_parity():
    """ONNX Runtime vs JAX on every shipped model, in one fresh process."""
    return _fresh_process(FRESH, {n: CHECKPOINTS / n / "model.onnx" for n in SHIPPED_NOW})


def test_at_least_one_model_is_shipped():
    assert SHIPPED_NOW, f"no shipped checkpoints under {CHECKPOINTS}"


@pytest.mark.parametrize("name", SHIPPED_NOW)
def test_shipped_onnx_parity_fresh_process(name, onnx_parity):
    assert (CHECKPOINTS / name / "model.onnx").exists()
    diffs = onnx_parity[name]
    assert set(diffs) == {"1", "2", "7", "64"}
    assert max(diffs.values()) <= 1e-5, diffs
    card = json.loads((CHECKPOINTS / name / "model_card.json").read_text())
    assert card, "a shipped model has a model card"


@pytest.mark.parametrize("name", SHIPPED_NOW)
def test_shipped_model_card_records_task_and_commands(name):
    from e2ejax.store import load_model

    _, card, _ = load_model(name)
    assert card["task"] == SHIPPED[name]
    assert card["provenance"]["commands"]
    assert np.isfinite(card["metrics"]["val_loss"])


FRESH_TF = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf
    from e2ejax.inference import random_inputs
    from e2ejax.store import load_model
    from e2ejax.nets import make_predict
    out = {}
    for pair in sys.argv[1:]:
        name, path = pair.split("=", 1)
        model, card, _ = load_model(name)
        predict, params = make_predict(model, objective="regression" if card["task"] == "jetcalib" else "classification")
        serve = tf.saved_model.load(path).signatures["serving_default"]
        diffs = {}
        for b in (1, 2, 7, 64):
            x = random_inputs(model, b, seed=b)
            got = serve(**{s.name: tf.constant(a) for s, a in zip(model.input_spec, x)})["scores"].numpy()
            diffs[b] = float(np.max(np.abs(got - np.asarray(predict(params, *x)))))
        out[name] = diffs
    print(json.dumps(out))
    """
)

def _saved_model_exportable(name: str) -> bool:
    from e2ejax.inference.export import saved_model_refusal
    from e2ejax.store import load_model

    return saved_model_refusal(load_model(name)[0]) is None


SAVED_MODEL_NAMES = [n for n in SHIPPED_NOW if _saved_model_exportable(n)]


@pytest.fixture(scope="module")
def saved_model_parity(tmp_path_factory):
    """Every shipped model but the GNN exported as a TF SavedModel here, checked against JAX in one fresh process."""
    pytest.importorskip("tensorflow", reason="TF SavedModel export needs the 'tf' extra")
    from e2ejax.inference import to_saved_model
    from e2ejax.store import load_model

    root = tmp_path_factory.mktemp("savedmodels")
    directories = {}
    for name in SAVED_MODEL_NAMES:
        model, card, _ = load_model(name)
        objective = "regression" if card["task"] == "jetcalib" else "classification"
        directories[name] = to_saved_model(model, root / name, objective=objective)
    return _fresh_process(FRESH_TF, directories)


@pytest.mark.parametrize("name", SAVED_MODEL_NAMES)
def test_shipped_saved_model_parity_fresh_process(name, saved_model_parity):
    diffs = saved_model_parity[name]
    assert set(diffs) == {"1", "2", "7", "64"}
    assert max(diffs.values()) <= 1e-5, diffs


@pytest.mark.parametrize("name", SHIPPED_NOW)
def test_shipped_card_records_heldout_evaluation_and_provenance(name):
    card = json.loads((CHECKPOINTS / name / "model_card.json").read_text())["card"]
    ev = card["evaluation"]
    if SHIPPED[name] == "jetcalib":
        assert set(ev["uncalibrated"]) == set(ev["calibrated"]) == {"response", "resolution"}
        assert ev["jets"] > 0
    else:
        assert 0.5 < ev["auc"] <= 1.0 and ev["best_baseline"] in ev["baselines"]
        assert ev["margin"] == pytest.approx(ev["auc"] - max(ev["baselines"].values()))
    assert card["training_seconds"] > 0
    # held-out evaluations made in the run directory (counted since the particle taggers; the five first models predate the count)
    assert card.get("held_out_evaluations") == 1 or name in ("egamma", "qg", "top", "tau", "jetcalib")
    for split in ("train", "validation", "test"):
        assert all(f["command"].startswith("e2ejax simulate") for f in card["data"][split]), split
    assert card["provenance"]["commands"][0].startswith("e2ejax train")


def _onnx_predict(name: str, model):
    """The shipped ONNX file as the ``predict(params, *inputs)`` that the evaluations take (``params`` unused),
    and the scores it returned, call by call."""
    from e2ejax.inference import onnx_session

    session, names, calls = onnx_session(CHECKPOINTS / name / "model.onnx", threads=1), [s.name for s in model.input_spec], []

    def predict(params, *inputs):
        calls.append(session.run(["scores"], {n: np.asarray(x, np.float32) for n, x in zip(names, inputs)})[0])
        return calls[-1]

    return predict, calls


def _auc_bound(scores: np.ndarray, labels: np.ndarray, parity: float) -> float:
    """Largest AUC change that moving each score by at most ``parity`` can make: only signal-background
    pairs closer than ``2 parity`` can change order, and each moves the AUC by ``1 / (n_signal n_background)``."""
    s = scores.astype(np.float64)
    signal, background = np.sort(s[labels == 1]), np.sort(s[labels == 0])
    close = np.searchsorted(background, signal + 2 * parity, side="right") - np.searchsorted(background, signal - 2 * parity, side="left")
    return int(close.sum()) / (len(signal) * len(background))


@pytest.mark.parametrize("name", SHIPPED_NOW)
def test_shipped_card_evaluation_is_reproduced(name, onnx_parity):
    """Re-run the held-out evaluation of every shipped model through its ONNX file: the card's figures
    come from these weights. The ONNX scores are within ``parity`` (1e-5, checked above) of JAX's, so
    the AUC may move by at most :func:`_auc_bound`, and the quantile-based calibration figures by a
    relative 1e-4 (corrections of order 1 moved by 1e-5)."""
    from e2ejax.metrics import auc_difference_error, auc_standard_error
    from e2ejax.nets import takes_particles, takes_points
    from e2ejax.store import load_model
    from e2ejax.io import iterate_events
    from e2ejax.training import evaluate_calibration, evaluate_tagger, seed_examples

    model, card, _ = load_model(name)
    ev = card["evaluation"]
    files = [str(CHECKPOINTS.parent / "e2ejax" / "data" / Path(f).name) for f in ev["files"]]
    predict, calls = _onnx_predict(name, model)
    parity = 1e-5  # the bound test_shipped_onnx_parity_fresh_process holds every shipped ONNX file to
    assert max(onnx_parity[name].values()) <= parity
    if card["task"] == "jetcalib":
        got = evaluate_calibration(predict, None, files, n_constituents=model.config.n_constituents)
        assert got["jets"] == ev["jets"] and got["events"] == ev["events"]
        for which in ("calibrated", "uncalibrated"):
            for key in ("response", "resolution"):
                assert got[which][key] == pytest.approx(ev[which][key], rel=1e-4 if which == "calibrated" else 1e-9), (which, key)
        assert got["calibrated"]["response"] == pytest.approx(1.0, abs=0.01)  # the calibration closes
        assert got["resolution_gain"] == pytest.approx(ev["resolution_gain"], rel=2e-4)
        return
    n_points = model.config.n_points if takes_points(model) else None
    particles = tuple(s.name for s in model.input_spec) if takes_particles(model) else None
    got = evaluate_tagger(predict, None, files, task=card["task"], n_points=n_points, particles=particles)
    assert (got["seeds"], got["signal"], got["events"]) == (ev["seeds"], ev["signal"], ev["events"])
    n_signal, n_background = got["signal"], got["seeds"] - got["signal"]
    labels = np.concatenate([seed_examples(ev, task=card["task"], n_points=n_points, particles=particles)[1]
                             for ev in iterate_events(files, step_size=256)])
    assert len(labels) == got["seeds"] and int(labels.sum()) == n_signal
    bound = _auc_bound(np.concatenate(calls).ravel()[: got["seeds"]], labels, parity)
    assert bound < 0.3 * auc_standard_error(got["auc"], n_signal, n_background), bound  # well below the AUC's own error
    assert got["auc"] == pytest.approx(ev["auc"], abs=bound + 1e-9)
    assert got["baselines"] == pytest.approx(ev["baselines"], abs=1e-9)
    assert got["best_baseline"] == ev["best_baseline"]
    assert got["auc_error"] == pytest.approx(auc_standard_error(got["auc"], n_signal, n_background), rel=1e-12)
    base = got["baselines"][got["best_baseline"]]
    assert got["margin_sigma"] == pytest.approx((got["auc"] - base) / auc_difference_error(got["auc"], base, n_signal, n_background))
    assert 0.005 < got["auc_error"] < 0.05
