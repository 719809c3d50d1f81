"""Saliency: which ECAL hits drive the shipped e/gamma score, by differentiating through the chain.

Run: ``python examples/saliency.py``. The score of each e/gamma candidate is a
function of the hit energies (hits -> image -> seed -> frame -> CNN), all in
JAX, so ``jax.grad`` gives d(score)/d(E_hit) for every EB hit of the event.
The same gradient with respect to the frame pixels, drawn over the frame:
``e2ejax plot frame e2ejax/data/sim_egamma.root --entry 0 --model egamma -o frame.png``
(:func:`e2ejax.plotting.frame_saliency`).
"""

import jax
import jax.numpy as jnp
import numpy as np

from e2ejax.io import iterate_events
from e2ejax.inference import Tagger
from e2ejax import tasks

tagger = Tagger.from_pretrained("egamma", backend="xla")
score = tagger.score_fn()  # events -> scores [B, S]
events = next(iter(iterate_events(str(tasks.get("egamma").sample_path), step_size=4)))
events = {k: np.asarray(v) for k, v in events.items()}


def total_score(eb_energy):
    return score(dict(events, eb_energy=eb_energy))[0].sum()


grad = np.asarray(jax.grad(total_score)(jnp.asarray(events["eb_energy"])))[0]
mask = events["eb_mask"][0]
order = np.argsort(-np.abs(grad) * mask)[:5]
print(f"event {events['event'][0]}: score {float(total_score(jnp.asarray(events['eb_energy']))):.3f}")
for i in order:
    print(f"  EB hit ieta {events['eb_ieta'][0, i]:4d} iphi {events['eb_iphi'][0, i]:4d} "
          f"E {events['eb_energy'][0, i]:7.2f} GeV  d(score)/dE {grad[i]:+.4f} /GeV")
