"""Model cards and integrity records: JSON values, model sections and their comparison, array records."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from typing import Any, Mapping

import jax
import numpy as np

from e2ejax.errors import InputError
from e2ejax.nets import spec_to_json

__all__ = ["json_value", "model_section", "compare_model_sections", "leaf_record", "abstract_record", "tree_paths",
           "clean_metrics", "structure_mismatch", "card_pileup"]


def model_section(name: str, model) -> dict:
    """The ``model`` section of a card: network name, its config and input spec."""
    return json_value({"name": name, "config": dataclasses.asdict(model.config), "input_spec": spec_to_json(model.input_spec)})


def json_value(obj):
    """``obj`` through a strict JSON round trip (tuples become lists); InputError if impossible."""
    try:
        return json.loads(json.dumps(obj, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"expected a JSON-serialisable model card (str, int, float, bool, None, lists, dicts with str keys), "
            f"got {exc}; convert arrays and tuples with .tolist() / list(...)"
        ) from None


def _flatten_json(obj, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        if not obj:
            return {prefix: {}}
        out = {}
        for k, v in obj.items():
            out.update(_flatten_json(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(obj, list):
        if not obj:
            return {prefix: []}
        out = {}
        for i, v in enumerate(obj):
            out.update(_flatten_json(v, f"{prefix}[{i}]"))
        return out
    return {prefix: obj}


def compare_model_sections(found: Mapping, expected: Mapping) -> list[str]:
    """Differences between two ``model`` sections of model cards, one line per key.

    Nested keys are written ``config.channels`` / ``input_spec[0].shape[2]``. A key
    absent from the checkpoint matches ``null``: a network option added after the
    checkpoint was written, off by default, changes nothing for it.

    Args:
        found: the ``model`` section stored with a checkpoint.
        expected: the ``model`` section of the model being restored.

    Returns:
        Sorted lines ``"key: checkpoint X, expected Y"``; empty when they match.

    Examples:
        >>> compare_model_sections({"name": "vgg", "config": {"width": 8}}, {"name": "vgg", "config": {"width": 16}})
        ['config.width: checkpoint 8, expected 16']
        >>> compare_model_sections({"config": {"width": 8}}, {"config": {"width": 8, "log_scale": None}})
        []
    """
    a, b = _flatten_json(json_value(dict(found))), _flatten_json(json_value(dict(expected)))
    missing = object()
    lines = []
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key, missing), b.get(key, missing)
        if x is missing and y is None:
            continue
        if x != y or type(x) is not type(y):
            show = lambda v: "(absent)" if v is missing else json.dumps(v)  # noqa: E731
            lines.append(f"{key}: checkpoint {show(x)}, expected {show(y)}")
    return lines


def leaf_record(leaf) -> dict:
    """Shape, dtype and SHA-256 of one array (PRNG keys hashed through their key data)."""
    dtype = jax.numpy.result_type(leaf) if not isinstance(leaf, np.ndarray) else leaf.dtype
    if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        data = np.asarray(jax.random.key_data(leaf))
    elif getattr(leaf, "is_fully_addressable", True):
        data = np.asarray(leaf)
    else:
        data = None  # spread over processes: shape and dtype are still checked
    record = {"shape": list(np.shape(leaf)), "dtype": str(dtype)}
    if data is not None:
        record["sha256"] = hashlib.sha256(np.ascontiguousarray(data).tobytes()).hexdigest()
    return record


def abstract_record(leaf) -> dict:
    dtype = leaf.dtype if hasattr(leaf, "dtype") else np.result_type(leaf)
    return {"shape": list(np.shape(leaf)), "dtype": str(dtype)}


def tree_paths(tree) -> list[tuple[str, Any]]:
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    return [(jax.tree_util.keystr(p), leaf) for p, leaf in leaves]


def clean_metrics(metrics: Mapping) -> dict[str, float | None]:
    if not isinstance(metrics, Mapping):
        raise InputError(f"expected metrics as a dict name -> number, got {type(metrics).__name__}")
    out = {}
    for k, v in metrics.items():
        try:
            value = float(v)
        except (TypeError, ValueError):
            raise InputError(f"expected metrics as numbers, got {k}={v!r}") from None
        out[str(k)] = value if math.isfinite(value) else None  # JSON has no NaN; ranks worst
    return out


def structure_mismatch(saved: Mapping, wanted: Mapping) -> str:
    """How two ``{path: {"shape", "dtype"}}`` records of array trees differ ("" when they match).

    Examples:
        >>> structure_mismatch({"a": {"shape": [2], "dtype": "float32"}}, {"a": {"shape": [3], "dtype": "float32"}})
        'different shape or dtype: a (checkpoint [2] float32, abstract [3] float32)'
    """
    missing = sorted(set(wanted) - set(saved))
    extra = sorted(set(saved) - set(wanted))
    changed = [
        f"{p} (checkpoint {saved[p]['shape']} {saved[p]['dtype']}, abstract {wanted[p]['shape']} {wanted[p]['dtype']})"
        for p in sorted(set(saved) & set(wanted))
        if saved[p]["shape"] != wanted[p]["shape"] or saved[p]["dtype"] != wanted[p]["dtype"]
    ]
    parts = []
    if missing:
        parts.append(f"not in the checkpoint: {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else ""))
    if extra:
        parts.append(f"in the checkpoint only: {', '.join(extra[:5])}" + (" ..." if len(extra) > 5 else ""))
    if changed:
        parts.append("different shape or dtype: " + ", ".join(changed[:5]) + (" ..." if len(changed) > 5 else ""))
    return "; ".join(parts)


_PILEUP_FLAG = re.compile(r"--pileup[ =](\S+)")


def card_pileup(card: Mapping, split: str = "train") -> tuple[float, ...] | None:
    """The pileup (mean overlaid interactions) of the ``split`` files of a model card, sorted, one entry per
    distinct value: each file's recorded ``pileup``, else the ``--pileup`` of its ``e2ejax simulate`` command
    (0 when that command has none: the simulation's default). None when a file's pileup is not known
    (a file not written by ``e2ejax simulate``).

    Examples:
        >>> card_pileup({"data": {"train": [{"command": "e2ejax simulate qg --events 10 --pileup 30 -o a.root"},
        ...                                 {"pileup": 0.0}]}})
        (0.0, 30.0)
    """
    files = card.get("data", {}).get(split) or []
    found = set()
    for f in files:
        if "pileup" in f:
            found.add(float(f["pileup"]))
        elif str(f.get("command", "")).startswith("e2ejax simulate"):
            flag = _PILEUP_FLAG.search(f["command"])
            found.add(float(flag.group(1)) if flag else 0.0)
        else:
            return None
    return tuple(sorted(found)) if found else None
