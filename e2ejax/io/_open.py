"""Resolve input paths (globs, ``file.root:tree``) and open trees, turning every failure into an InputError."""

from __future__ import annotations

import difflib
import glob
import json
import os
from typing import NamedTuple

import numpy as np
import uproot

from e2ejax import geometry
from e2ejax.errors import InputError
from e2ejax.io._schema import layout_of

__all__ = ["Source", "resolve", "open_tree", "tree_name", "check_branches", "DEFAULT_TREE"]

DEFAULT_TREE = "Events"
_ROOT_MAGIC = b"root"


class Source(NamedTuple):
    """One input file and the tree to read in it.

    ``named``: the tree comes from a ``file.root:tree`` spec or a ``tree`` other than
    :data:`DEFAULT_TREE`. A default tree absent from the file gives way to the file's one
    E2E tree (:func:`open_tree`).
    """

    path: str
    tree: str
    named: bool = False


def _is_url(path: str) -> bool:
    """``scheme://...`` (``root://``, ``file://``, ``https://``): opened by uproot as given, not checked on disk."""
    return "://" in path


def _split_tree(spec: str, default: str) -> tuple[str, str, bool]:
    head, sep, tail = spec.rpartition(":")
    # Only "<path>.root:<tree>" is a tree spec ("C:\\x.root" and "root://host/x.root" are paths).
    if sep and tail and head.endswith(".root") and not tail.startswith("/"):
        return head, tail, True
    return spec, default, False


def resolve(files, *, tree: str = DEFAULT_TREE) -> list[Source]:
    """Expand paths, globs and ``file.root:tree`` specs into a list of :class:`Source`.

    Args:
        files: a path or a sequence of paths; each may be a glob and may end in ``:treename``;
            a URL (``root://host//store/x.root``) is passed to uproot unchanged.
        tree: tree read where a spec does not name one (keyword-only).

    Returns:
        Sources in the order given, each glob's matches sorted.

    Raises:
        InputError: when a path does not exist or a glob matches nothing.

    Examples:
        >>> resolve([], tree="Events")
        []
    """
    if isinstance(files, (str, os.PathLike)):
        files = [files]
    out = []
    for spec in files:
        path, name, named = _split_tree(os.fspath(spec), tree)
        named = named or name != DEFAULT_TREE
        if _is_url(path):
            out.append(Source(path, name, named))
        elif glob.has_magic(path):
            matches = sorted(glob.glob(path))
            if not matches:
                raise InputError(
                    f"expected ROOT files matching {path!r}; found no file; check the pattern and the directory"
                )
            out += [Source(m, name, named) for m in matches]
        elif os.path.isdir(path):
            raise InputError(
                f"expected a ROOT file at {path!r}; found a directory; pass the .root files inside it "
                f"(e.g. '{os.path.join(path, '*.root')}')"
            )
        elif not os.path.isfile(path):
            where = os.path.dirname(os.path.abspath(path))
            raise InputError(
                f"expected a ROOT file at {path!r}; found no such file"
                f"{'' if os.path.isdir(where) else ' (the directory does not exist either)'}; check the path"
            )
        else:
            out.append(Source(path, name, named))
    return out


def _check_header(path: str) -> None:
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise InputError(f"expected a readable ROOT file at {path!r}; cannot open it ({exc.strerror}); "
                         "check its permissions") from None
    if magic != _ROOT_MAGIC:
        raise InputError(
            f"expected a ROOT file (starting with b'root') at {path!r}; found {len(magic)} bytes {magic!r} at its "
            "start; pass a .root file written by ROOT or uproot"
        )


def _e2e_trees(file, trees: list[str]) -> list[str]:
    """The trees of ``trees`` that hold E2E branches (:func:`e2ejax.io._schema.layout_of`)."""
    return [t for t in trees if layout_of(file[t]) is not None]


def _missing_tree(path: str, name: str, trees: list[str], e2e: list[str] | None) -> InputError:
    """The one-line error for a tree ``name`` absent from ``path`` (``e2e``: the E2E trees looked for, None when not looked for)."""
    close = difflib.get_close_matches(name, trees, n=3)
    hint = f"; did you mean {close}?" if close else ("" if trees else " (a damaged file can look empty)")
    if e2e is None or not trees:
        return InputError(f"expected a tree {name!r} in {path!r}; found trees {trees or 'none'}{hint}; "
                          f"pass '{path}:<tree>' to pick one")
    held = f"{len(e2e)} of them ({e2e}) hold" if e2e else "none of them holds"
    return InputError(
        f"expected a tree {name!r}, or else one tree of E2E branches ('ECAL_energy' or sparse hits such as 'eb_energy'), "
        f"in {path!r}; found trees {trees}, {held} E2E branches; fix: pass '{path}:<tree>' to pick one"
    )


def tree_name(tree) -> str:
    """Where an open tree lies in its file (``"Events"``, ``"fevt/RHTree"``): what ``file.root:<tree>`` names."""
    return tree.object_path.lstrip("/").rsplit(";", 1)[0]


