"""benchmarks/model_cards.py: the README table quotes each AUC with its standard error and each margin in standard errors."""

import importlib.util
from pathlib import Path

import pytest

from e2ejax.metrics import auc_difference_error, auc_standard_error

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "model_cards.py"


@pytest.fixture(scope="module")
def model_cards():
    spec = importlib.util.spec_from_file_location("model_cards", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EVALUATION = {"auc": 0.84, "baselines": {"girth": 0.80, "multiplicity": 0.81}, "best_baseline": "multiplicity",
              "margin": 0.03, "seeds": 900, "signal": 600}


def test_cells_computed_from_the_counts_of_a_card_without_errors(model_cards):
    cells = model_cards.auc_cells(EVALUATION)
    error, base_error = auc_standard_error(0.84, 600, 300), auc_standard_error(0.81, 600, 300)
    sigma = 0.03 / auc_difference_error(0.84, 0.81, 600, 300)
    assert cells["metric"] == f"AUC 0.840 ± {error:.3f} (900 seeds)" and f"{error:.3f}" == "0.013"
    assert cells["best one-variable baseline"] == f"multiplicity 0.810 ± {base_error:.3f}"
    assert cells["margin"] == f"+0.030 (+{sigma:.1f} σ)" and f"{sigma:.1f}" == "1.6"


def test_cells_use_the_errors_a_card_stores(model_cards):
    ev = dict(EVALUATION, auc_error=0.02, baseline_errors={"multiplicity": 0.025, "girth": 0.03}, margin_sigma=0.9)
    assert model_cards.auc_cells(ev) == {"metric": "AUC 0.840 ± 0.020 (900 seeds)",
                                         "best one-variable baseline": "multiplicity 0.810 ± 0.025", "margin": "+0.030 (+0.9 σ)"}


def test_shipped_rows_carry_errors(model_cards):
    rows = {r["model"]: r for r in model_cards.rows()}
    for name in ("qg", "top", "tau", "egamma"):
        if name in rows:
            assert " ± " in rows[name]["metric"] and " ± " in rows[name]["best one-variable baseline"], rows[name]
            assert rows[name]["margin"].endswith(" σ)"), rows[name]
