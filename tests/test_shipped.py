"""Every shipped model: loads by name, and its shipped ONNX file matches JAX in a fresh process."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from e2ejax.models import CHECKPOINTS, SHIPPED

SHIPPED_NOW = sorted(n for n in SHIPPED if (CHECKPOINTS / n).is_dir())

FRESH = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from e2ejax.export import onnx_session, random_inputs
    from e2ejax.models import load_model
    from e2ejax.train import make_predict
    model, card, _ = load_model(sys.argv[1])
    predict, params = make_predict(model, task="regression" if card["task"] == "jetcalib" else "classification")
    session = onnx_session(sys.argv[2], threads=1)
    diffs = {}
    for b in (1, 2, 7, 64):
        x = random_inputs(model, b, seed=b)
        got = session.run(["scores"], {s.name: a for s, a in zip(model.input_spec, x)})[0]
        diffs[b] = float(np.max(np.abs(got - np.asarray(predict(params, *x)))))
    print(json.dumps(diffs))
    """
)


def test_at_least_one_model_is_shipped():
    assert SHIPPED_NOW, f"no shipped checkpoints under {CHECKPOINTS}"


@pytest.mark.parametrize("name", SHIPPED_NOW)
def test_shipped_onnx_parity_fresh_process(name):
    onnx_path = CHECKPOINTS / name / "model.onnx"
    assert onnx_path.exists()
    out = subprocess.run([sys.executable, "-c", FRESH, name, str(onnx_path)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    diffs = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(diffs) == {"1", "2", "7", "64"}
    assert max(diffs.values()) <= 1e-5, diffs
    card = json.loads((CHECKPOINTS / name / "model_card.json").read_text())
    assert card, "a shipped model has a model card"


@pytest.mark.parametrize("name", SHIPPED_NOW)
def test_shipped_model_card_records_task_and_commands(name):
    from e2ejax.models import load_model

    _, card, _ = load_model(name)
    assert card["task"] == SHIPPED[name]
    assert card["provenance"]["commands"]
    assert np.isfinite(card["metrics"]["val_loss"])


FRESH_TF = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf
    from e2ejax.export import random_inputs
    from e2ejax.models import load_model
    from e2ejax.train import make_predict
    model, card, _ = load_model(sys.argv[1])
    predict, params = make_predict(model, task="regression" if card["task"] == "jetcalib" else "classification")
    serve = tf.saved_model.load(sys.argv[2]).signatures["serving_default"]
    diffs = {}
    for b in (1, 2, 7, 64):
        x = random_inputs(model, b, seed=b)
        got = serve(**{s.name: tf.constant(a) for s, a in zip(model.input_spec, x)})["scores"].numpy()
        diffs[b] = float(np.max(np.abs(got - np.asarray(predict(params, *x)))))
    print(json.dumps(diffs))
    """
)


@pytest.mark.parametrize("name", [n for n in SHIPPED_NOW if n != "tau"])
def test_shipped_saved_model_parity_fresh_process(name, tmp_path):
    pytest.importorskip("tensorflow", reason="TF SavedModel export needs the 'tf' extra")
    from e2ejax.export import to_saved_model
    from e2ejax.models import load_model

    model, card, _ = load_model(name)
    directory = to_saved_model(model, tmp_path / name, task="regression" if card["task"] == "jetcalib" else "classification")
    out = subprocess.run([sys.executable, "-c", FRESH_TF, name, str(directory)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    diffs = json.loads(out.stdout.strip().splitlines()[-1])
    assert max(diffs.values()) <= 1e-5, diffs
