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

import functools
import warnings
from typing import Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from e2ejax import conventions as conventions_
from e2ejax import tasks
from e2ejax.errors import InputError
from e2ejax.inference.export import check_export_card, onnx_session
from e2ejax.inference.onnx_cache import cached_onnx, temporary_onnx
from e2ejax.inference.seed_rows import builder_events, check_events, check_max_rows, pad_rows, rows_per_call
from e2ejax.inputs import (
    ParticleOverflowWarning,
    gnn_points,
    jet_particles,
    jet_seed_cells,
    particle_examples,
    particle_inputs,
    seed_frames,
    trim_seed_slots,
)
from e2ejax.nets import make_predict, spec_mismatch, takes_particles, takes_points
from e2ejax.store import card_pileup, load_model, resolve_checkpoint

__all__ = ["Tagger", "TagResult", "resolve_backend"]


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
        task: a tagger task of :mod:`e2ejax.tasks` (``"qg"``, ``"top"``, ``"tau"`` or ``"egamma"``).
        backend: ``"auto"``, ``"xla"`` or ``"onnxruntime"``.
        onnx_path: an existing ONNX export of ``model``; exported on the fly (to a temporary
            folder) when missing.
        threads: ONNX Runtime intra-op threads (1, as production frameworks run it).
        max_rows: seeds per frame-building and network call (a :func:`pad_rows` size);
            default: as many as fit :data:`~e2ejax.inference.seed_rows.CALL_BYTES` of frames (top 32, qg 64, tau 48,
            e/gamma 4096). Bounds the memory of one call whatever the batch holds.
        conventions: the input conventions the model was trained with (:mod:`e2ejax.conventions`;
            default :data:`~e2ejax.conventions.DEFAULTS`): images built from sparse hits follow
            them, and a batch whose stored images declare others is refused.
        accept_units: score stored images whose ``image_units`` differ from the model's.

    Examples:
        >>> from flax import nnx
        >>> from e2ejax import nets
        >>> tagger = Tagger(nets.build("vgg", {}, rngs=nnx.Rngs(0)), task="egamma", backend="xla")
        >>> tagger.backend
        'xla'
    """

    def __init__(self, model, *, task: str, backend: str = "auto", onnx_path=None, threads: int = 1, max_rows=None,
                 conventions=None, accept_units: bool = False):
        if task in tasks.TASKS and not tasks.get(task).is_tagger:
            raise InputError(f"expected a tagger (task {', '.join(tasks.taggers())}); found a {tasks.get(task).title} model (task {task}, "
                             f"objective {tasks.get(task).objective}): apply it with e2ejax.inputs.jet_constituents and "
                             "e2ejax.nets.make_predict(model, objective='regression'), see the README")
        if task not in tasks.taggers():
            raise InputError(f"unknown task {task!r}; expected one of {sorted(tasks.taggers())}")
        self.task = task
        self.model = model
        #: the model's name and the pileup of its training files (from its card; None: not known, not checked)
        self.name, self.training_pileup = type(model).__name__, None
        self.conventions = {**conventions_.DEFAULTS, **dict(conventions or {})}
        conventions_.check_track_impact(self.conventions["track_impact"])
        self.accept_units = bool(accept_units)
        self.max_rows = check_max_rows(max_rows) if max_rows is not None else rows_per_call(task)
        self.backend = resolve_backend(backend)
        self.graph = takes_points(model)
        self.particles = takes_particles(model)
        if self.particles and tasks.get(task).n_particles == 0:
            raise InputError(f"expected a jet task for the particle network {type(model).__name__}; found task {task!r}, "
                             f"whose candidates are not jets: pick one of "
                             f"{[n for n in tasks.taggers() if tasks.get(n).n_particles]}")
        self._names = [s.name for s in model.input_spec]
        self._jet_seeds = jax.jit(functools.partial(jet_seed_cells, task=task)) if self.particles else None
        predict, params = make_predict(model)
        self._params = params
        self._seed_frames = jax.jit(functools.partial(seed_frames, task=task, track_impact=self.conventions["track_impact"]))
        # a separate program: fused with the frame scatter, the point selection ran 2x slower on XLA CPU
        self._points = jax.jit(self._to_inputs)
        self._predict_fn = predict
        self._predict = jax.jit(predict)
        self._session = None
        if self.backend == "onnxruntime":
            if onnx_path is None:
                onnx_path, self._tmp = temporary_onnx(model)
            self._session = onnx_session(onnx_path, threads=threads)

    def _to_inputs(self, frames):
        return gnn_points(frames, n_points=self.model.config.n_points) if self.graph else (frames,)

    def network_inputs(self, frames, n_rows: int):
        """Network inputs from seed frames ``[R, h, w, C]``: points for the GNN; on ONNX Runtime
        only the first ``n_rows`` (the real seeds; it takes any batch), on XLA all ``R``."""
        inputs = self._points(frames) if self.graph else (frames,)
        if self._session is not None:
            inputs = tuple(np.asarray(x)[:n_rows] for x in inputs)
        return inputs

    def seed_inputs(self, events: Mapping):
        """The network inputs of the real seeds of a batch, and the seed bookkeeping.

        Padded seed slots (two to three times the real seeds on the shipped jet
        samples) get no frame or network work. Trailing empty slots are dropped first
        (:func:`e2ejax.inputs.trim_seed_slots`). The seeds go in equal parts of at most
        ``max_rows``, so the memory of one call is bounded whatever the batch holds.
        The frames are built from :func:`builder_events`, so a file's batches share a
        few compiled programs.

        Returns:
            ``(parts, rows, seeds, mask, in_acceptance)``: ``rows = np.flatnonzero(mask)``
            are the real seeds among the flattened ``B x S`` slots; ``parts`` is a list
            of ``(inputs, n)``, the network inputs of the next ``n`` of those rows in
            order (on XLA followed by padding rows up to :func:`pad_rows`' size);
            ``seeds`` int32 ``[B, S, 2]``, ``mask`` and ``in_acceptance`` bool ``[B, S]``.
        """
        if self.particles:
            return self._particle_seed_inputs(events)
        # events declaring no conventions hold sparse hits: their images are built here, in GeV
        declared = getattr(events, "conventions", None) or {"image_units": "GeV"}
        conventions_.check(self.conventions, declared, channels=tasks.get(self.task).channels,
                           where=getattr(events, "file", "the events"), accept_units=self.accept_units)
        events = check_events(events)
        trimmed = trim_seed_slots(events, self.group)
        kept = np.asarray(trimmed.get(f"{self.group}_mask", np.zeros((0, 0), bool)))
        rows = np.flatnonzero(kept)
        built, at = builder_events(events, trimmed, self.task)
        parts = []
        for part, part_at in zip(self.row_parts(rows), self.row_parts(at)):
            frames, seeds, mask, in_acceptance = self._seed_frames(built, rows=pad_rows(part_at))
            parts.append((self.network_inputs(frames, part.size), part.size))
        b, s = kept.shape  # the builder's events may hold more events and slots than these
        return parts, rows, np.asarray(seeds)[:b, :s], np.asarray(mask)[:b, :s], np.asarray(in_acceptance)[:b, :s]

    def _particle_seed_inputs(self, events: Mapping):
        """:meth:`seed_inputs` of a particle network: each real jet's candidates
        (:func:`e2ejax.inputs.jet_particles`, ``tasks.get(task).n_particles`` of them), the
        seeds of the same jets as the image taggers (:func:`e2ejax.inputs.jet_seed_cells`)."""
        where = getattr(events, "file", "the events")
        events = check_events(events)
        trimmed = trim_seed_slots(events, self.group)
        rows = np.flatnonzero(np.asarray(trimmed[self.group + "_mask"]))
        n_particles = tasks.get(self.task).n_particles
        inputs, overflow = particle_examples(trimmed, n_particles=n_particles, names=self._names, slots=rows,
                                             what=f"the particle network {type(self.model).__name__}")
        seeds, mask, in_acceptance = self._jet_seeds(trimmed)
        if overflow:
            warnings.warn(ParticleOverflowWarning(
                f"{overflow} candidates beyond the {n_particles} highest-pT ones of their jet in {where} were not used by "
                f"{type(self.model).__name__}"), stacklevel=3)
        parts, start = [], 0
        for part in self.row_parts(rows):
            take = np.arange(start, start + part.size)
            if self._session is None:  # XLA: a few padded sizes, so a few compiled programs
                take = pad_rows(take)
            parts.append((tuple(x[take] if len(x) else np.zeros((take.size,) + x.shape[1:], x.dtype) for x in inputs),
                          part.size))
            start += part.size
        return parts, rows, np.asarray(seeds), np.asarray(mask), np.asarray(in_acceptance)

    def row_parts(self, rows: np.ndarray) -> list[np.ndarray]:
        """``rows`` in equal consecutive parts of at most ``max_rows`` (one empty part when there are none):
        few distinct padded sizes, so few compiled programs.

        Examples:
            >>> from flax import nnx
            >>> from e2ejax import nets
            >>> tagger = Tagger(nets.build("vgg", {}, rngs=nnx.Rngs(0)), task="egamma", backend="xla", max_rows=8)
            >>> [p.tolist() for p in tagger.row_parts(np.arange(10))]
            [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
        """
        return np.array_split(rows, max(-(-len(rows) // self.max_rows), 1))

    @property
    def hit_groups(self) -> tuple[str, ...]:
        """The sparse groups a file must hold for this tagger: its task's, and ``pf`` for a particle network."""
        groups = tasks.get(self.task).hit_groups
        return groups + ("pf",) if self.particles else groups

    @property
    def group(self) -> str:
        """The seed group scored (:attr:`e2ejax.tasks.Task.seed_group`): ``"eg"`` for e/gamma, ``"jet"`` for jet tasks."""
        return tasks.get(self.task).seed_group

    def __call__(self, events: Mapping) -> TagResult:
        """Score every seed of a batch of padded events (see :mod:`e2ejax.inputs.images` for the fields).

        Trailing empty seed slots are dropped first (:func:`e2ejax.inputs.trim_seed_slots`),
        so the result's ``S`` may be smaller than the input's padded size.
        """
        return self.score_seeds(self.seed_inputs(events))

    def score_seeds(self, prepared) -> TagResult:
        """The network step alone: scores from the output of :meth:`seed_inputs`.

        ``tagger(events) == tagger.score_seeds(tagger.seed_inputs(events))``; split so the
        inputs of the next batch can be built (in another thread) while the network runs.
        """
        parts, rows, seeds, mask, in_acceptance = prepared
        scores = np.zeros(mask.size, np.float32)
        if rows.size:
            scores[rows] = np.concatenate([self.network(inputs)[:n] for inputs, n in parts])
        return TagResult(scores.reshape(mask.shape), mask, in_acceptance & mask, seeds)

    def network(self, inputs) -> np.ndarray:
        """The network alone on the backend: model inputs (flattened over seeds) -> float32 scores ``[N]``.

        Raises:
            InputError: when the inputs do not match ``model.input_spec`` in number, shape or batch size.
        """
        self._check_inputs(inputs)
        if self._session is None:
            return np.asarray(self._predict(self._params, *inputs))
        return self._session.run(["scores"], {n: np.asarray(x) for n, x in zip(self._names, inputs)})[0]

    def _check_inputs(self, inputs) -> None:
        specs = self.model.input_spec
        if not isinstance(inputs, (tuple, list)) or len(inputs) != len(specs):
            found = len(inputs) if isinstance(inputs, (tuple, list)) else type(inputs).__name__
            raise InputError(f"expected {len(specs)} network input(s) {[s.name for s in specs]} as a tuple; found {found}")
        problem = spec_mismatch(specs, [np.shape(x) for x in inputs])
        if problem:
            raise InputError(f"{problem}; build inputs with Tagger.seed_inputs(events)")

    @classmethod
    def from_pretrained(cls, name_or_path, *, backend: str = "auto", threads: int = 1, accept_units: bool = False) -> "Tagger":
        """A tagger for a shipped model name (``egamma``, ``qg``, ``top``, ``tau``) or a checkpoint
        directory; a ``model.onnx`` exported beside the checkpoint is used when present, else
        (``onnxruntime`` backend) the export kept in the checkpoint's ``.e2ejax-onnx`` folder,
        made on first use (:mod:`e2ejax.inference.onnx_cache`). The card's ``input_conventions``
        become the tagger's :attr:`conventions`."""
        directory = resolve_checkpoint(name_or_path)
        try:
            model, card, _ = load_model(directory)
        except InputError as exc:
            if str(directory) in str(exc):
                raise
            raise InputError(f"the checkpoint {str(directory)!r} cannot be loaded: {exc}") from None
        onnx_path, keep = directory / "model.onnx", None
        if onnx_path.exists():
            check_export_card(onnx_path, model, card)
        elif resolve_backend(backend) == "onnxruntime":
            onnx_path, keep = cached_onnx(model, directory, step=card["step"], objective=tasks.get(card["task"]).objective)
        tagger = cls(model, task=card["task"], backend=backend, onnx_path=onnx_path if onnx_path.exists() else None, threads=threads,
                     conventions=conventions_.of_card(card), accept_units=accept_units)
        if keep is not None:
            tagger._tmp = keep  # the temporary export lives as long as the tagger
        tagger.name, tagger.training_pileup = str(name_or_path), card_pileup(card)
        return tagger

    def score_fn(self):
        """A pure JAX function ``events -> scores [B, S]`` (XLA), for gradients such as saliency."""
        predict, params = self._predict_fn, self._params

        def scores(events):
            if self.particles:
                mask = jnp.asarray(events[self.group + "_mask"], bool)
                particles = jet_particles(events, n_particles=tasks.get(self.task).n_particles)
                inputs = [x.reshape((-1,) + x.shape[2:]) for x in particle_inputs(particles, self._names)]
                return jnp.where(mask, predict(params, *inputs).reshape(mask.shape), 0.0)
            frames, _, mask, _ = seed_frames(events, task=self.task, track_impact=self.conventions["track_impact"])
            return jnp.where(mask, predict(params, *self._to_inputs(frames)).reshape(mask.shape), 0.0)

        return scores
