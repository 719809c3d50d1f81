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

import contextlib
import json
import tempfile
from pathlib import Path
from typing import Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from e2ejax.errors import InputError
from e2ejax.features import (
    TASKS, dense_jet_inputs, egamma_inputs, frames_to_points, is_dense, jet_inputs, jet_inputs_at, trim_seed_slots,
)
from e2ejax.train import make_predict

__all__ = ["Tagger", "TagResult", "pad_rows", "resolve_backend", "tag_files", "REQUIRED_GROUPS"]

#: task -> sparse hit groups its inputs are built from (read from every file, missing ones named).
REQUIRED_GROUPS = {
    "egamma": ("eb", "eg"),
    "qg": ("trk", "eb", "hbhe", "jet"),
    "tau": ("trk", "eb", "hbhe", "jet"),
    "top": ("trk", "eb", "hbhe", "bpix", "jet"),
}


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


def _check_events(events: Mapping) -> dict:
    """Padded event arrays as numpy ``[B, N]`` (``event``: ``[B]``), one ``B`` for all; InputError otherwise."""
    if not isinstance(events, Mapping):
        raise InputError(f"expected events as a mapping name -> padded array (an EventBatch or a dict); found {type(events).__name__}")
    from e2ejax.io import GROUPS

    out, sizes = {}, {}
    for name, value in events.items():
        shape = np.shape(value)
        group = name.split("_", 1)[0]
        hits = group in GROUPS and name.split("_", 1)[-1] in GROUPS[group] + ("mask",)
        if (hits and len(shape) != 2) or len(shape) == 0:
            expected = "[B, N] (events x padded hits)" if hits else "[B, ...]"
            raise InputError(f"expected event field {name!r} of shape {expected}; found shape {shape}; "
                             "pass the padded arrays of e2ejax.io.iterate_events")
        sizes.setdefault(shape[0], name)
        out[name] = value
    if len(sizes) > 1:
        raise InputError(f"expected every event field to have the same number of events B; found {sorted(sizes)} "
                         f"(e.g. {list(sizes.values())[:2]})")
    return out


def pad_rows(rows: np.ndarray) -> np.ndarray:
    """Seed-slot indices padded by repeating the last one (slot 0 when empty) to the next size
    of 8, 12, 16, 24, 32, 48, ... (powers of two and 1.5 times them).

    The jitted input builders compile once per row count and build a frame for every
    row: these sizes keep both the number of programs and the padding work small (at
    most a third of the rows are padding). Results of the extra rows are discarded.

    Examples:
        >>> pad_rows(np.array([3, 4, 9])).tolist()
        [3, 4, 9, 9, 9, 9, 9, 9]
        >>> len(pad_rows(np.arange(68)))
        96
    """
    rows = np.asarray(rows, np.int32)
    size = _row_size(len(rows))
    return np.pad(rows, (0, size - len(rows)), mode="edge") if len(rows) else np.zeros(size, np.int32)


def _row_size(n: int) -> int:
    """The smallest of :func:`pad_rows`' sizes 8, 12, 16, 24, 32, 48, ... that holds ``n`` rows."""
    size = 8
    while size < n:
        size = size * 3 // 2 if size & (size - 1) == 0 else size * 4 // 3
    return size


#: frame bytes built and scored per call when a Tagger's ``max_rows`` is not given
CALL_BYTES = 16 << 20


def rows_per_call(task: str) -> int:
    """The largest :func:`pad_rows` size whose frames for ``task`` fit :data:`CALL_BYTES` (at least 8).

    Examples:
        >>> [rows_per_call(t) for t in ("top", "qg", "tau", "egamma")]
        [32, 64, 48, 4096]
    """
    channels, size, _ = TASKS[task]
    frame = size * size * len(channels) * 4
    best = 8
    while _row_size(best + 1) * frame <= CALL_BYTES:
        best = _row_size(best + 1)
    return best


