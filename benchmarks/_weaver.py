"""Copying a weaver-core (PyTorch) state dict into an e2ejax module, each tensor exactly once."""

from __future__ import annotations

import numpy as np


class StateDict:
    """A torch ``state_dict`` as NumPy arrays (``num_batches_tracked`` counters left out), read with
    :meth:`take`; :meth:`done` raises when a tensor was never taken."""

    def __init__(self, state_dict):
        self.arrays = {k: v.detach().cpu().numpy() for k, v in state_dict.items() if not k.endswith("num_batches_tracked")}
        self.used: set[str] = set()

    def take(self, key: str) -> np.ndarray:
        self.used.add(key)
        return self.arrays[key]

    def done(self) -> None:
        left = sorted(set(self.arrays) - self.used)
        if left:
            raise ValueError(f"weaver tensors not copied: {left}")


def put(variable, value) -> None:
    """Set an nnx Variable to ``value`` (float32), which must have its shape."""
    if tuple(variable[...].shape) != tuple(np.shape(value)):
        raise ValueError(f"shape {np.shape(value)} does not fit {tuple(variable[...].shape)}")
    variable[...] = np.asarray(value, np.float32)
