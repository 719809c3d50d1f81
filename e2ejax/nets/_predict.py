"""One ``apply`` per model and the inference function built from it (no optimiser needed)."""

from __future__ import annotations

import jax
from flax import nnx

__all__ = ["OBJECTIVES", "VARIABLES", "make_apply", "make_predict", "predict_from"]

#: what a network's single output means: a logit (sigmoid scores) or the regressed value itself
OBJECTIVES = ("classification", "regression")

#: the variables of a network that ``apply`` takes and a checkpoint saves as its ``params``: the
#: trained parameters and, for networks with batch normalisation, its running statistics
VARIABLES = (nnx.Param, nnx.BatchStat)


def make_apply(model: nnx.Module):
    """Split ``model`` into ``(apply, params)`` with ``apply(params, *inputs) -> model(*inputs)``.

    ``params`` holds the :data:`VARIABLES` (parameters and batch-norm statistics); the rest
    (e.g. dropout streams, unused in inference mode) is closed over as constants.

    Examples:
        >>> import jax.numpy as jnp
        >>> from flax import nnx
        >>> apply, params = make_apply(nnx.Linear(2, 1, rngs=nnx.Rngs(0)))
        >>> apply(params, jnp.ones((3, 2))).shape
        (3, 1)
    """
    graphdef, params, rest = nnx.split(model, VARIABLES, ...)

    def apply(params, *inputs):
        return nnx.merge(graphdef, params, rest)(*inputs)

    return apply, params


def make_predict(model: nnx.Module, *, objective: str = "classification"):
    """``(predict, params)`` with ``predict(params, *inputs) -> [B]``: sigmoid scores for
    ``objective="classification"``, the raw output for ``"regression"``. Not jitted.

    This is the function that training evaluates, inference runs and export traces.
    """
    apply, params = make_apply(model)
    return predict_from(apply, objective), params


def predict_from(apply, objective: str):
    """The ``predict`` of an ``apply`` (see :func:`make_predict`)."""
    if objective not in OBJECTIVES:
        raise ValueError(f"expected objective 'classification' or 'regression', got {objective!r}")

    def predict(params, *inputs):
        out = apply(params, *inputs)[..., 0]
        return jax.nn.sigmoid(out) if objective == "classification" else out

    return predict
