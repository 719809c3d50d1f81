"""The tagger: events -> images -> seeds -> frames -> network scores, on one of two backends.

* ``xla``: the whole chain is one jitted JAX function (default on GPU/TPU and
  whenever gradients are wanted).
* ``onnxruntime``: the ops stay in jitted JAX, the network runs from its ONNX
  export in ONNX Runtime (the faster CPU backend for convolutions).
* ``auto``: ONNX Runtime on CPU, XLA on accelerators.

A :class:`Tagger` holds no mutable state after construction, so one instance
can be shared by threads (JAX jitted calls and ``InferenceSession.run`` are
thread-safe). Bound threads with ``threads=`` (ONNX Runtime intra-op threads)
and, for XLA, ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false
intra_op_parallelism_threads=1`` in the environment.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from e2ejax.errors import InputError
from e2ejax.features import TASKS, egamma_inputs, frames_to_points, jet_inputs, trim_seed_slots
from e2ejax.train import make_predict

__all__ = ["Tagger", "TagResult", "resolve_backend", "tag_files"]


class TagResult(NamedTuple):
    """Scores of every seed of a batch of events.

    Attributes:
        scores: float32 ``[B, S]`` (0 where ``mask`` is false).
        mask: bool ``[B, S]``, true for real seeds (jets or e/gamma candidates).
        in_acceptance: bool ``[B, S]``, frame fully inside the image in eta.
        seeds: int32 ``[B, S, 2]`` seed cells in the stitched grid.
    """

    scores: np.ndarray
    mask: np.ndarray
    in_acceptance: np.ndarray
    seeds: np.ndarray


def resolve_backend(backend: str) -> str:
    """``auto`` -> ``onnxruntime`` on CPU, ``xla`` on GPU/TPU; others are checked and returned."""
    if backend not in ("auto", "xla", "onnxruntime"):
        raise InputError(f"unknown backend {backend!r}; expected 'auto', 'xla' or 'onnxruntime'")
    if backend == "auto":
        return "onnxruntime" if jax.default_backend() == "cpu" else "xla"
    return backend


class Tagger:
    """Score the jets or e/gamma candidates of events with one network.

    Args:
        model: an e2ejax network whose inputs match ``task`` (frames, or points for the GNN).
        task: ``"qg"``, ``"top"``, ``"tau"`` or ``"egamma"`` (see :data:`e2ejax.features.TASKS`).
        backend: ``"auto"``, ``"xla"`` or ``"onnxruntime"``.
        onnx_path: an existing ONNX export of ``model``; exported on the fly when missing.
        threads: ONNX Runtime intra-op threads (1, as production frameworks run it).

    Examples:
        >>> from flax import nnx
        >>> from e2ejax import nets
        >>> tagger = Tagger(nets.build("vgg", {}, rngs=nnx.Rngs(0)), task="egamma", backend="xla")
        >>> tagger.backend
        'xla'
    """

    def __init__(self, model, *, task: str, backend: str = "auto", onnx_path=None, threads: int = 1):
        if task not in TASKS:
            raise InputError(f"unknown task {task!r}; expected one of {sorted(TASKS)}")
        self.task = task
        self.model = model
        self.backend = resolve_backend(backend)
        self.graph = len(model.input_spec) == 2 and model.input_spec[0].name == "points"
        predict, params = make_predict(model)
        self._params = params
        self._inputs = jax.jit(self._model_inputs)
        self._predict_fn = predict
        self._predict = jax.jit(predict)
        self._session = None
        if self.backend == "onnxruntime":
            from e2ejax.export import onnx_session, to_onnx

            if onnx_path is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="e2ejax-")
                onnx_path = to_onnx(model, Path(self._tmp.name) / "model.onnx")
            self._session = onnx_session(onnx_path, threads=threads)
            self._names = [s.name for s in model.input_spec]

    def _model_inputs(self, events):
        if TASKS[self.task][2] == "egamma":
            frames, seeds, mask, ok = egamma_inputs(events)
        else:
            frames, seeds, mask, ok = jet_inputs(events, task=self.task)
        B, S = frames.shape[:2]
        if self.graph:
            inputs = frames_to_points(frames, n_points=self.model.config.n_points)
        else:
            inputs = (frames.reshape((B * S,) + frames.shape[2:]),)
        return inputs, seeds, mask, ok

    def inputs(self, events: Mapping):
        """The network inputs of ``events`` (flattened over seeds) and the seed bookkeeping."""
        return self._inputs(dict(events))

    @property
    def group(self) -> str:
        """The seed group scored: ``"eg"`` for e/gamma, ``"jet"`` for jet tasks."""
        return "eg" if TASKS[self.task][2] == "egamma" else "jet"

    def __call__(self, events: Mapping) -> TagResult:
        """Score every seed of a batch of padded events (see :mod:`e2ejax.features` for the fields).

        Trailing empty seed slots are dropped first (:func:`e2ejax.features.trim_seed_slots`),
        so the result's ``S`` may be smaller than the input's padded size.
        """
        inputs, seeds, mask, ok = self._inputs(trim_seed_slots(events, self.group))
        B, S = mask.shape
        scores = self.network(inputs)
        mask = np.asarray(mask)
        scores = np.where(mask, scores.reshape(B, S), 0.0).astype(np.float32)
        return TagResult(scores, mask, np.asarray(ok) & mask, np.asarray(seeds))

    def network(self, inputs) -> np.ndarray:
        """The network alone on the backend: model inputs (flattened over seeds) -> float32 scores ``[N]``."""
        if self._session is None:
            return np.asarray(self._predict(self._params, *inputs))
        return self._session.run(["scores"], {n: np.asarray(x) for n, x in zip(self._names, inputs)})[0]

    @classmethod
    def from_pretrained(cls, name_or_path, *, backend: str = "auto", threads: int = 1) -> "Tagger":
        """A tagger for a shipped model name (``egamma``, ``qg``, ``top``, ``tau``) or a checkpoint
        directory; a ``model.onnx`` exported beside the checkpoint is used when present."""
        from e2ejax.models import load_model, resolve_checkpoint

        model, card, _ = load_model(name_or_path)
        onnx_path = resolve_checkpoint(name_or_path) / "model.onnx"
        return cls(model, task=card["task"], backend=backend, onnx_path=onnx_path if onnx_path.exists() else None, threads=threads)

    def score_fn(self):
        """A pure JAX function ``events -> scores [B, S]`` (XLA), for gradients such as saliency."""
        predict, params = self._predict_fn, self._params

        def scores(events):
            inputs, _, mask, _ = self._model_inputs(events)
            return jnp.where(mask, predict(params, *inputs).reshape(mask.shape), 0.0)

        return scores


def tag_files(taggers: Mapping[str, Tagger], files, output, *, step_size: int = 256, max_events=None, progress: bool = True) -> dict:
    """Tag every event of ``files`` (one input file) with one or more taggers of the same seed kind,
    writing a friend tree aligned entry by entry with the input.

    Args:
        taggers: score name -> :class:`Tagger` (all jet taggers, or all e/gamma).
        files: one ROOT file (``path`` or ``path:tree``).
        output: ``.root`` (or ``.parquet``) path; written under a temporary name and renamed.
        step_size: events per batch.

    Returns:
        Summary: ``events``, ``seeds``, ``in_acceptance`` fraction, ``seconds``, ``events_per_s``,
        ``seeds_per_s`` and, where truth labels are present, ``auc`` per tagger.
    """
    import time

    from tqdm.auto import tqdm

    from e2ejax.io import PredictionWriter, iterate_events
    from e2ejax.metrics import roc_auc

    kinds = {TASKS[t.task][2] for t in taggers.values()}
    if len(kinds) != 1:
        raise InputError(f"expected taggers of one seed kind (all jet or all e/gamma), found tasks {[t.task for t in taggers.values()]}")
    group = "eg" if kinds == {"egamma"} else "jet"
    label_name = f"{group}_label"
    n_events = n_seeds = n_ok = 0
    scores_all = {name: [] for name in taggers}
    labels_all = []
    t0 = time.perf_counter()
    bar = tqdm(desc="tag", unit="ev", disable=not progress)
    with PredictionWriter(output, group=group) as writer:
        for batch in iterate_events(files, step_size=step_size, max_events=max_events):
            results = {name: tagger(batch) for name, tagger in taggers.items()}
            first = next(iter(results.values()))
            writer.write({name: r.scores for name, r in results.items()}, mask=first.mask, batch=batch)
            n_events += len(first.mask)
            n_seeds += int(first.mask.sum())
            n_ok += int(first.in_acceptance.sum())
            if label_name in batch:
                labels = np.asarray(batch[label_name])[:, : first.mask.shape[1]]
                keep = first.mask & (labels >= 0)
                labels_all.append(labels[keep])
                for name, r in results.items():
                    scores_all[name].append(r.scores[keep])
            bar.update(len(first.mask))
    bar.close()
    seconds = time.perf_counter() - t0
    summary = {
        "events": n_events, "seeds": n_seeds, "in_acceptance": n_ok / max(n_seeds, 1), "seconds": seconds,
        "events_per_s": n_events / max(seconds, 1e-9), "seeds_per_s": n_seeds / max(seconds, 1e-9),
    }
    if labels_all:
        labels = np.concatenate(labels_all)
        if len(np.unique(labels)) == 2:
            summary["auc"] = {name: roc_auc(labels, np.concatenate(s)) for name, s in scores_all.items()}
    return summary
