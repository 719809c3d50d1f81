"""The inputs of a many-file run: paths, globs, text files listing inputs, and their outputs' names."""

from __future__ import annotations

import glob
import hashlib
import os
from pathlib import PurePosixPath

from e2ejax.errors import InputError

__all__ = ["expand_inputs", "is_url", "output_names", "LIST_SUFFIX"]

#: an input ending in this is a text file listing inputs, one per line
LIST_SUFFIX = ".txt"


def is_url(spec: str) -> bool:
    """True for ``scheme://...`` inputs (``root://``, ``https://``), passed to uproot unchanged."""
    return "://" in str(spec)


def _listed(path: str) -> list[str]:
    """The inputs a list file names: one per line; blank lines and ``#`` comments skipped; relative
    paths are relative to the list file."""
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"expected a text file listing inputs at {path!r}; cannot read it ({exc}); "
                         "write one ROOT file path or URL per line") from None
    base = os.path.dirname(path)
    out = []
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(line if is_url(line) or os.path.isabs(line) else os.path.join(base, line))
    if not out:
        raise InputError(f"expected at least one input listed in {path!r}; found none; write one ROOT file path or URL per line")
    return out


def expand_inputs(specs) -> list[str]:
    """Input specs (one, or a list) -> the inputs, in order: globs expanded (sorted), ``.txt`` list
    files read (one input per line, globs allowed), local paths made absolute (workers may run
    elsewhere), URLs kept as given, ``file.root:tree`` specs kept; duplicates refused.

    Raises:
        InputError: a glob matching nothing, an empty list file, an input given twice.

    Examples:
        >>> expand_inputs(["root://eos.cms/store/a.root", "/data/b.root:Events"])
        ['root://eos.cms/store/a.root', '/data/b.root:Events']
    """
    if isinstance(specs, (str, os.PathLike)):
        specs = [specs]
    out: list[str] = []
    for spec in map(os.fspath, specs):
        if is_url(spec):
            out.append(spec)
        elif spec.endswith(LIST_SUFFIX) and os.path.isfile(spec):
            out += expand_inputs(_listed(spec))
        elif glob.has_magic(spec):
            matches = sorted(glob.glob(spec))
            if not matches:
                raise InputError(f"expected ROOT files matching {spec!r}; found no file; check the pattern and the directory")
            out += map(os.path.abspath, matches)
        else:
            out.append(os.path.abspath(spec))
    seen: dict[str, str] = {}
    for spec in out:
        key = spec if is_url(spec) else os.path.realpath(spec)
        if key in seen:
            raise InputError(f"expected each input once; found {seen[key]!r} and {spec!r}, the same file; fix: list it once")
        seen[key] = spec
    return out


def _file_part(spec: str) -> str:
    """The file of ``path``, ``path.root:tree`` or a URL (without its query)."""
    if is_url(spec):
        return spec.split("?", 1)[0]
    head, sep, tail = spec.rpartition(":")
    return head if sep and head.endswith(".root") and tail and not tail.startswith("/") else spec


def output_names(inputs, outdir, *, suffix: str = ".root") -> dict[str, str]:
    """Input -> its friend file in ``outdir``: ``<stem>_scores<suffix>``; inputs sharing a stem
    (``a/x.root``, ``b/x.root``) get ``<stem>_<8 hex digits of the input's path>_scores<suffix>``,
    so that names stay the same when the same list is run again.

    Examples:
        >>> output_names(["a/x.root", "b/x.root", "y.root"], "out")  # doctest: +NORMALIZE_WHITESPACE
        {'a/x.root': 'out/x_740f6d7a_scores.root', 'b/x.root': 'out/x_7caca1c4_scores.root', 'y.root': 'out/y_scores.root'}
    """
    stems = {spec: PurePosixPath(_file_part(spec)).stem for spec in inputs}
    counts: dict[str, int] = {}
    for stem in stems.values():
        counts[stem] = counts.get(stem, 0) + 1
    out = {}
    for spec, stem in stems.items():
        if counts[stem] > 1:
            stem = f"{stem}_{hashlib.sha256(spec.encode()).hexdigest()[:8]}"
        out[spec] = os.path.join(os.fspath(outdir), f"{stem}_scores{suffix}")
    return out
