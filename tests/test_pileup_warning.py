"""``e2ejax tag`` warns when a file's pileup differs from the pileup a model was trained at (its card)."""

import warnings

import pytest

from e2ejax.cli import main
from e2ejax.inference import PileupWarning, Tagger, check_pileup
from e2ejax.store import card_pileup, load_model
from e2ejax.tasks import get


@pytest.fixture(scope="module")
def pileup_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("pu") / "qg_pu1.root"
    assert main(["simulate", "qg", "--events", "4", "--pileup", "1", "--seed", "5", "-o", str(path)]) == 0
    return path


def test_tag_warns_once_per_model_on_another_pileup(pileup_file, tmp_path, capsys):
    assert main(["tag", str(pileup_file), "--model", "qg,qg_particlenet_lite", "-o", str(tmp_path / "s.root"), "-q", "--batch-size", "2"]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("e2ejax tag: warning:")]
    assert len(lines) == 2, err  # one per model, not one per batch
    assert f"{pileup_file} was simulated at pileup 1, the model qg was trained at pileup 0 (its card)" in lines[0]
    assert "the model qg_particlenet_lite was trained at pileup 0" in lines[1] and "fix: tag with a model trained at pileup 1" in lines[1]


def test_no_warning_at_the_training_pileup(tmp_path, capsys):
    assert main(["tag", str(get("qg").sample_path), "--model", "qg", "-o", str(tmp_path / "s.root"), "-q", "-n", "8"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_check_pileup_api(pileup_file):
    shipped = Tagger.from_pretrained("qg", backend="xla")
    assert shipped.training_pileup == (0.0,) and shipped.training_pileup == card_pileup(load_model("qg")[1])
    with pytest.warns(PileupWarning, match="simulated at pileup 1"):
        assert len(check_pileup({"qg": shipped}, str(pileup_file))) == 1
    unknown = Tagger(load_model("qg")[0], task="qg", backend="xla")  # no card: its training pileup is not known
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_pileup({"x": unknown}, str(pileup_file)) == []
    assert card_pileup({"data": {"train": [{"path": "mine.root"}]}}) is None  # not an e2ejax simulate file
