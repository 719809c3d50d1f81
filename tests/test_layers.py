"""The package layers of docs/ARCHITECTURE.md hold: import-linter's contracts (pyproject.toml) and
what ``import e2ejax.inference`` actually loads."""

import json
import subprocess
import sys
from pathlib import Path

from importlinter import cli

ROOT = Path(__file__).resolve().parent.parent


def test_import_linter_contracts_hold(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert cli.lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


LOADED = """
import json, sys
from flax import nnx  # Flax NNX itself imports optax (flax/nnx/helpers.py): the baseline
flax_optax = sorted(m for m in sys.modules if m.split(".")[0] == "optax")
import e2ejax.inference
print(json.dumps({"flax_optax": flax_optax,
                  "optax": sorted(m for m in sys.modules if m.split(".")[0] == "optax"),
                  "e2ejax": sorted(m for m in sys.modules if m.startswith("e2ejax"))}))
"""


def test_inference_loads_no_training_code():
    out = subprocess.run([sys.executable, "-c", LOADED], capture_output=True, text=True, check=True, cwd=ROOT)
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert "e2ejax.inference.tagger" in loaded["e2ejax"]
    assert [m for m in loaded["e2ejax"] if m.startswith(("e2ejax.training", "e2ejax.plotting", "e2ejax.sim", "e2ejax.commands"))] == []
    assert loaded["optax"] == loaded["flax_optax"]  # no optax module beyond those Flax loads itself
