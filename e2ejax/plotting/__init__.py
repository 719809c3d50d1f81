"""ROC and loss curves, event and frame displays in the CMS style of mplhep (extra ``plot``).

Four kinds of figure, each from the files e2ejax reads or writes:

* loss curves (:func:`load_history`, :func:`loss_figure`): the per-epoch
  ``train_loss`` / ``val_loss`` of a run, from the ``history.json`` of an
  ``e2ejax train`` run directory or from the ``history`` entry of a checkpoint's
  model card;
* ROC curves (:func:`load_roc_inputs`, :func:`roc_curves`, :func:`roc_figure`):
  the scores of a friend file written by ``e2ejax tag`` (one score branch per
  model, one value per seed slot) against the truth labels (``jet_label`` or
  ``eg_label``, -1 = unknown) of the input file it was tagged from. The curves
  and AUCs are those of :func:`e2ejax.metrics.roc_curve` / :func:`e2ejax.metrics.roc_auc`,
  with bootstrap bands (:func:`bootstrap_band`), axes named by the task's classes
  (:func:`roc_classes`) and the task's baselines computed from the input (:func:`input_baselines`);
* event displays (:func:`read_entry`, :func:`event_figure`): the stitched ECAL, HCAL and
  track images of one event with its seeds and frames;
* frame displays (:func:`frame_saliency`, :func:`frame_figure`): one candidate's frame
  with the gradient of its score overlaid.

Every figure is labelled "e2ejax Simulation Private Work" (:data:`EXPERIMENT_LABEL`): the
samples are a private fast simulation, not CMS results.

Figures are plain :class:`matplotlib.figure.Figure` objects on the Agg canvas
(pyplot and a display are never used) built inside mplhep's CMS style;
:func:`save_figure` writes one under a temporary name and renames it when complete.

Example::

    from e2ejax import plotting
    h = plotting.load_history("runs/egamma")            # or a checkpoint directory
    plotting.save_figure(plotting.loss_figure([h]), "loss.png")
    inputs = plotting.load_roc_inputs(["sim_egamma_scores.root"], "sim_egamma.root")
    curves = plotting.roc_curves(inputs, bootstrap=200)               # 68% bootstrap bands
    classes = plotting.roc_classes("egamma")                          # ("photon", "electron")
    plotting.save_figure(plotting.roc_figure(curves, classes=classes), "roc.png")
"""

from e2ejax.io import RocInputs, load_roc_inputs
from e2ejax.plotting.baselines import better_orientation, input_baselines
from e2ejax.plotting.display import EVENT_CHANNELS, event_figure, frame_figure, read_entry
from e2ejax.plotting.figures import EXPERIMENT_LABEL, check_output, loss_figure, roc_classes, roc_figure, save_figure
from e2ejax.plotting.history import LossHistory, load_history
from e2ejax.plotting.mass import mass_figure
from e2ejax.plotting.roc import RocBand, RocCurve, bootstrap_band, roc_curves
from e2ejax.plotting.saliency import FrameSaliency, frame_saliency

__all__ = ["EVENT_CHANNELS", "EXPERIMENT_LABEL", "FrameSaliency", "LossHistory", "RocBand", "RocCurve",
           "RocInputs", "better_orientation", "bootstrap_band", "check_output", "event_figure", "frame_figure", "frame_saliency",
           "input_baselines", "load_history", "load_roc_inputs", "loss_figure", "mass_figure", "read_entry", "roc_classes",
           "roc_curves", "roc_figure", "save_figure"]
