"""Export parity: JAX vs ONNX Runtime (one thread) vs TF SavedModel, on random untrained models."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from flax import nnx

from e2ejax import nets
from e2ejax.inference import OUTPUT_NAME, onnx_session, random_inputs, to_onnx, to_saved_model, verify

TINY = {
    "vgg": {"height": 16, "width": 16, "channels": 2, "features": [4, 8], "hidden": 16},
    "resnet15": {"height": 33, "width": 33, "channels": 3, "features": [4, 8], "blocks": 1, "n_scalars": 2},
    "gnn": {"n_points": 16, "n_features": 5, "k": 4, "hidden": [8, 8], "head": 8},
    "deepsets": {"n_constituents": 10, "n_features": 3, "n_types": 3, "n_jet_features": 2, "hidden": 8},
}
# log-compressed inputs, inside the exported graph
LOGGED = [("gnn", {**TINY["gnn"], "log_scale": 0.1}), ("resnet15", {**TINY["resnet15"], "log_scale": 0.1})]


def _task(name):
    return "regression" if name == "deepsets" else "classification"


@pytest.mark.parametrize("name, options", [(n, TINY[n]) for n in sorted(TINY)] + LOGGED)
def test_onnx_parity_all_batch_sizes(name, options, tmp_path):
    model = nets.build(name, options, rngs=nnx.Rngs(7))
    path = to_onnx(model, tmp_path / f"{name}.onnx", objective=_task(name))
    report = verify(model, onnx_path=path, objective=_task(name), batch_sizes=(1, 2, 7, 64))
    assert set(report["onnxruntime"]) == {1, 2, 7, 64}
    assert max(report["onnxruntime"].values()) <= 1e-5, report
    card = json.loads(path.with_name(path.name + ".json").read_text())
    assert [i["name"] for i in card["inputs"]] == [s.name for s in model.input_spec]
    assert card["outputs"][0]["name"] == OUTPUT_NAME and card["layout"] == "NHWC"
    session = onnx_session(path)
    assert [i.name for i in session.get_inputs()] == [s.name for s in model.input_spec]
    assert all(i.type == "tensor(float)" for i in session.get_inputs())
    assert not isinstance(session.get_inputs()[0].shape[0], int)  # dynamic batch
    assert not list(tmp_path.glob("*.tmp"))


def test_gnn_graph_ops_are_inside_the_onnx_graph(tmp_path):
    onnx = pytest.importorskip("onnx")
    model = nets.build("gnn", TINY["gnn"], rngs=nnx.Rngs(0))
    proto = onnx.load(to_onnx(model, tmp_path / "gnn.onnx"))
    ops = {n.op_type for n in proto.graph.node}
    assert "TopK" in ops  # kNN
    assert {"Einsum", "MatMul"} & ops  # one-hot segment sums


def test_onnx_nchw_layout(tmp_path):
    model = nets.build("vgg", TINY["vgg"], rngs=nnx.Rngs(1))
    path = to_onnx(model, tmp_path / "vgg_nchw.onnx", layout="NCHW")
    x = random_inputs(model, 3)[0]
    got = onnx_session(path).run([OUTPUT_NAME], {"frames": np.transpose(x, (0, 3, 1, 2)).copy()})[0]
    ref = verify(model, onnx_path=to_onnx(model, tmp_path / "vgg.onnx"), inputs=[x])["onnxruntime"][3]
    want = onnx_session(tmp_path / "vgg.onnx").run([OUTPUT_NAME], {"frames": x})[0]
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert ref <= 1e-5


FRESH = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import onnxruntime as ort
    so = ort.SessionOptions(); so.intra_op_num_threads = 1
    sess = ort.InferenceSession(sys.argv[1], so, providers=["CPUExecutionProvider"])
    data = np.load(sys.argv[2])
    feeds = {i.name: data[i.name] for i in sess.get_inputs()}
    np.save(sys.argv[3], sess.run(["scores"], feeds)[0])
    """
)


def test_onnx_parity_in_a_fresh_process(tmp_path):
    model = nets.build("gnn", TINY["gnn"], rngs=nnx.Rngs(3))
    path = to_onnx(model, tmp_path / "gnn.onnx")
    x = random_inputs(model, 7, seed=11)
    np.savez(tmp_path / "in.npz", **{s.name: a for s, a in zip(model.input_spec, x)})
    subprocess.run([sys.executable, "-c", FRESH, str(path), str(tmp_path / "in.npz"), str(tmp_path / "out.npy")], check=True)
    got = np.load(tmp_path / "out.npy")
    from e2ejax.nets import make_predict

    predict, params = make_predict(model)
    np.testing.assert_allclose(got, np.asarray(predict(params, *x)), atol=1e-5)


def test_saved_model_refuses_gnn_with_a_clear_message(tmp_path):
    from e2ejax.errors import InputError

    with pytest.raises(InputError, match="export it with to_onnx"):
        to_saved_model(nets.build("gnn", TINY["gnn"], rngs=nnx.Rngs(0)), tmp_path / "gnn")
    assert not (tmp_path / "gnn").exists()


@pytest.mark.parametrize("name", ["resnet15", "vgg", "deepsets"])
def test_saved_model_parity(name, tmp_path):
    pytest.importorskip("tensorflow", reason="TF SavedModel export needs the 'tf' extra")
    model = nets.build(name, TINY[name], rngs=nnx.Rngs(5))
    directory = to_saved_model(model, tmp_path / name, objective=_task(name))
    report = verify(model, saved_model=directory, objective=_task(name), batch_sizes=(1, 2, 7, 64))
    assert max(report["tensorflow"].values()) <= 1e-5, report
    assert (directory / "e2ejax_export.json").exists()
