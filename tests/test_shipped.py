"""Every shipped model: loads by name, and its shipped ONNX file matches JAX in a fresh process."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
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

SAVED_MODEL_NAMES = [n for n in SHIPPED_NOW if n != "tau"]


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
    for split in ("train", "validation", "test"):
        assert all(f["command"].startswith("e2ejax simulate") for f in card["data"][split]), split
    assert card["provenance"]["commands"][0].startswith("e2ejax train")


@pytest.mark.parametrize("name", [n for n in ("egamma", "jetcalib") if n in SHIPPED_NOW])
def test_shipped_card_evaluation_is_reproduced(name):
    """Re-run the held-out evaluation of a shipped model: the card's figures come from these weights."""
    from e2ejax.training import evaluate_calibration, evaluate_tagger
    from e2ejax.store import load_model
    from e2ejax.nets import make_predict

    model, card, _ = load_model(name)
    ev = card["evaluation"]
    files = [str(CHECKPOINTS.parent / "e2ejax" / "data" / Path(f).name) for f in ev["files"]]
    if card["task"] == "jetcalib":
        predict, params = make_predict(model, objective="regression")
        got = evaluate_calibration(jax.jit(predict), params, files, n_constituents=model.config.n_constituents)
        assert got["jets"] == ev["jets"]
        assert got["calibrated"]["resolution"] == pytest.approx(ev["calibrated"]["resolution"], rel=1e-4)
        assert got["uncalibrated"] == pytest.approx(ev["uncalibrated"], rel=1e-6)
    else:
        predict, params = make_predict(model)
        got = evaluate_tagger(jax.jit(predict), params, files, task=card["task"])
        assert got["seeds"] == ev["seeds"]
        assert got["auc"] == pytest.approx(ev["auc"], abs=1e-4)
        assert got["baselines"] == pytest.approx(ev["baselines"], abs=1e-9)
