"""Export the inference function of a model to ONNX (jax2onnx) and TF SavedModel (jax2tf).

Both exports trace :func:`e2ejax.nets.make_predict`, the function inference
uses, with a symbolic batch axis (never a traced size of 1), named float32
inputs from the model's ``input_spec`` and one output ``scores [B]``. A JSON
file beside each export records names, shapes, layout and the e2ejax version.
:func:`verify` runs JAX, ONNX Runtime and TF side by side.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Mapping

import jax
import numpy as np

from e2ejax import __version__
from e2ejax.errors import InputError, require
from e2ejax.io import atomic_path, write_json_atomic
from e2ejax.nets import ParticleNet, make_predict, spec_to_json, takes_points

__all__ = ["to_onnx", "to_saved_model", "saved_model_refusal", "verify", "onnx_session", "random_inputs", "check_export_card", "OUTPUT_NAME"]

OUTPUT_NAME = "scores"
#: Highest ONNX IR version that ONNX Runtime 1.31 loads.
MAX_IR_VERSION = 13


def _export_card(model, *, objective, layout, fmt, extra):
    return {
        "format": fmt,
        "e2ejax_version": __version__,
        "objective": objective,
        "layout": layout,
        "inputs": spec_to_json(model.input_spec),
        "batch_axis": 0,
        "outputs": [{"name": OUTPUT_NAME, "shape": ["B"], "dtype": "float32"}],
        **(extra or {}),
    }


def to_onnx(model, path, *, objective: str = "classification", layout: str = "NHWC", card: dict | None = None) -> Path:
    """Write ``model``'s inference function as an ONNX file, plus ``<path>.json``.

    Args:
        model: an e2ejax network (has ``input_spec``).
        path: destination ``.onnx`` file; written to a temporary name and renamed.
        objective: ``"classification"`` (sigmoid scores) or ``"regression"`` (:data:`e2ejax.nets.OBJECTIVES`).
        layout: ``"NHWC"`` (default) or ``"NCHW"``: with NCHW, rank-4 image inputs
            are taken channels-first and transposed inside the graph.
        card: extra JSON metadata (e.g. preprocessing, training provenance).

    Returns:
        The path written.
    """
    onnx = require("onnx", "export")
    jax2onnx = require("jax2onnx", "export")
    if layout not in ("NHWC", "NCHW"):
        raise InputError(f"expected layout 'NHWC' or 'NCHW', got {layout!r}")
    predict, params = make_predict(model, objective=objective)
    specs = model.input_spec
    nchw = [i for i, s in enumerate(specs) if len(s.shape) == 3] if layout == "NCHW" else None
    shapes = [("B",) + tuple(s.shape) for s in specs]  # traced channels-last; jax2onnx adds the NCHW transpose
    proto = jax2onnx.to_onnx(
        lambda *x: predict(params, *x),
        shapes,
        model_name=type(model).__name__,
        inputs_as_nchw=nchw,
        input_names=[s.name for s in specs],
        output_names=[OUTPUT_NAME],
    )
    # jax2onnx can annotate wrong intermediate shapes (NHWC vs NCHW around residual
    # adds); the runtime infers them itself.
    del proto.graph.value_info[:]
    proto.ir_version = min(proto.ir_version, MAX_IR_VERSION)
    onnx.checker.check_model(proto)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(proto.SerializeToString())
    write_json_atomic(path.with_name(path.name + ".json"), _export_card(model, objective=objective, layout=layout, fmt="onnx", extra=card))
    return path


def saved_model_refusal(model) -> str | None:
    """Why ``model`` cannot be exported as a TF SavedModel (None when it can): networks with a kNN."""
    if takes_points(model) or isinstance(model, ParticleNet):
        what = "the GNN tagger" if takes_points(model) else "ParticleNet"
        return (f"TF SavedModel export of {what} is not supported: TF 2.21's XLA cannot load the kNN (lax.top_k) "
                "with a polymorphic batch; export it with to_onnx (format 'onnx') instead")
    return None


def to_saved_model(model, directory, *, objective: str = "classification", card: dict | None = None) -> Path:
    """Write ``model``'s inference function as a TF SavedModel (jax2tf, native serialisation).

    The serving signature ``serving_default`` takes the named inputs with a
    polymorphic batch axis and returns ``{"scores": [B]}``; weights are
    embedded as constants; the module is serialised for CPU and CUDA.

    Returns:
        The SavedModel directory (written to a temporary directory and renamed).
    """
    refusal = saved_model_refusal(model)
    if refusal:
        raise InputError(refusal)
    tf = require("tensorflow", "tf")
    from jax.experimental import jax2tf

    predict, params = make_predict(model, objective=objective)
    specs = model.input_spec
    poly = ["(b, " + ", ".join(str(d) for d in s.shape) + ")" for s in specs]  # a named axis ("P") stays symbolic
    converted = jax2tf.convert(
        lambda *x: predict(params, *x),
        polymorphic_shapes=poly,
        native_serialization_platforms=("cpu", "cuda"),
        with_gradient=False,
    )
    signature = [tf.TensorSpec((None,) + tuple(d if isinstance(d, int) else None for d in s.shape), tf.float32, name=s.name)
                 for s in specs]

    @tf.function(input_signature=signature, autograph=False)
    def serve(*inputs):
        return {OUTPUT_NAME: converted(*inputs)}

    module = tf.Module()
    module.serve = serve
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=directory.name + ".", dir=directory.parent))
    try:
        concrete = serve.get_concrete_function()
        tf.saved_model.save(module, str(tmp), signatures={"serving_default": concrete})
        write_json_atomic(tmp / "e2ejax_export.json", _export_card(model, objective=objective, layout="NHWC", fmt="savedmodel", extra=card))
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(tmp, directory)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return directory


def onnx_session(path, *, threads: int = 1):
    """An ONNX Runtime CPU session with ``threads`` intra-op threads (1, as CMSSW runs it).

    The memory-pattern planner is off: it caches a plan and its buffers for every input
    shape, and tagging feeds a new batch size (the real seeds of a batch) nearly every
    call; with it a session's peak RSS kept growing with the number of batch sizes seen
    (ResNet-15 top, 7 then 10 more sizes: 470 MB vs 355 MB without); the speed is the same.
    """
    ort = require("onnxruntime", "export")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.enable_mem_pattern = False
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail / InvalidProtobuf / NoSuchFile types
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        raise InputError(
            f"expected an ONNX model at {str(path)!r}; ONNX Runtime cannot load it ({type(exc).__name__}: {first}); "
            "the file may be truncated or corrupt: export it again with 'e2ejax export'"
        ) from None


def random_inputs(model, batch: int, *, seed: int = 0, axis_size: int = 16) -> list[np.ndarray]:
    """Random float32 inputs for ``model`` following its ``input_spec``; masks are 0/1 with
    at least two real entries, type indices are valid; a named axis (``"P"``) gets ``axis_size``."""
    rng = np.random.default_rng(seed)
    out = []
    for s in model.input_spec:
        shape = (batch,) + tuple(d if isinstance(d, int) else axis_size for d in s.shape)
        if s.name == "mask":
            m = (rng.random(shape) < 0.7).astype(np.float32)
            m[:, :2] = 1.0
            out.append(m)
        elif s.name == "types":
            out.append(rng.integers(0, model.config.n_types, shape).astype(np.float32))
        else:
            out.append(rng.exponential(size=shape).astype(np.float32))
    return out


def verify(model, *, onnx_path=None, saved_model=None, objective: str = "classification", inputs=None, batch_sizes=(1, 2, 7, 64),
           layout: str = "NHWC"):
    """Max absolute difference between JAX and each exported runtime.

    Args:
        model: the network that was exported.
        onnx_path: an ONNX file from :func:`to_onnx`, or None.
        saved_model: a directory from :func:`to_saved_model`, or None.
        inputs: optional list of input arrays (channels-last); default random inputs per batch size.
        batch_sizes: batch sizes to try when ``inputs`` is not given.
        layout: the ONNX file's layout: with ``"NCHW"`` its image inputs ``[B, H, W, C]`` are
            fed transposed to ``[B, C, H, W]`` (JAX and the SavedModel take them channels-last).

    Returns:
        ``{"onnxruntime": {batch: diff}, "tensorflow": {batch: diff}}`` for the runtimes given.
    """
    predict, params = make_predict(model, objective=objective)
    reference = jax.jit(lambda *x: predict(params, *x))
    cases = [inputs] if inputs is not None else [random_inputs(model, b, seed=b) for b in batch_sizes]
    names = [s.name for s in model.input_spec]
    report = {}
    if onnx_path is not None:
        session = onnx_session(onnx_path)

        def feed(x):
            if layout != "NCHW":
                return dict(zip(names, x))
            return {n: np.ascontiguousarray(np.transpose(a, (0, 3, 1, 2))) if a.ndim == 4 else a for n, a in zip(names, x)}

        report["onnxruntime"] = {
            len(x[0]): float(np.max(np.abs(session.run([OUTPUT_NAME], feed(x))[0] - np.asarray(reference(*x)))))
            for x in cases
        }
    if saved_model is not None:
        tf = require("tensorflow", "tf")
        serve = tf.saved_model.load(str(saved_model)).signatures["serving_default"]
        report["tensorflow"] = {
            len(x[0]): float(
                np.max(np.abs(serve(**{n: tf.constant(a) for n, a in zip(names, x)})[OUTPUT_NAME].numpy() - np.asarray(reference(*x))))
            )
            for x in cases
        }
    return report


def check_export_card(onnx_path: Path, model, card: Mapping) -> None:
    """The ONNX file beside a checkpoint must be the export of the restored step (its JSON card says so).

    Args:
        onnx_path: the ``model.onnx`` beside the checkpoint; its card is ``model.onnx.json``.
        model: the restored network (its ``input_spec`` must match the card's ``inputs``).
        card: the restored step's model card (its ``step`` must equal the card's ``checkpoint_step``).

    Raises:
        InputError: the export card is missing, unreadable, or names other inputs, another
            layout than NHWC, or another (or no) checkpoint step.
    """
    meta = onnx_path.with_name(onnx_path.name + ".json")
    fix = f"re-export it (e2ejax export {onnx_path.parent} -o {onnx_path.parent}) or delete {onnx_path.name}"
    try:
        found = json.loads(meta.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"expected the export card {str(meta)!r} beside {str(onnx_path)!r} as JSON; cannot read it "
                         f"({type(exc).__name__}: {exc}); {fix}") from None
    if not isinstance(found, dict):
        raise InputError(f"expected the export card {str(meta)!r} to hold a JSON object; found {type(found).__name__}; {fix}")
    checks = [("inputs", spec_to_json(model.input_spec)), ("layout", "NHWC"), ("checkpoint_step", card.get("step"))]
    for key, expected in checks:
        if found.get(key) != expected:
            raise InputError(f"expected {str(onnx_path)!r} to be the export of the checkpoint's model ({key} {expected!r}, "
                             f"from its model card); its export card says {found.get(key)!r}; {fix}")
