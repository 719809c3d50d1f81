"""The table of shipped models from their model cards: held-out metric vs the one-variable baseline.

Run: ``python benchmarks/model_cards.py [--markdown]``. Every figure is read from
``checkpoints/<name>/model_card.json`` (written by ``e2ejax train``). Each AUC carries its
Hanley-McNeil standard error and each margin its size in standard errors: from the card's
``auc_error`` / ``margin_sigma`` where it stores them, else computed from its seed counts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _timing import table  # noqa: E402

from e2ejax.metrics import auc_difference_error, auc_standard_error  # noqa: E402
from e2ejax.store import CHECKPOINTS, shipped_models  # noqa: E402

COLUMNS = ["model", "network", "held-out sample", "metric", "best one-variable baseline", "margin", "train examples", "training s"]


def auc_cells(ev: dict) -> dict:
    """The metric, baseline and margin cells of a tagger's card evaluation, with their standard errors."""
    b = ev["best_baseline"]
    n_signal, n_background = ev["signal"], ev["seeds"] - ev["signal"]
    error = ev.get("auc_error", auc_standard_error(ev["auc"], n_signal, n_background))
    baseline_error = ev.get("baseline_errors", {}).get(b, auc_standard_error(ev["baselines"][b], n_signal, n_background))
    sigma = ev.get("margin_sigma", ev["margin"] / auc_difference_error(ev["auc"], ev["baselines"][b], n_signal, n_background))
    return {"metric": f"AUC {ev['auc']:.3f} ± {error:.3f} ({ev['seeds']} seeds)",
            "best one-variable baseline": f"{b} {ev['baselines'][b]:.3f} ± {baseline_error:.3f}",
            "margin": f"{ev['margin']:+.3f} ({sigma:+.1f} σ)"}


def rows() -> list[dict]:
    out = []
    for name in shipped_models():
        path = CHECKPOINTS / name / "model_card.json"
        if not path.exists():
            continue
        card = json.loads(path.read_text())["card"]
        ev = card.get("evaluation", {})
        row = {"model": name, "network": card["model"]["name"], "training s": f"{card.get('training_seconds', float('nan')):.0f}"}
        row["held-out sample"] = ", ".join(os.path.basename(f) for f in ev.get("files", []))
        row["train examples"] = str(sum(f.get("events", 0) for f in card.get("data", {}).get("train", []))) + " events"
        if "auc" in ev:
            row.update(auc_cells(ev))
        elif "calibrated" in ev:
            u, c = ev["uncalibrated"], ev["calibrated"]
            row["metric"] = f"resolution {c['resolution']:.4f}, response {c['response']:.3f} ({ev['jets']} jets)"
            row["best one-variable baseline"] = f"uncalibrated: resolution {u['resolution']:.4f}, response {u['response']:.3f}"
            row["margin"] = f"x{ev['resolution_gain']:.2f} resolution"
        out.append(row)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    data = rows()
    if args.markdown:
        print("| " + " | ".join(COLUMNS) + " |")
        print("|" + "---|" * len(COLUMNS))
        for r in data:
            print("| " + " | ".join(r.get(c, "").replace("|", "\\|") for c in COLUMNS) + " |")
    else:
        print(table(data, COLUMNS))


if __name__ == "__main__":
    main()