def _check_max_rows(max_rows) -> int:
    if isinstance(max_rows, bool) or not isinstance(max_rows, (int, np.integer)) or max_rows < 8 \
            or _row_size(max_rows) != max_rows:
        raise InputError(f"expected max_rows to be one of pad_rows' sizes (8, 12, 16, 24, 32, 48, 64, ...); found {max_rows!r}")
    return int(max_rows)


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
        max_rows: seeds per frame-building and network call (a :func:`pad_rows` size);
            default: as many as fit :data:`CALL_BYTES` of frames (top 32, qg 64, tau 48,
            e/gamma 4096). Bounds the memory of one call whatever the batch holds.

    Examples:
        >>> from flax import nnx
        >>> from e2ejax import nets
        >>> tagger = Tagger(nets.build("vgg", {}, rngs=nnx.Rngs(0)), task="egamma", backend="xla")
        >>> tagger.backend
        'xla'
    """

    def __init__(self, model, *, task: str, backend: str = "auto", onnx_path=None, threads: int = 1, max_rows=None):
        if task == "jetcalib":
            raise InputError("expected a tagger (task egamma, qg, top or tau); found a jet calibration model (task jetcalib): "
                             "apply it with e2ejax.calibration.jet_constituents and e2ejax.train.make_predict(model, "
                             "task='regression'), see the README")
        if task not in TASKS:
            raise InputError(f"unknown task {task!r}; expected one of {sorted(TASKS)}")
        self.task = task
        self.model = model
        self.max_rows = _check_max_rows(max_rows) if max_rows is not None else rows_per_call(task)
        self.backend = resolve_backend(backend)
        self.graph = len(model.input_spec) == 2 and model.input_spec[0].name == "points"
        predict, params = make_predict(model)
        self._params = params
        self._seed_frames = jax.jit(self._frames_fn)
        # a separate program: fused with the frame scatter, the point selection ran 2x slower on XLA CPU
        self._points = jax.jit(self._to_inputs)
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

    def _frames_fn(self, events, rows=None):
        """Frames ``[R, h, w, C]`` of the flattened seed slots ``rows`` (all ``B x S`` when None), seeds, mask, ok."""
        if TASKS[self.task][2] == "jet" and not is_dense(events):
            if rows is not None:  # frames of the listed slots only
                return jet_inputs_at(events, rows, task=self.task)
            frames, seeds, mask, ok = jet_inputs(events, task=self.task)
        else:
            frames, seeds, mask, ok = dense_jet_inputs(events, task=self.task) if is_dense(events) else egamma_inputs(events)
        frames = frames.reshape((-1,) + frames.shape[2:])
        return (frames if rows is None else jnp.take(frames, rows, axis=0)), seeds, mask, ok

    def _to_inputs(self, frames):
        return frames_to_points(frames[:, None], n_points=self.model.config.n_points) if self.graph else (frames,)

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
        (:func:`e2ejax.features.trim_seed_slots`). The seeds go in equal parts of at most
        ``max_rows``, so the memory of one call is bounded whatever the batch holds.

        Returns:
            ``(parts, rows, seeds, mask, in_acceptance)``: ``rows = np.flatnonzero(mask)``
            are the real seeds among the flattened ``B x S`` slots; ``parts`` is a list
            of ``(inputs, n)``, the network inputs of the next ``n`` of those rows in
            order (on XLA followed by padding rows up to :func:`pad_rows`' size);
            ``seeds`` int32 ``[B, S, 2]``, ``mask`` and ``in_acceptance`` bool ``[B, S]``.
        """
        events = trim_seed_slots(_check_events(events), self.group)
        rows = np.flatnonzero(np.asarray(events.get(f"{self.group}_mask", np.zeros(0, bool))))
        parts = []
        for part in self.row_parts(rows):
            frames, seeds, mask, ok = self._seed_frames(events, pad_rows(part))
            parts.append((self.network_inputs(frames, part.size), part.size))
        return parts, rows, np.asarray(seeds), np.asarray(mask), np.asarray(ok)

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
    def group(self) -> str:
        """The seed group scored: ``"eg"`` for e/gamma, ``"jet"`` for jet tasks."""
        return "eg" if TASKS[self.task][2] == "egamma" else "jet"

    def __call__(self, events: Mapping) -> TagResult:
        """Score every seed of a batch of padded events (see :mod:`e2ejax.features` for the fields).

        Trailing empty seed slots are dropped first (:func:`e2ejax.features.trim_seed_slots`),
        so the result's ``S`` may be smaller than the input's padded size.
        """
        return self.score_seeds(self.seed_inputs(events))

    def score_seeds(self, prepared) -> TagResult:
        """The network step alone: scores from the output of :meth:`seed_inputs`.

        ``tagger(events) == tagger.score_seeds(tagger.seed_inputs(events))``; split so the
        inputs of the next batch can be built (in another thread) while the network runs.
        """
        parts, rows, seeds, mask, ok = prepared
        scores = np.zeros(mask.size, np.float32)
        if rows.size:
            scores[rows] = np.concatenate([self.network(inputs)[:n] for inputs, n in parts])
        return TagResult(scores.reshape(mask.shape), mask, ok & mask, seeds)

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
        batch = {np.shape(x)[:1] for x in inputs}
        for spec, x in zip(specs, inputs):
            if tuple(np.shape(x)[1:]) != tuple(spec.shape) or np.ndim(x) != len(spec.shape) + 1:
                raise InputError(f"expected network input {spec.name!r} of shape [N, {', '.join(map(str, spec.shape))}]; "
                                 f"found {tuple(np.shape(x))}; build inputs with Tagger.inputs(events)")
        if len(batch) != 1:
            raise InputError(f"expected one batch size N for all network inputs; found {sorted(batch)}")

    @classmethod
    def from_pretrained(cls, name_or_path, *, backend: str = "auto", threads: int = 1) -> "Tagger":
        """A tagger for a shipped model name (``egamma``, ``qg``, ``top``, ``tau``) or a checkpoint
        directory; a ``model.onnx`` exported beside the checkpoint is used when present."""
        from e2ejax.models import load_model, resolve_checkpoint

        directory = resolve_checkpoint(name_or_path)
        try:
            model, card, _ = load_model(directory)
        except InputError as exc:
            if str(directory) in str(exc):
                raise
            raise InputError(f"the checkpoint {str(directory)!r} cannot be loaded: {exc}") from None
        onnx_path = directory / "model.onnx"
        if onnx_path.exists():
            _check_onnx_card(onnx_path, model, card)
        return cls(model, task=card["task"], backend=backend, onnx_path=onnx_path if onnx_path.exists() else None, threads=threads)

    def score_fn(self):
        """A pure JAX function ``events -> scores [B, S]`` (XLA), for gradients such as saliency."""
        predict, params = self._predict_fn, self._params

        def scores(events):
            frames, _, mask, _ = self._frames_fn(events)
            return jnp.where(mask, predict(params, *self._to_inputs(frames)).reshape(mask.shape), 0.0)

        return scores


