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


def test_optimizers_build():
    for name in ("adam", "adamw", "sgd"):
        for schedule in ("constant", "cosine"):
            tx = make_optimizer(OptimizerSpec(name=name, schedule=schedule, clip_norm=1.0), total_steps=10)
            assert hasattr(tx, "update")
    with pytest.raises(InputError):
        parse_config({"model": {"name": "vgg"}, "task": "egamma", "data": {"train": ["x"]}, "optimizer": {"name": "lion"}})
