"""Validation AUC against training events: where the next gain of each tagger family lies.

Every checkpoint is evaluated on the same validation files (never the held-out ones), with its
own inputs (frames for the CNN, candidates for the particle networks) and the Hanley-McNeil
error; the training events and jets are read from its card.

Run (after the trainings of configs/curves/ and the full-size configs)::

    python benchmarks/learning_curves.py --task qg --validation data/qg_val.root \
        --model "ResNet-15=runs/curves/qg_resnet15_3000/checkpoints" ... [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _timing import table  # noqa: E402

from e2ejax import nets, tasks  # noqa: E402
from e2ejax.store import load_model  # noqa: E402
from e2ejax.training.evaluation import evaluate_tagger  # noqa: E402


def training_events(card: dict) -> int:
    """Events of the training files the card's run read (its ``train_events`` / ``max_events`` cap)."""
    data = card["config"]["data"]
    total = sum(int(f.get("events", 0)) for f in card["data"]["train"])
    caps = [n for n in (data.get("max_events"), data.get("train_events")) if n]
    return min([total, *caps])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", required=True, choices=tasks.taggers())
    parser.add_argument("--validation", nargs="+", required=True)
    parser.add_argument("--model", action="append", required=True, help="LABEL=CHECKPOINT_DIR (repeat)")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    rows = []
    for spec in args.model:
        label, _, directory = spec.partition("=")
        model, card, params = load_model(directory)
        predict, params = nets.make_predict(model)
        particles = tuple(s.name for s in model.input_spec) if nets.takes_particles(model) else None
        n_points = model.config.n_points if nets.takes_points(model) else None
        ev = evaluate_tagger(predict, params, args.validation, task=args.task, n_points=n_points, particles=particles,
                             track_impact=card.get("input_conventions", {}).get("track_impact", "pt_weighted"))
        rows.append({"model": label, "network": card["model"]["name"], "train events": training_events(card),
                     "validation AUC": f"{ev['auc']:.4f} ± {ev['auc_error']:.4f}", "auc": ev["auc"],
                     "auc_error": ev["auc_error"], "seeds": ev["seeds"], "training s": card.get("training_seconds")})
        print(f"{label}: {rows[-1]['validation AUC']} ({ev['seeds']} validation jets)", flush=True)
    columns = ["model", "network", "train events", "validation AUC", "training s"]
    print(table(rows, columns))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"task": args.task, "validation": args.validation, "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
