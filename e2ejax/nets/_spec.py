"""Named inputs of a network: what export, checkpoints and the pipeline agree on."""

from __future__ import annotations

from typing import NamedTuple


class InputSpec(NamedTuple):
    """One named float32 input; ``shape`` excludes the leading batch axis.

    Attributes:
        name: input name, used for ONNX / TF signatures and model cards.
        shape: per-example shape, e.g. ``(125, 125, 3)``; a string names an axis of any size,
            symbolic in exported models (``("P", 15)``: any number of particles, the same
            ``P`` in every input that names it).
        doc: what the input holds (units, layout).
    """

    name: str
    shape: tuple[int, ...]
    doc: str


def spec_mismatch(specs: tuple[InputSpec, ...], shapes) -> str | None:
    """Why array ``shapes`` (batch axis first) do not fit ``specs``, or None when they do: fixed
    axes must be equal, a named axis takes one size across all inputs, the batch is shared.

    Examples:
        >>> specs = (InputSpec("features", ("P", 3), ""), InputSpec("mask", ("P",), ""))
        >>> spec_mismatch(specs, [(2, 10, 3), (2, 10)]) is None, spec_mismatch(specs, [(2, 10, 3), (2, 12)])
        (True, "expected one size of axis 'P' in every input; found {'features': 10, 'mask': 12}")
    """
    sizes: dict[str, dict[str, int]] = {}
    for spec, shape in zip(specs, shapes):
        shape = tuple(shape)
        if len(shape) != len(spec.shape) + 1 or any(isinstance(d, int) and d != n for d, n in zip(spec.shape, shape[1:])):
            dims = ", ".join(map(str, spec.shape))
            return f"expected network input {spec.name!r} of shape [N, {dims}]; found {shape}"
        for d, n in zip(spec.shape, shape[1:]):
            if not isinstance(d, int):
                sizes.setdefault(d, {})[spec.name] = n
    for axis, seen in sizes.items():
        if len(set(seen.values())) > 1:
            return f"expected one size of axis {axis!r} in every input; found {seen}"
    if len({tuple(s)[:1] for s in shapes}) > 1:
        return f"expected one batch size N for all network inputs; found {sorted({tuple(s)[0] for s in shapes})}"
    return None


def spec_to_json(specs: tuple[InputSpec, ...]) -> list[dict]:
    """JSON-able form of a tuple of :class:`InputSpec`.

    Examples:
        >>> spec_to_json((InputSpec("frames", (32, 32, 1), "ECAL energy"),))
        [{'name': 'frames', 'shape': [32, 32, 1], 'doc': 'ECAL energy', 'dtype': 'float32'}]
    """
    return [{"name": s.name, "shape": list(s.shape), "doc": s.doc, "dtype": "float32"} for s in specs]
