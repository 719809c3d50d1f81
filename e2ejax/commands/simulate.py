"""``e2ejax simulate``: Pythia8 events through the CMS-like detector into an E2E ROOT file.

``e2ejax simulate minbias`` writes a premixed-pileup library instead (minimum-bias
interactions before the calorimeter readout), which ``--pileup-library`` overlays on
a sample. Arguments are parsed as plain strings and validated here so that every
mistake becomes one :class:`e2ejax.errors.InputError` line (expected / found / fix).
This module imports neither Pythia nor fastjet until :func:`run`.
"""

from __future__ import annotations

import argparse
import difflib
import os

from e2ejax.commands._options import add_scheduler, warnings_as_lines
from e2ejax.errors import InputError, require

__all__ = ["add_arguments", "run", "validate", "SAMPLE_NAMES", "LIBRARY_SAMPLE"]

SAMPLE_NAMES = ("qg", "egamma", "top", "tau")
LIBRARY_SAMPLE = "minbias"  # writes a premixed-pileup library, not events
COMPRESSIONS = ("lz4", "zstd", "zlib", "lzma")
MAX_EVENTS = 10**7 - 1  # event ids are seed * 10**7 + number
MAX_SEED = 2**31 - 1
MAX_PILEUP = 200.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``simulate`` arguments on ``parser``."""
    parser.add_argument("sample", metavar="{qg,egamma,top,tau,minbias}",
                        help="qg: quark/gluon jets; egamma: e/gamma on minimum bias; top: boosted top vs QCD; "
                             "tau: hadronic taus vs QCD; minbias: a premixed-pileup library of minimum-bias "
                             "interactions for --pileup-library")
    parser.add_argument("--events", "-n", metavar="N", default=None, help="number of events (required)")
    parser.add_argument("--seed", "-s", metavar="S", default="0", help="random seed, 0 <= S < 2**31 (default 0)")
    parser.add_argument("-o", "--output", metavar="FILE.root", default=None, help="output ROOT file (required)")
    parser.add_argument("--workers", "-j", metavar="W", default="1",
                        help="worker processes (default 1: this process; more: a local Dask cluster, needs the dask "
                             "extra); the file does not depend on it")
    add_scheduler(parser)
    parser.add_argument("--pileup", metavar="MU", default="0",
                        help="mean number of minimum-bias interactions overlaid (Poisson, default 0)")
    parser.add_argument("--pileup-library", metavar="LIB.root", default=None,
                        help="premix the pileup from this library (made by 'e2ejax simulate minbias') instead of "
                             "generating every interaction with Pythia; unused with --pileup 0")
    parser.add_argument("--compression", metavar="ALG", default="lz4", help="lz4 (default), zstd, zlib or lzma")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def _int(name: str, text, lo: int, hi: int, fix: str) -> int:
    if text is None:
        raise InputError(f"--{name}: expected an integer in [{lo}, {hi}], found nothing; fix: {fix}")
    try:
        value = int(str(text), 10)
    except ValueError:
        raise InputError(f"--{name}: expected an integer in [{lo}, {hi}], found {text!r}; fix: {fix}") from None
    if not lo <= value <= hi:
        raise InputError(f"--{name}: expected an integer in [{lo}, {hi}], found {value}; fix: {fix}")
    return value


def _pileup(text) -> float:
    fix = "pass a mean number of interactions such as --pileup 20 (0 disables pileup)"
    try:
        value = float(str(text))
    except ValueError:
        raise InputError(f"--pileup: expected a number in [0, {MAX_PILEUP:g}], found {text!r}; fix: {fix}") from None
    if not 0.0 <= value <= MAX_PILEUP:
        raise InputError(f"--pileup: expected a number in [0, {MAX_PILEUP:g}], found {value:g}; fix: {fix}")
    return value


def _sample(text: str) -> str:
    if text in SAMPLE_NAMES or text == LIBRARY_SAMPLE:
        return text
    close = difflib.get_close_matches(str(text).lower(), SAMPLE_NAMES + (LIBRARY_SAMPLE,), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(SAMPLE_NAMES)}"
    raise InputError(f"sample: expected one of {', '.join(SAMPLE_NAMES)}, found {text!r} ({LIBRARY_SAMPLE} writes a "
                     f"pileup library); fix: {hint}")


def _library_options(sample: str, pileup: float, library) -> None:
    if sample != LIBRARY_SAMPLE:
        return
    if pileup != 0:
        raise InputError(f"--pileup: expected 0 for {LIBRARY_SAMPLE} (a library holds single interactions), found "
                         f"{pileup:g}; fix: drop --pileup, and pass it with --pileup-library when simulating a sample")
    if library is not None:
        raise InputError(f"--pileup-library: expected none for {LIBRARY_SAMPLE}, found {library!r}; fix: drop it "
                         f"(it is for overlaying a library on a sample, e.g. qg)")


def _output(path) -> str:
    if not path:
        raise InputError("-o/--output: expected an output file name ending in .root, found nothing; "
                         "fix: add -o events.root")
    if not str(path).endswith(".root"):
        raise InputError(f"-o/--output: expected a file name ending in .root, found {path!r}; "
                         f"fix: use -o {os.path.splitext(str(path))[0] or 'events'}.root")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise InputError(f"-o/--output: expected an existing directory, found {directory!r} missing; "
                         f"fix: mkdir -p {directory}")
    if not os.access(directory, os.W_OK):
        raise InputError(f"-o/--output: expected a writable directory, found {directory!r} read-only; "
                         "fix: choose another output path")
    if os.path.isdir(path):
        raise InputError(f"-o/--output: expected a file name, found the directory {path!r}; "
                         f"fix: use -o {os.path.join(str(path), 'events.root')}")
    return str(path)


def _compression(text: str) -> str:
    if text not in COMPRESSIONS:
        raise InputError(f"--compression: expected one of {', '.join(COMPRESSIONS)}, found {text!r}; "
                         "fix: use --compression lz4")
    return text


def validate(args: argparse.Namespace) -> dict:
    """Check the parsed strings; returns keyword arguments for :func:`e2ejax.sim.run.simulate`.

    Raises:
        InputError: for any argument out of its documented range.
    """
    cores = os.cpu_count() or 1
    sample = _sample(args.sample)
    pileup = _pileup(args.pileup)
    library = getattr(args, "pileup_library", None)
    _library_options(sample, pileup, library)
    return {
        "sample": sample,
        "events": _int("events", args.events, 1, MAX_EVENTS, "pass the number of events, e.g. --events 1000"),
        "seed": _int("seed", args.seed, 0, MAX_SEED, "pass a non-negative seed, e.g. --seed 1"),
        "output": _output(args.output),
        "workers": _int("workers", args.workers, 1, 4 * cores, f"use --workers {cores} (cores on this machine)"),
        "pileup": pileup,
        "compression": _compression(args.compression),
        "pileup_library": library,
    }


def _command(kwargs: dict) -> str:
    if kwargs["sample"] == LIBRARY_SAMPLE:
        return (f"e2ejax simulate {LIBRARY_SAMPLE} --events {kwargs['events']} --seed {kwargs['seed']} "
                f"--compression {kwargs['compression']} -o {kwargs['output']}")
    premixed = f" --pileup-library {kwargs['pileup_library']}" if kwargs["pileup_library"] and kwargs["pileup"] else ""
    return (f"e2ejax simulate {kwargs['sample']} --events {kwargs['events']} --seed {kwargs['seed']} "
            f"--pileup {kwargs['pileup']:g}{premixed} --compression {kwargs['compression']} -o {kwargs['output']}")


def run(args: argparse.Namespace) -> int:
    """Validate the arguments, then simulate (or write a pileup library); prints one summary line."""
    kwargs = validate(args)
    require("pythia8mc", "sim")
    require("fastjet", "sim")
    from e2ejax.sim.pileup_library import simulate_library
    from e2ejax.sim.run import simulate

    command = _command(kwargs)
    workers = kwargs.pop("workers")
    if kwargs["sample"] == LIBRARY_SAMPLE:
        for key in ("sample", "pileup", "pileup_library"):
            kwargs.pop(key)
        function, what = simulate_library, "minimum-bias interactions (a pileup library)"
    else:
        function, what = simulate, f"{kwargs['sample']} events"
    if workers > 1 and args.scheduler is not None:
        raise InputError("expected one of --workers W (start a local Dask cluster) or --scheduler ADDRESS; found both; fix: drop one")
    with warnings_as_lines("simulate"):
        if workers == 1 and args.scheduler is None:
            result = function(**kwargs, progress=not args.quiet, command=command)
            where = "in this process"
        else:
            from e2ejax.cluster import dask_client

            with dask_client(workers=None if args.scheduler else workers, scheduler=args.scheduler, quiet=args.quiet) as client:
                result = function(**kwargs, executor=client.get_executor(pure=False), progress=not args.quiet,
                                  command=command)
                where = f"on {len(client.scheduler_info().get('workers', {}))} Dask worker(s)"
    print(f"wrote {result['events']} {what} to {kwargs['output']} in {result['seconds']:.1f} s "
          f"({result['events_per_second']:.1f} events/s {where})")
    return 0
