"""``e2ejax train CONFIG.yaml``: train a tagger on E2E ROOT files, with checkpoints and early stopping.

Running the same command again resumes from the latest complete checkpoint
(:func:`e2ejax.training.train`).
"""

from __future__ import annotations

import argparse
import shlex


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="training YAML (see e2ejax.training.config)")
    parser.add_argument("--fresh", action="store_true",
                        help="start over: delete the checkpoints and history already in the output directory")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars")


def run(args) -> int:
    from e2ejax import tasks
    from e2ejax.training import held_out_summary, train

    say = lambda line: print(line, flush=True)  # noqa: E731
    command = getattr(args, "command_line", "e2ejax train " + shlex.quote(str(args.config)))
    result = train(args.config, fresh=args.fresh, progress=not args.quiet, command=command, say=say)
    cfg, v = result.config, result.validation
    if tasks.get(cfg.task).objective == "regression":
        quality = (f"validation resolution {v['uncalibrated']['resolution']:.4f} uncalibrated -> "
                   f"{v['calibrated']['resolution']:.4f} calibrated")
    else:
        quality = f"best validation AUC {v['auc']:.4f}"
    print(f"trained {cfg.model.name} on {result.n_train} {cfg.task} examples in {result.seconds:.0f} s; {quality}; "
          f"checkpoints in {result.checkpoints}")
    if result.evaluation is not None:
        print(held_out_summary(cfg.task, result.evaluation))
    return 0
