"""Fast simulation (optional extra ``sim``): Pythia8 + fastjet + a CMS-like detector -> E2E ROOT files.

Modules: :mod:`~e2ejax.sim.generate` (Pythia processes and truth),
:mod:`~e2ejax.sim.detector` (response; built on :mod:`~e2ejax.sim.propagate`,
:mod:`~e2ejax.sim.material`, :mod:`~e2ejax.sim.calorimeter`, :mod:`~e2ejax.sim.tracker`),
:mod:`~e2ejax.sim.jets` (anti-kT), :mod:`~e2ejax.sim.samples` (labels),
:mod:`~e2ejax.sim.seeds`, :mod:`~e2ejax.sim.run` (written through :class:`e2ejax.io.EventWriter`),
:mod:`~e2ejax.sim.pileup_library` (the premixed-pileup library) and :mod:`~e2ejax.sim.premix`
(its overlay on events).
Pythia and fastjet are imported only when events are generated or clustered.
"""

from e2ejax.sim.config import DetectorConfig
from e2ejax.sim.pileup_library import simulate_library
from e2ejax.sim.run import simulate
from e2ejax.sim.samples import SAMPLES

__all__ = ["DetectorConfig", "SAMPLES", "simulate", "simulate_library"]
