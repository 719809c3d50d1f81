"""Named inputs of a network: what export, checkpoints and the pipeline agree on."""

from __future__ import annotations

from typing import NamedTuple


class InputSpec(NamedTuple):
    """One named float32 input; ``shape`` excludes the leading batch axis.

    Attributes:
        name: input name, used for ONNX / TF signatures and model cards.
        shape: per-example shape, e.g. ``(125, 125, 3)``.
        doc: what the input holds (units, layout).
    """

    name: str
    shape: tuple[int, ...]
    doc: str


def spec_to_json(specs: tuple[InputSpec, ...]) -> list[dict]:
    """JSON-able form of a tuple of :class:`InputSpec`.

    Examples:
        >>> spec_to_json((InputSpec("frames", (32, 32, 1), "ECAL energy"),))
        [{'name': 'frames', 'shape': [32, 32, 1], 'doc': 'ECAL energy', 'dtype': 'float32'}]
    """
    return [{"name": s.name, "shape": list(s.shape), "doc": s.doc, "dtype": "float32"} for s in specs]
