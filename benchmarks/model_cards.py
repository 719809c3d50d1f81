"""The table of shipped models from their model cards: held-out metric vs the one-variable baseline.

Run: ``python benchmarks/model_cards.py [--markdown]``. Every figure is read from
``checkpoints/<name>/model_card.json`` (written by ``e2ejax train``); nothing is recomputed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _timing import table  # noqa: E402

from e2ejax.store import CHECKPOINTS, shipped_models  # noqa: E402

COLUMNS = ["model", "network", "held-out sample", "metric", "best one-variable baseline", "margin", "train examples", "training s"]


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
            b = ev["best_baseline"]
            row.update(metric=f"AUC {ev['auc']:.3f} ({ev['seeds']} seeds)", margin=f"{ev['margin']:+.3f}")
            row["best one-variable baseline"] = f"{b} {ev['baselines'][b]:.3f}"
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
