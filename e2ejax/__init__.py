"""e2ejax: the CMS End-to-End deep-learning reconstruction as pure JAX.

Packages, from the bottom up (docs/ARCHITECTURE.md): :mod:`e2ejax.tasks` (the task registry),
:mod:`e2ejax.geometry` (CMS grids), :mod:`e2ejax.ops` (images, upsampling, seeds, frames,
graphs), :mod:`e2ejax.nets` (Flax NNX networks), :mod:`e2ejax.io` (ROOT I/O),
:mod:`e2ejax.inputs` (network inputs of each task), :mod:`e2ejax.store` (checkpoints, model
cards), :mod:`e2ejax.training`, :mod:`e2ejax.inference`, :mod:`e2ejax.plotting` and
:mod:`e2ejax.sim` (Pythia8 fast simulation, extra ``sim``).
``e2ejax.Tagger.from_pretrained("egamma")`` gives a ready tagger (:mod:`e2ejax.inference`).
"""

__version__ = "0.1.0"

from e2ejax.errors import E2EJaxError, InputError, MissingDependencyError

__all__ = ["__version__", "geometry", "ops", "E2EJaxError", "InputError", "MissingDependencyError", "Tagger"]


def __getattr__(name):
    # imported on first use: each pulls in JAX (the tagger Flax and ONNX Runtime too), which
    # ``import e2ejax`` and ``e2ejax --help`` must not pay for
    if name == "geometry":
        import e2ejax.geometry as value
    elif name == "ops":
        import e2ejax.ops as value
    elif name == "Tagger":
        from e2ejax.inference import Tagger as value
    else:
        raise AttributeError(f"module 'e2ejax' has no attribute {name!r}")
    globals()[name] = value
    return value
