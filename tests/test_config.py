import numpy as np
import pytest

from e2ejax.training import OptimizerSpec, load_config, make_optimizer, parse_config
from e2ejax.errors import InputError

GOOD = """
model: {name: resnet15, options: {channels: 3, features: [8, 16]}}
task: qg
data: {train: [a.root, /abs/b.root], validation: [c.root]}
optimizer: {name: adam, learning_rate: 1.0e-3, schedule: cosine}
training: {epochs: 2, batch_size: 16}
output: runs/qg
"""


def test_load_good_config(tmp_path):
    p = tmp_path / "train.yaml"
    p.write_text(GOOD)
    cfg = load_config(p)
    assert cfg.model.name == "resnet15" and cfg.task == "qg"
    assert cfg.data.train == (str(tmp_path / "a.root"), "/abs/b.root")
    assert cfg.training.epochs == 2 and cfg.training.patience == 3
    assert cfg.to_dict()["optimizer"]["schedule"] == "cosine"
    with pytest.raises(Exception):
        cfg.task = "top"  # frozen


@pytest.mark.parametrize(
    "text,message",
    [
        ("model: [unclosed", "is not valid YAML at line 1"),
        ("- a\n- b\n", "expected a YAML mapping at the top"),
        (GOOD.replace("task: qg", "task: qg\nlearning_rate: 3"), r"unknown top-level key\(s\) \['learning_rate'\]"),
        (GOOD.replace("resnet15", "resnet50"), "unknown network 'resnet50'"),
        (GOOD.replace("channels: 3", "colour: 3"), r"unknown option\(s\) \['colour'\]"),
        (GOOD.replace("epochs: 2", "epochz: 2"), r"unknown key\(s\) \['epochz'\] in 'training'"),
        (GOOD.replace("task: qg", "task: higgs"), "unknown task 'higgs'"),
        (GOOD.replace("schedule: cosine", "schedule: step"), "unknown schedule 'step'"),
        (GOOD.replace("epochs: 2", "epochs: 0"), "expected training.epochs >= 1"),
        ("model: {name: vgg}\ntask: egamma\n", "missing top-level key 'data'"),
        ("model: !!python/object/apply:os.system ['echo pwned']\ntask: qg\ndata: {train: []}\n", "is not valid YAML"),
    ],
)
def test_bad_configs_give_one_clear_error(tmp_path, text, message):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(InputError, match=message):
        load_config(p)


def test_missing_file():
    with pytest.raises(InputError, match="cannot read config '/nonexistent.yaml'"):
        load_config("/nonexistent.yaml")


def _updates(spec, grads, *, steps, params=None, total_steps=10):
    """The optimiser's update for each of ``steps`` calls with the same gradient ``grads`` (float64 NumPy)."""
    import jax.numpy as jnp

    tx = make_optimizer(spec, total_steps=total_steps)
    params = jnp.zeros_like(grads) if params is None else jnp.asarray(params)
    state, out = tx.init(params), []
    for _ in range(steps):
        update, state = tx.update(jnp.asarray(grads), state, params)
        out.append(np.asarray(update, np.float64))
    return np.array(out)


