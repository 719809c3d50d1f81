"""The ``e2ejax`` command line: a thin shell over library functions.

Each subcommand lives in the module that owns its feature and exposes
``add_arguments(parser)`` and ``run(args) -> int``; this file only wires them and
turns :class:`e2ejax.errors.E2EJaxError` (and an ``OSError`` from the environment,
such as a permission error) into one line on stderr and exit code 2.

Building the parser imports only the command modules, which import nothing heavy at
the top, so ``e2ejax --help`` and a bad argument cost no JAX import. Before a command
runs, JAX's persistent compilation cache is turned on (:mod:`e2ejax.jit_cache`;
``--no-jit-cache`` turns it off).
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys

from e2ejax import __version__, jit_cache
from e2ejax.errors import E2EJaxError

__all__ = ["main", "build_parser"]

#: subcommand -> (module implementing it, one-line help)
COMMANDS = {
    "simulate": ("e2ejax.commands.simulate", "generate Pythia8 events through the CMS-like detector into an E2E ROOT file"),
    "tag": ("e2ejax.commands.tag", "tag jets or e/gamma candidates in E2E ROOT files with trained models"),
    "calibrate": ("e2ejax.commands.calibrate", "write the calibrated jet pT of an E2E ROOT file to a friend tree (the jetcalib model)"),
    "bench": ("e2ejax.commands.bench", "per-stage timing (read, inputs, net, write) and peak memory of tagging"),
    "train": ("e2ejax.commands.train", "train a tagger from a YAML config, with checkpoints, early stopping and resume"),
    "export": ("e2ejax.commands.export", "export a trained model to ONNX and/or TF SavedModel and check parity"),
    "plot": ("e2ejax.commands.plot", "draw ROC curves of tagged files and loss curves of training runs (mplhep, CMS style)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="e2ejax", description="CMS End-to-End reconstruction in JAX.")
    parser.add_argument("--version", action="version", version=f"e2ejax {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(p)
        p.add_argument("--no-jit-cache", action="store_true",
                       help=f"compile every program anew (also {jit_cache.DISABLE_ENV}=0); by default compiled programs are "
                            "kept in $XDG_CACHE_HOME/e2ejax/jit (~/.cache/e2ejax/jit), or JAX_COMPILATION_CACHE_DIR when set")
        p.set_defaults(_module=module)
    return parser


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.command_line = "e2ejax " + shlex.join(argv)  # as typed, for provenance records
    if args.command is None:
        parser.print_help()
        return 2
    jit_cache.enable(disabled=args.no_jit_cache)
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except E2EJaxError as exc:
        print(f"e2ejax {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # the environment (permissions, disk, limits), not the input: still one line
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"e2ejax {args.command}: error: {exc.strerror or exc}{where}; check the path, its permissions "
              "and the free space", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"e2ejax {args.command}: interrupted", file=sys.stderr)
        return 130