def open_tree(source: Source):
    """Open ``source`` and return its TTree (the file stays open while the tree is referenced).

    The default tree (``Events``, not named by the source: no ``file.root:tree`` spec),
    where the file lacks it, gives way to the one tree of the file, in any directory,
    that holds E2E branches: ``fevt/RHTree`` of an MLAnalyzer ntuple (:func:`tree_name`
    tells which).

    Raises:
        InputError: for a file that is not ROOT, a truncated file, a missing tree (the trees
            present are listed; with no tree named, also when none or several hold E2E
            branches) or a tree with no entries.
    """
    path, name, named = source
    if not _is_url(path):
        _check_header(path)
    try:
        file = uproot.open(path)
    except Exception as exc:  # uproot raises ValueError, OSError or deserialization errors
        raise InputError(
            f"expected a readable ROOT file at {path!r}; uproot could not open it ({type(exc).__name__}: {exc}); "
            "the file may be truncated or corrupt: copy or write it again"
        ) from None
    size = None if _is_url(path) else os.path.getsize(path)
    end = int(getattr(file.file, "fEND", 0) or 0)
    if size is not None and end > size:
        file.close()
        raise InputError(
            f"expected a complete ROOT file at {path!r} of {end} bytes; found {size} bytes (truncated); "
            "copy or write the file again"
        )
    try:
        classes = file.classnames(recursive=True)
    except Exception as exc:
        file.close()
        raise InputError(
            f"expected a readable ROOT directory in {path!r}; reading it failed ({type(exc).__name__}: {exc}); "
            "the file may be truncated or corrupt"
        ) from None
    trees = sorted({k.split(";")[0] for k, c in classes.items() if c in ("TTree", "TNtuple", "TTree;1")})
    others = {k.split(";")[0]: c for k, c in classes.items()}
    if name not in trees and name in others:
        file.close()
        raise InputError(
            f"expected a TTree {name!r} in {path!r}; found a {others[name]} of that name; e2ejax reads TTrees: "
            "write the events with uproot's mktree or ROOT's TTree"
        )
    if name not in trees:
        e2e = None if named else _e2e_trees(file, trees)
        if e2e is None or len(e2e) != 1:
            file.close()
            raise _missing_tree(path, name, trees, e2e)
        name = e2e[0]
    if others.get("e2ejax_info") == "TObjString":
        try:
            _check_iphi_origin(file, path)
        except InputError:
            file.close()
            raise
    tree = file[name]
    if tree.num_entries == 0:
        file.close()
        raise InputError(
            f"expected events in tree {name!r} of {path!r}; found 0 entries; remove the file from the input list"
        )
    return tree


def _check_iphi_origin(file, path: str) -> None:
    """InputError for a file that ``e2ejax simulate`` wrote before its CMS iphi labels took CMSSW's
    phi origins (its ``e2ejax_info`` simulation record lacks ``iphi_origin``)."""
    try:
        info = json.loads(str(file["e2ejax_info"]))
    except (ValueError, TypeError, KeyError):
        return  # not a record of e2ejax's: the file's own branches say what it is
    if not isinstance(info, dict) or "detector" not in info or info.get("iphi_origin") == geometry.IPHI_ORIGIN:
        return
    found = info.get("iphi_origin", "no iphi_origin (iphi 1 at phi -180 degrees)")
    command = info.get("command") or "e2ejax simulate ..."
    raise InputError(
        f"expected CMS iphi labels with CMSSW's phi origins (iphi_origin {geometry.IPHI_ORIGIN!r}) in {path!r}; found {found}: "
        f"it was simulated by an earlier e2ejax; fix: simulate it again (its images are unchanged): {command}"
    )


def check_branches(tree, names, *, path: str, kinds: dict[str, str] | None = None) -> None:
    """Raise an InputError naming missing branches (with the closest names) or branches of the wrong type.

    Args:
        tree: an uproot TTree.
        names: branches that must exist.
        path: file name for the messages (keyword-only).
        kinds: branch -> ``"i"`` (integer) or ``"f"`` (floating) content expected (keyword-only).
    """
    keys = list(tree.keys())
    missing = [n for n in names if n not in tree]
    if missing:
        lines = []
        for n in missing[:5]:
            close = difflib.get_close_matches(n, keys, n=3, cutoff=0.6)
            lines.append(f"{n!r} (closest: {close})" if close else repr(n))
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise InputError(
            f"expected branches {', '.join(lines)}{more} in tree {tree.name!r} of {path!r}; not found among its "
            f"{len(keys)} branches; check the layout (sparse or dense) and the branch names in docs/FORMAT.md"
        )
    for n, kind in (kinds or {}).items():
        found = _content_dtype(tree[n])
        if found is None or found.kind not in ("iu" if kind == "i" else "f"):
            expected = "integer" if kind == "i" else "floating-point"
            raise InputError(
                f"expected {expected} values in branch {n!r} of {path!r}; found type {tree[n].typename!r}; "
                "write the branch with the dtype given in docs/FORMAT.md"
            )


def _content_dtype(branch) -> np.dtype | None:
    interp = branch.interpretation
    inner = getattr(interp, "content", interp)
    dtype = getattr(inner, "to_dtype", None)
    if dtype is None:
        return None
    return np.dtype(dtype).base
