"""One ``apply`` per model and the pure jitted steps built from it.

``make_steps(model, tx, ...)`` splits an NNX model once into a graph definition
and parameter state (``nnx.split``) and returns plain ``jax.jit`` functions that
``nnx.merge`` inside the trace: ``train_step``, ``eval_step`` and ``predict``.
Training, inference and export all call the same ``apply``.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tqdm.auto import tqdm

from e2ejax.metrics import roc_auc
from e2ejax.nets import VARIABLES, make_apply, predict_from
from e2ejax.training.losses import mass_decorrelation_kl, weighted_bce, weighted_mse

__all__ = ["Batch", "TrainState", "Steps", "make_steps", "evaluate", "validation_metrics", "fit"]


class Batch(NamedTuple):
    """A training batch; padding examples carry weight 0.

    Attributes:
        inputs: tuple of float32 arrays ``[B, ...]`` in the model's ``input_spec`` order.
        targets: float32 ``[B]`` labels (taggers, 0/1) or regression targets.
        weights: float32 ``[B]`` per-example weights.
        mass: float32 ``[B]`` jet mass for the decorrelation term (zeros if unused).
    """

    inputs: tuple
    targets: jax.Array
    weights: jax.Array
    mass: jax.Array


class TrainState(NamedTuple):
    """Everything a step changes: ``params`` (nnx.State of the network's :data:`e2ejax.nets.VARIABLES`:
    its parameters and, with batch normalisation, the running statistics), ``opt_state`` (of the
    parameters), ``step`` (int32 [])."""

    params: Any
    opt_state: Any
    step: jax.Array


class Steps(NamedTuple):
    """The compiled functions of one model (see :func:`make_steps`)."""

    apply: Callable  # (params, *inputs) -> outputs [B, n_outputs], not jitted
    init: Callable  # () -> TrainState
    train_step: Callable  # (state, batch) -> (state, metrics)
    eval_step: Callable  # (params, batch) -> metrics (sums, see make_steps)
    predict: Callable  # (params, *inputs) -> scores [B]
    graphdef: Any
    objective: str = "classification"  # what the single output means (e2ejax.nets.OBJECTIVES)


def _mesh_shardings(mesh: Mesh | None):
    if mesh is None:
        return None, None
    return NamedSharding(mesh, PartitionSpec()), NamedSharding(mesh, PartitionSpec(mesh.axis_names[0]))


def make_steps(
    model: nnx.Module,
    tx: optax.GradientTransformation,
    *,
    objective: str = "classification",
    decorrelation: float = 0.0,
    mass_edges: tuple[float, ...] = tuple(np.linspace(0.0, 300.0, 16)),
    mesh: Mesh | None = None,
) -> Steps:
    """Pure jitted steps for ``model``.

    Args:
        model: an NNX module whose ``__call__`` takes the batch inputs and returns ``[B, 1]``.
        tx: optax optimiser.
        objective: ``"classification"`` (sigmoid BCE on logits, ``predict`` returns
            sigmoid scores) or ``"regression"`` (MSE, ``predict`` returns the output).
        decorrelation: weight of :func:`e2ejax.training.losses.mass_decorrelation_kl` (0 disables).
        mass_edges: static mass bins for the decorrelation term.
        mesh: optional 1-D device mesh; batches are sharded over its axis and
            parameters replicated (data parallelism), same numbers as one device.

    Returns:
        :class:`Steps`. ``train_step`` returns metrics ``{"loss", "grad_norm"}``;
        ``eval_step`` returns sums ``{"loss_sum", "weight_sum"}`` so a loop can
        average over batches exactly, and the raw ``outputs [B]``.
    """
    apply, params0 = make_apply(model)
    train_apply = _train_apply(model)
    predict = predict_from(apply, objective)
    edges = jnp.asarray(mass_edges, jnp.float32)

    def outputs(params, inputs):
        return apply(params, *inputs)[..., 0]

    def loss_of(out, batch: Batch):
        if objective == "regression":
            return weighted_mse(out, batch.targets, batch.weights)
        loss = weighted_bce(out, batch.targets, batch.weights)
        if decorrelation:
            kl = mass_decorrelation_kl(jax.nn.sigmoid(out), batch.mass, batch.targets, batch.weights, edges=edges)
            loss = loss + decorrelation * kl
        return loss

    def per_batch_loss(params, batch: Batch):
        return loss_of(outputs(params, batch.inputs), batch)

    def train_step(state: TrainState, batch: Batch):
        trainable, stats = nnx.split_state(state.params, nnx.Param, ...)
        key = jax.random.fold_in(jax.random.key(0), state.step)

        def train_loss(trainable):
            out, new_stats = train_apply(nnx.merge_state(trainable, stats), key, *batch.inputs)
            return loss_of(out[..., 0], batch), new_stats

        (loss, new_stats), grads = jax.value_and_grad(train_loss, has_aux=True)(trainable)
        updates, opt_state = tx.update(grads, state.opt_state, trainable)
        params = nnx.merge_state(optax.apply_updates(trainable, updates), new_stats)
        metrics = {"loss": loss, "grad_norm": optax.global_norm(grads)}
        return TrainState(params, opt_state, state.step + 1), metrics

    def eval_step(params, batch: Batch):
        w = jnp.sum(batch.weights)
        return {"loss_sum": per_batch_loss(params, batch) * w, "weight_sum": w, "outputs": outputs(params, batch.inputs)}

    def init():
        params = jax.tree.map(jnp.copy, params0)  # steps donate the state
        return TrainState(params, tx.init(nnx.split_state(params, nnx.Param, ...)[0]), jnp.zeros((), jnp.int32))

    replicated, sharded = _mesh_shardings(mesh)
    if mesh is None:
        jit_train = jax.jit(train_step, donate_argnums=0)
        jit_eval = jax.jit(eval_step)
    else:
        jit_train = jax.jit(
            train_step, in_shardings=(replicated, sharded), out_shardings=(replicated, replicated), donate_argnums=0
        )
        jit_eval = jax.jit(eval_step, in_shardings=(replicated, sharded), out_shardings=replicated)
    return Steps(apply, init, jit_train, jit_eval, jax.jit(predict), nnx.graphdef(model), objective)


def _train_apply(model: nnx.Module):
    """``apply(variables, key, *inputs) -> (outputs, batch_stats)``: ``model`` in training mode
    (``model.train()``: batch statistics, active dropout with streams seeded from ``key``),
    returning the updated running statistics with the outputs. The same parameters as the
    inference ``apply``; for networks without batch normalisation or dropout, the same function."""
    train_model = nnx.clone(model)
    train_model.train()
    graphdef, _, rest = nnx.split(train_model, VARIABLES, ...)
    streams = sorted({s.tag for _, s in nnx.iter_graph(train_model) if isinstance(s, nnx.RngStream)})

    def apply(variables, key, *inputs):
        # fresh Variables at this trace level, so batch statistics and streams may update in place
        module = nnx.merge(graphdef, *(jax.tree.map(jnp.asarray, x) for x in (variables, rest)))
        if streams:
            nnx.reseed(module, **{tag: jax.random.fold_in(key, i) for i, tag in enumerate(streams)})
        return module(*inputs), nnx.state(module, nnx.BatchStat)

    return apply


def validation_metrics(steps: Steps, params, batches) -> dict:
    """``{"val_loss"}``: the weighted mean loss over an iterable of :class:`Batch` (exact, not a mean
    of means), and for classification ``"val_auc"``, the ROC AUC of the outputs on the examples of
    non-zero weight (when both classes are present)."""
    loss, weight, outputs, targets = 0.0, 0.0, [], []
    for batch in batches:
        m = steps.eval_step(params, batch)
        loss += float(m["loss_sum"])
        weight += float(m["weight_sum"])
        keep = np.asarray(batch.weights) > 0
        outputs.append(np.asarray(m["outputs"])[keep])
        targets.append(np.asarray(batch.targets)[keep])
    metrics = {"val_loss": loss / max(weight, 1e-12)}
    labels = np.concatenate(targets) if targets else np.zeros(0)
    if steps.objective == "classification" and len(np.unique(labels)) == 2:
        metrics["val_auc"] = roc_auc(labels.astype(int), np.concatenate(outputs))
    return metrics


def evaluate(steps: Steps, params, batches) -> float:
    """Weighted mean loss over an iterable of :class:`Batch` (see :func:`validation_metrics`)."""
    return validation_metrics(steps, params, batches)["val_loss"]


def fit(
    steps: Steps,
    state: TrainState,
    train_batches: Callable[[int], Any],
    val_batches: Callable[[], Any] | None = None,
    *,
    epochs: int,
    patience: int = 3,
    start_epoch: int = 0,
    on_epoch_end: Callable[[int, TrainState, dict, bool], None] | None = None,
    progress: bool = True,
    history_before=(),
    best_params=None,
    steps_per_epoch: int | None = None,
):
    """Train for ``epochs`` epochs with early stopping on the validation loss.

    Args:
        steps: from :func:`make_steps`.
        state: initial (or restored) :class:`TrainState`.
        train_batches: ``epoch -> iterable of Batch`` (shuffled per epoch by the caller).
        val_batches: ``() -> iterable of Batch``; without it the training loss decides.
        epochs: last epoch (exclusive) to run; ``start_epoch`` resumes in the middle.
        patience: epochs without improvement before stopping.
        on_epoch_end: ``(epoch, state, metrics, is_best)`` hook, e.g. to save checkpoints.
        progress: show a tqdm bar per epoch.
        history_before: on resume, the metrics of the epochs already run, so that the best
            score and the patience count continue where they were.
        best_params: on resume, the parameters of the best epoch so far.
        steps_per_epoch: training steps in an epoch, the total of the progress bar (None: not shown).

    Returns:
        ``(state, best_params, history)``; ``history`` is a list of per-epoch metric dicts.
    """
    scores = [h.get("val_loss", h["train_loss"]) for h in history_before]
    best = min(scores, default=float("inf"))
    stale = len(scores) - 1 - scores.index(best) if scores else 0
    best_params = state.params if best_params is None else best_params
    history = []
    for epoch in range(start_epoch, epochs):
        total, n = 0.0, 0
        bar = tqdm(train_batches(epoch), desc=f"epoch {epoch + 1}/{epochs}", total=steps_per_epoch, unit="step",
                   disable=not progress, leave=False)
        for batch in bar:
            state, m = steps.train_step(state, batch)
            total += float(m["loss"])
            n += 1
            bar.set_postfix(loss=f"{total / n:.4f}")
        metrics = {"epoch": epoch + 1, "train_loss": total / max(n, 1), "step": int(state.step)}
        if val_batches is not None:
            metrics.update(validation_metrics(steps, state.params, val_batches()))
        score = metrics.get("val_loss", metrics["train_loss"])
        is_best = score < best
        if is_best:
            best, best_params, stale = score, jax.tree.map(jnp.copy, state.params), 0
        else:
            stale += 1
        history.append(metrics)
        if on_epoch_end is not None:
            on_epoch_end(epoch, state, metrics, is_best)
        if progress:
            shown = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items())
            print(shown + (" (best)" if is_best else ""), flush=True)
        if stale >= patience:
            break
    return state, best_params, history
