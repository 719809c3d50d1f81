"""e2ejax: the CMS End-to-End deep-learning reconstruction as pure JAX.

Subpackages: :mod:`e2ejax.geometry` (CMS grids), :mod:`e2ejax.ops` (images,
upsampling, seeds, frames, graphs), :mod:`e2ejax.io` (ROOT I/O) and
:mod:`e2ejax.sim` (Pythia8 fast simulation, extra ``sim``).
"""

__version__ = "0.1.0"

from e2ejax import geometry, ops
from e2ejax.errors import E2EJaxError, InputError, MissingDependencyError

__all__ = ["__version__", "geometry", "ops", "E2EJaxError", "InputError", "MissingDependencyError"]
