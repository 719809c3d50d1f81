"""``e2ejax tag [FILES...] [-o OUT.root] [--model NAMES] [--backend auto|xla|onnxruntime]``.

With no files it tags the shipped sample of each model's task with the shipped
models. One friend file is written per input file, aligned entry by entry,
under a temporary name renamed when complete.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from e2ejax import tasks
from e2ejax.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", help="E2E ROOT files (default: the shipped sample of the model's task)")
    parser.add_argument("-o", "--output", help="output file (.root or .parquet) when tagging one input")
    parser.add_argument("--model", default="egamma", help="comma-separated shipped names or checkpoint directories (default egamma)")
    parser.add_argument("--backend", default="auto", help="auto (ONNX Runtime on CPU, XLA on GPU), xla or onnxruntime")
    parser.add_argument("--batch-size", type=int, default=64, help="events per batch (default 64; files are read 256 events at a time)")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads (default 1)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def _task_of(name: str) -> str | None:
    """The task of a shipped model name or of a checkpoint directory's card, without loading it (None if unknown)."""
    from e2ejax.store import shipped_models

    card = Path(name) / "model_card.json"
    if not card.is_file():
        return shipped_models().get(name)
    try:
        return json.loads(card.read_text()).get("card", {}).get("task")
    except (OSError, ValueError, AttributeError):
        return None  # the checkpoint loader reports a damaged card


def run(args) -> int:
    from e2ejax.inference import Tagger, tag_files
    from e2ejax.io import check_files

    if args.batch_size < 1:
        raise InputError(f"--batch-size: expected a positive integer, found {args.batch_size}")
    names = [m.strip() for m in args.model.split(",") if m.strip()]
    if not names:
        raise InputError("--model: expected at least one model name or checkpoint directory")
    if args.output and len(args.files) > 1:
        raise InputError(f"-o/--output names one output but {len(args.files)} inputs were given; drop -o to write <input>_scores.root for each")
    require = sorted({g for n in names if _task_of(n) in tasks.taggers() for g in tasks.get(_task_of(n)).hit_groups})
    for f in args.files:  # cheap checks of every input before the models are loaded
        check_files(f, require=require)
    taggers = {Path(n).name: Tagger.from_pretrained(n, backend=args.backend, threads=args.threads) for n in names}
    files = list(args.files)
    if not files:
        task = next(iter(taggers.values())).task
        files = [str(tasks.get(task).sample_path)]
    if args.output and len(files) > 1:
        raise InputError(f"-o/--output names one output but {len(files)} inputs were given; drop -o to write <input>_scores.root for each")
    for f in files:
        out = args.output or f"{Path(f.split(':')[0]).stem}_scores.root"
        if os.path.abspath(out) == os.path.abspath(f.split(":")[0]) or (
                os.path.exists(out) and os.path.exists(f.split(":")[0]) and os.path.samefile(out, f.split(":")[0])):
            raise InputError(f"-o/--output: expected an output path other than the input {f!r}; found the same file; "
                             "writing there would replace the events with their scores: choose another name")
        s = tag_files(taggers, f, out, batch_size=args.batch_size, progress=not args.quiet)
        line = (f"{f}: {s['events']} events, {s['seeds']} seeds, {100 * s['in_acceptance']:.1f}% in acceptance, "
                f"{s['events_per_s']:.0f} events/s ({s['seeds_per_s']:.0f} seeds/s) on {next(iter(taggers.values())).backend}")
        if "auc" in s:
            line += "; AUC " + ", ".join(f"{k} {v:.4f}" for k, v in s["auc"].items())
        print(line + f" -> {out}")
    return 0
