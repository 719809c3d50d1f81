"""ROC and loss curves in the CMS style of mplhep (extra ``plot``).

Two kinds of figure, each from the files e2ejax writes:

* loss curves (:func:`load_history`, :func:`loss_figure`): the per-epoch
  ``train_loss`` / ``val_loss`` of a run, from the ``history.json`` of an
  ``e2ejax train`` run directory or from the ``history`` entry of a checkpoint's
  model card;
* ROC curves (:func:`load_roc_inputs`, :func:`roc_curves`, :func:`roc_figure`):
  the scores of a friend file written by ``e2ejax tag`` (one score branch per
  model, one value per seed slot) against the truth labels (``jet_label`` or
  ``eg_label``, -1 = unknown) of the input file it was tagged from. The curves
  and AUCs are those of :func:`e2ejax.metrics.roc_curve` / :func:`e2ejax.metrics.roc_auc`.

Figures are plain :class:`matplotlib.figure.Figure` objects on the Agg canvas
(pyplot and a display are never used) built inside mplhep's CMS style;
:func:`save_figure` writes one under a temporary name and renames it when complete.

Example::

    from e2ejax import plotting
    h = plotting.load_history("runs/egamma")            # or a checkpoint directory
    plotting.save_figure(plotting.loss_figure([h]), "loss.png")
    inputs = plotting.load_roc_inputs(["sim_egamma_scores.root"], "sim_egamma.root")
    curves = plotting.roc_curves(inputs)
    plotting.save_figure(plotting.roc_figure(curves, group=inputs.group), "roc.png")
"""

from e2ejax.io import RocInputs, load_roc_inputs
from e2ejax.plotting.figures import CLASS_NAMES, check_output, loss_figure, roc_figure, save_figure
from e2ejax.plotting.history import LossHistory, load_history
from e2ejax.plotting.roc import RocCurve, roc_curves

__all__ = ["CLASS_NAMES", "LossHistory", "RocCurve", "RocInputs", "check_output", "load_history", "load_roc_inputs",
           "loss_figure", "roc_curves", "roc_figure", "save_figure"]