def _check_onnx_card(onnx_path: Path, model, card: Mapping) -> None:
    """The ONNX file beside a checkpoint must be the export of the restored step (its JSON card says so)."""
    from e2ejax.nets import spec_to_json

    meta = onnx_path.with_name(onnx_path.name + ".json")
    fix = f"re-export it (e2ejax export {onnx_path.parent} -o {onnx_path.parent}) or delete {onnx_path.name}"
    try:
        found = json.loads(meta.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"expected the export card {str(meta)!r} beside {str(onnx_path)!r} as JSON; cannot read it "
                         f"({type(exc).__name__}: {exc}); {fix}") from None
    if not isinstance(found, dict):
        raise InputError(f"expected the export card {str(meta)!r} to hold a JSON object; found {type(found).__name__}; {fix}")
    checks = [("inputs", spec_to_json(model.input_spec)), ("layout", "NHWC")]
    if "checkpoint_step" in found:
        checks.append(("checkpoint_step", card.get("step")))
    for key, expected in checks:
        if found.get(key) != expected:
            raise InputError(f"expected {str(onnx_path)!r} to be the export of the checkpoint's model ({key} {expected!r}, "
                             f"from its model card); its export card says {found.get(key)!r}; {fix}")


#: events read from ROOT per call by :func:`tag_files` (batches are cut from these chunks)
READ_EVENTS = 256


def tag_files(taggers: Mapping[str, Tagger], files, output, *, step_size: int = 64, max_events=None, progress: bool = True,
              prefetch: int = 1) -> dict:
    """Tag every event of ``files`` (one input file) with one or more taggers of the same seed kind,
    writing a friend tree aligned entry by entry with the input.

    Args:
        taggers: score name -> :class:`Tagger` (all jet taggers, or all e/gamma).
        files: one ROOT file (``path`` or ``path:tree``).
        output: ``.root`` (or ``.parquet``) path; written under a temporary name and renamed.
        step_size: events per batch.
        prefetch: batches read and turned into network inputs ahead, in a background
            thread, while the network scores the current one (0: no thread). ONNX Runtime
            runs on ``threads`` cores; the reading and the JAX ops use the others. One
            ahead keeps a 1-thread network busy; each more holds another batch of frames
            (top: about 50 MB) for no speed (measured on 2 cores).

    Returns:
        Summary: ``events``, ``seeds``, ``in_acceptance`` fraction, ``seconds``, ``events_per_s``,
        ``seeds_per_s`` and, where truth labels are present, ``auc`` per tagger.
    """
    import time

    from tqdm.auto import tqdm

    from e2ejax.io import PredictionWriter, Prefetcher, iterate_events
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
        require = sorted({g for t in taggers.values() for g in REQUIRED_GROUPS[t.task]})
        # only the groups the taggers use (half the reading time of every group on the shipped samples)
        # and read in chunks of at least READ_EVENTS (uproot's cost per call is high)
        events = iterate_events(files, step_size=max(step_size, READ_EVENTS), max_events=max_events, groups=require,
                                optional=("ee",))

        def prepared():
            for chunk in events:
                for batch in chunk.split(step_size):
                    try:
                        yield batch, {name: tagger.seed_inputs(batch) for name, tagger in taggers.items()}
                    except InputError as exc:
                        raise InputError(f"{batch.file!r} entries [{batch.entry_start}, {batch.entry_stop}): {exc}") from None

        ahead = contextlib.closing(Prefetcher(prepared, size=prefetch) if prefetch > 0 else prepared())
        with ahead as batches:  # a failure here stops the reading thread too
            for batch, inputs in batches:
                results = {name: taggers[name].score_seeds(x) for name, x in inputs.items()}
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
