"""examples/saliency.py runs and prints d(score)/d(E_hit) that finite differences confirm."""

import runpy
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "saliency.py"


def test_saliency_example_gradients_match_finite_differences(capsys):
    ns = runpy.run_path(str(EXAMPLE), run_name="__main__")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6 and lines[0].startswith(f"event {ns['events']['event'][0]}: score ")
    energy, grad, order = ns["events"]["eb_energy"], ns["grad"], ns["order"]
    assert np.abs(grad[order[0]]) > 0 and np.all(np.diff(np.abs(grad[order])) <= 0)  # the five largest, in order
    for rank, i in enumerate(order[:2]):
        step = np.zeros_like(energy)
        step[0, i] = 0.05 * max(float(energy[0, i]), 1.0)
        fd = (float(ns["total_score"](jnp.asarray(energy + step))) - float(ns["total_score"](jnp.asarray(energy - step)))) / (2 * step[0, i])
        assert grad[i] == pytest.approx(fd, rel=0.1, abs=1e-4), (rank, i)
        assert f"d(score)/dE {grad[i]:+.4f} /GeV" in lines[1 + rank]
