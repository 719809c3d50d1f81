"""Deep Sets jet-calibration regressor over several constituent types."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import nnx

from e2ejax.nets._spec import InputSpec
from e2ejax.ops import segment_sum

__all__ = ["DeepSetsConfig", "DeepSetsCalibration"]


@dataclass(frozen=True)
class DeepSetsConfig:
    """Deep Sets calibration.

    Attributes:
        n_constituents: padded constituents per jet.
        n_features: features per constituent (e.g. log pT, deta, dphi, pT fraction).
        n_types: constituent types (charged hadron, electron, muon, photon, neutral hadron).
        n_jet_features: jet-level inputs (e.g. log pT, eta, mass / pT).
        hidden: width of the per-type MLP and of the jet MLP.
    """

    n_constituents: int = 64
    n_features: int = 4
    n_types: int = 5
    n_jet_features: int = 3
    hidden: int = 64


class DeepSetsCalibration(nnx.Module):
    """Predicts ``log(pT_true / pT_reco)`` per jet.

    Each constituent type has its own MLP, shared by all constituents of that
    type; outputs are summed per (jet, type) with a masked segment sum, then a
    jet-level MLP maps the concatenated sums and the jet features to the log
    correction. Inputs: ``constituents [B, N, F]``, ``types [B, N]`` (type index
    as float), ``mask [B, N]`` (1.0 real), ``jet [B, J]`` -> ``[B, 1]``.
    """

    def __init__(self, config: DeepSetsConfig, *, rngs: nnx.Rngs):
        self.config = config
        c = config
        self.phi1 = nnx.List([nnx.Linear(c.n_features, c.hidden, rngs=rngs) for _ in range(c.n_types)])
        self.phi2 = nnx.List([nnx.Linear(c.hidden, c.hidden, rngs=rngs) for _ in range(c.n_types)])
        self.rho1 = nnx.Linear(c.n_types * c.hidden + c.n_jet_features, c.hidden, rngs=rngs)
        self.rho2 = nnx.Linear(c.hidden, c.hidden, rngs=rngs)
        self.out = nnx.Linear(c.hidden, 1, rngs=rngs)

    @property
    def input_spec(self) -> tuple[InputSpec, ...]:
        c = self.config
        return (
            InputSpec("constituents", (c.n_constituents, c.n_features), "per-constituent features"),
            InputSpec("types", (c.n_constituents,), "constituent type index (0..n_types-1) as float"),
            InputSpec("mask", (c.n_constituents,), "1.0 for real constituents, 0.0 for padding"),
            InputSpec("jet", (c.n_jet_features,), "jet-level features"),
        )

    def __call__(self, constituents, types, mask, jet):
        c = self.config
        type_index = jnp.clip(jnp.round(types).astype(jnp.int32), 0, c.n_types - 1)
        per_type = jnp.stack(
            [self.phi2[t](jax.nn.relu(self.phi1[t](constituents))) for t in range(c.n_types)], axis=2
        )  # [B, N, T, H]
        h = jnp.take_along_axis(per_type, type_index[..., None, None], axis=2)[:, :, 0]  # [B, N, H]
        h = jax.nn.relu(h)

        sums = segment_sum(h, type_index, num_segments=c.n_types, mask=mask > 0.5, method="onehot")  # [B, T, H]
        x = jnp.concatenate([sums.reshape(sums.shape[0], -1), jet], axis=-1)
        return self.out(jax.nn.relu(self.rho2(jax.nn.relu(self.rho1(x)))))
