"""e2ejax: the CMS End-to-End deep-learning reconstruction as pure JAX.

Subpackages: :mod:`e2ejax.geometry` (CMS grids), :mod:`e2ejax.ops` (images,
upsampling, seeds, frames, graphs), :mod:`e2ejax.io` (ROOT I/O) and
:mod:`e2ejax.sim` (Pythia8 fast simulation, extra ``sim``). ``e2ejax.Tagger.from_pretrained("egamma")``
gives a ready tagger (:mod:`e2ejax.pipeline`).
"""

__version__ = "0.1.0"

from e2ejax import geometry, ops
from e2ejax.errors import E2EJaxError, InputError, MissingDependencyError

__all__ = ["__version__", "geometry", "ops", "E2EJaxError", "InputError", "MissingDependencyError", "Tagger"]


def __getattr__(name):
    # the tagger pulls in Flax and optax: import it on first use only
    if name == "Tagger":
        from e2ejax.inference import Tagger

        return Tagger
    raise AttributeError(f"module 'e2ejax' has no attribute {name!r}")