def test_optimizer_schedules_follow_their_formulas():
    """Adam on a constant gradient steps by -lr(t) in every coordinate, so its updates trace the schedule."""
    grads = np.array([0.3, -2.0], np.float32)
    constant = _updates(OptimizerSpec(name="adam", learning_rate=0.01), grads, steps=4)
    np.testing.assert_allclose(constant, np.tile([-0.01, 0.01], (4, 1)), rtol=1e-4)  # adam's eps 1e-8 on |g| >= 0.3
    cosine = _updates(OptimizerSpec(name="adam", learning_rate=0.01, schedule="cosine", warmup_steps=3), grads, steps=10)
    t = np.arange(10)
    expected = np.where(t < 3, 0.01 * t / 3, 0.01 * 0.5 * (1 + np.cos(np.pi * (t - 3) / 7)))  # linear warmup, cosine to 0 at step 10
    np.testing.assert_allclose(cosine[:, 0], -expected, rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(cosine[:, 1], expected, rtol=1e-4, atol=1e-9)


def test_optimizer_clipping_momentum_and_weight_decay():
    grads = np.array([3.0, 4.0], np.float32)  # global norm 5
    clipped = _updates(OptimizerSpec(name="sgd", learning_rate=0.1, clip_norm=1.0), grads, steps=2)
    np.testing.assert_allclose(clipped, [[-0.06, -0.08], [-0.114, -0.152]], rtol=1e-5)  # g / 5, momentum 0.9: 1.9 g / 5
    unclipped = _updates(OptimizerSpec(name="sgd", learning_rate=0.1), grads, steps=1)
    np.testing.assert_allclose(unclipped, [[-0.3, -0.4]], rtol=1e-6)
    loose = _updates(OptimizerSpec(name="sgd", learning_rate=0.1, clip_norm=10.0), grads, steps=1)
    np.testing.assert_allclose(loose, unclipped, rtol=1e-6)  # a norm under the limit is left alone
    decayed = _updates(OptimizerSpec(name="adamw", learning_rate=0.1, weight_decay=0.5), grads, steps=1, params=[2.0, -1.0])
    np.testing.assert_allclose(decayed, [[-0.1 * (1 + 0.5 * 2.0), -0.1 * (1 - 0.5)]], rtol=1e-4)


def test_unknown_optimizer_is_refused():
    with pytest.raises(InputError):
        parse_config({"model": {"name": "vgg"}, "task": "egamma", "data": {"train": ["x"]}, "optimizer": {"name": "lion"}})


# -- paths relative to the config, the data commands of its header ------------------------------

import os  # noqa: E402
from pathlib import Path  # noqa: E402

from e2ejax.cli import main  # noqa: E402
from e2ejax.training import config as config_module  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def test_output_is_relative_to_the_config_like_data(tmp_path, monkeypatch):
    (tmp_path / "configs").mkdir()
    p = tmp_path / "configs" / "train.yaml"
    p.write_text(GOOD.replace("output: runs/qg", "output: ../runs/qg"))
    monkeypatch.chdir(tmp_path / "configs")  # wherever it is run from
    cfg = load_config(p)
    assert os.path.normpath(cfg.output) == str(tmp_path / "runs" / "qg")
    assert cfg.data.train[0] == str(tmp_path / "configs" / "a.root")
    p.write_text(GOOD.replace("output: runs/qg", f"output: {tmp_path / 'abs'}"))
    assert load_config(p).output == str(tmp_path / "abs")


@pytest.mark.parametrize("name", ["egamma", "jetcalib", "qg", "tau", "tau_cnn", "top"])
def test_shipped_configs_write_runs_and_say_how_to_make_their_data(name, monkeypatch, tmp_path):
    path = REPO / "configs" / f"{name}.yaml"
    monkeypatch.chdir(tmp_path)
    cfg = load_config(path)
    assert os.path.normpath(cfg.output) == str(REPO / "runs" / name)  # the run directory the README names
    made = [f for f in cfg.data.train + cfg.data.validation if "e2ejax/data" not in f]
    commands = config_module.simulate_commands(path, made)
    assert len(commands) == len(made) > 0
    for command, f in zip(commands, made):
        assert command.startswith("e2ejax simulate ") and command.split(" -o ")[1].split()[0] == os.path.normpath(f)


HEADER = """# Tiny e/gamma run.
# Data (run from the repository root; data and output paths are relative to this file):
#   e2ejax simulate egamma --events 10 --seed 1 -o data/eg_train.root -j 2
#   e2ejax simulate egamma --events 5 --seed 2 -o data/eg_val.root
model: {name: vgg, options: {channels: 1}}
task: egamma
data: {train: [../data/eg_train.root], validation: [../data/eg_val.root]}
output: ../runs/eg
"""


def test_train_with_missing_data_prints_the_configs_simulate_commands(tmp_path, monkeypatch, capsys):
    (tmp_path / "configs").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "eg_val.root").write_bytes(b"")  # present: only the missing file's command is printed
    cfg = tmp_path / "configs" / "eg.yaml"
    cfg.write_text(HEADER)
    monkeypatch.chdir(tmp_path)
    assert main(["train", str(cfg), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].endswith("missing: data/eg_train.root; make them with: "
                           "e2ejax simulate egamma --events 10 --seed 1 -o data/eg_train.root -j 2")
    assert not (tmp_path / "runs").exists()
    monkeypatch.chdir(tmp_path / "configs")  # from elsewhere the -o path is rewritten to run from there
    (tmp_path / "data" / "eg_val.root").unlink()
    assert main(["train", "eg.yaml", "-q"]) == 2
    err = capsys.readouterr().err
    assert (f"-o {tmp_path / 'data' / 'eg_train.root'} -j 2; "
            f"e2ejax simulate egamma --events 5 --seed 2 -o {tmp_path / 'data' / 'eg_val.root'}") in err
    cfg.write_text("\n".join(line for line in HEADER.splitlines() if "simulate" not in line))
    assert main(["train", "eg.yaml", "-q"]) == 2
    assert "the config's header holds no command writing them" in capsys.readouterr().err
