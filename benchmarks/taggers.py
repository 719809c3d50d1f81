"""Images against particle lists on the same jets: held-out AUC of trained taggers side by side.

Every model scores the same labelled jets of the held-out files (the seeds of
:func:`e2ejax.training.seed_examples`: image frames for the CNN / GNN, each jet's candidates for
ParticleNet, ParT, P-CNN and PFN), next to the task's one-variable baselines on those jets.
Errors are bootstrap standard deviations over the jets, one resampling shared by every model,
so the differences (to the best baseline and to the first model) carry paired errors.

Run (after the trainings of the configs named in the README)::

    python benchmarks/taggers.py --task qg --test data/qg_test.root \
        --model "ResNet-15=checkpoints/qg" --model "PFN=runs/qg_pfn/checkpoints" [--json out.json]

Each held-out file should be evaluated once per model, after the models were chosen on
their validation samples; the script prints how many jets and which files it used.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import jax
import numpy as np
from flax import nnx

sys.path.insert(0, os.path.dirname(__file__))
from _timing import table  # noqa: E402

from e2ejax import nets, tasks  # noqa: E402
from e2ejax.inputs import baseline_scores, trim_seed_slots  # noqa: E402
from e2ejax.io import iterate_events  # noqa: E402
from e2ejax.metrics import roc_auc  # noqa: E402
from e2ejax.store import load_model  # noqa: E402
from e2ejax.training import fixed_batches, seed_examples  # noqa: E402


def model_scores(directory, files, *, task: str, batch_size: int = 256):
    """Scores of every labelled seed of ``files`` by the checkpoint in ``directory``, the labels, its
    card and its number of trained parameters."""
    model, card, _ = load_model(directory)
    n_params = sum(int(np.size(x)) for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
    predict, params = nets.make_predict(model)
    n_points = model.config.n_points if nets.takes_points(model) else None
    particles = tuple(s.name for s in model.input_spec) if nets.takes_particles(model) else None
    track_impact = card.get("input_conventions", {}).get("track_impact", "pt_weighted")
    chunks = (seed_examples(ev, task=task, n_points=n_points, particles=particles, track_impact=track_impact)
              for ev in iterate_events(list(files), step_size=128))
    scores, labels = [], []
    for batch in fixed_batches(chunks, batch_size=batch_size):
        keep = np.asarray(batch.weights) > 0
        scores.append(np.asarray(predict(params, *batch.inputs))[keep])
        labels.append(np.asarray(batch.targets)[keep])
    return np.concatenate(scores), np.concatenate(labels), card, n_params


def baselines(files, *, task: str) -> dict[str, np.ndarray]:
    """The task's one-variable baselines on the same labelled seeds, in the same order."""
    group = tasks.get(task).seed_group
    out: dict[str, list] = {}
    for ev in iterate_events(list(files), step_size=128):
        trimmed = trim_seed_slots(ev, group)
        keep = np.asarray(trimmed[f"{group}_mask"]) & (np.asarray(trimmed[f"{group}_label"]) >= 0)
        for name, values in baseline_scores(task, events=trimmed).items():
            out.setdefault(name, []).append(values[keep])
    return {name: np.concatenate(v) for name, v in out.items()}


def bootstrap(labels, columns: dict[str, np.ndarray], *, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """AUC of each column on ``n`` resamplings of the seeds (the same resamplings for every column)."""
    rng = np.random.default_rng(seed)
    out = {name: np.empty(n) for name in columns}
    for i in range(n):
        idx = rng.integers(0, len(labels), len(labels))
        for name, s in columns.items():
            out[name][i] = roc_auc(labels[idx], s[idx])
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", required=True, choices=tasks.taggers())
    parser.add_argument("--test", nargs="+", required=True, help="held-out ROOT files")
    parser.add_argument("--model", action="append", required=True, help="LABEL=CHECKPOINT_DIR (repeat)")
    parser.add_argument("--bootstrap", type=int, default=300)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    columns, labels, cards, sizes = {}, None, {}, {}
    for spec in args.model:
        label, _, directory = spec.partition("=")
        scores, y, card, sizes[label] = model_scores(directory, args.test, task=args.task)
        if labels is not None and not np.array_equal(y, labels):
            raise SystemExit(f"{label}: its seeds differ from the first model's; the comparison needs the same jets")
        labels, columns[label], cards[label] = y, scores, card
    base = {f"baseline {k}": v for k, v in baselines(args.test, task=args.task).items()}
    if any(len(v) != len(labels) for v in base.values()):
        raise SystemExit("the baselines were computed on other seeds than the models")
    # a baseline is credited with its better orientation
    base = {k: (v if roc_auc(labels, v) >= 0.5 else -v) for k, v in base.items()}
    everything = {**columns, **base}
    aucs = {k: roc_auc(labels, v) for k, v in everything.items()}
    boot = bootstrap(labels, everything, n=args.bootstrap)
    best_base = max(base, key=aucs.get)
    first = next(iter(columns))
    rows = []
    for name in everything:
        diff_base = boot[name] - boot[best_base]
        diff_first = boot[name] - boot[first]
        card = cards.get(name, {})
        rows.append({
            "model": name,
            "network": card.get("model", {}).get("name", "-"),
            "AUC": f"{aucs[name]:.4f} ± {boot[name].std():.4f}",
            f"vs {best_base}": "-" if name in base else f"{aucs[name] - aucs[best_base]:+.4f} ± {diff_base.std():.4f}",
            f"vs {first}": "-" if name == first or name in base else f"{aucs[name] - aucs[first]:+.4f} ± {diff_first.std():.4f}",
            "parameters": f"{sizes[name]:,}" if name in sizes else "-",
            "training s": card.get("training_seconds", "-"),
        })
    n_signal = int(labels.sum())
    print(f"{args.task}: {len(labels)} labelled jets ({n_signal} {tasks.get(args.task).classes[1]}, "
          f"{len(labels) - n_signal} {tasks.get(args.task).classes[0]}) of {args.test}; "
          f"{args.bootstrap} bootstrap resamplings; {time.perf_counter() - t0:.0f} s")
    print(table(rows, list(rows[0])))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"task": args.task, "files": args.test, "jets": int(len(labels)), "signal": n_signal,
                       "auc": aucs, "bootstrap_std": {k: float(v.std()) for k, v in boot.items()},
                       "best_baseline": best_base, "parameters": sizes}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
