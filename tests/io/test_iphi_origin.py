"""Files simulated before the CMS iphi labels took CMSSW's phi origins are refused, with the command that remakes them."""

import json

import pytest
import uproot

from e2ejax import geometry
from e2ejax.cli import main
from e2ejax.errors import InputError
from e2ejax.io import check_files, iterate_events
from tests.reliability.conftest import egamma_events, write_tree


def _with_info(path, info):
    write_tree(path, egamma_events(4))
    with uproot.update(str(path)) as f:
        f["e2ejax_info"] = json.dumps(info)
    return str(path)


def test_file_simulated_with_the_old_labels_is_refused(tmp_path, capsys):
    command = "e2ejax simulate egamma --events 4 --seed 9 -o old.root"
    old = _with_info(tmp_path / "old.root", {"sample": "egamma", "detector": {}, "command": command})
    for read in (lambda: check_files(old), lambda: next(iter(iterate_events(old)))):
        with pytest.raises(InputError, match=r"iphi_origin 'cmssw'.*found no iphi_origin.*simulate it again.*--seed 9"):
            read()
    assert main(["tag", old, "--model", "egamma", "-o", str(tmp_path / "s.root"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and command in err and not (tmp_path / "s.root").exists()


def test_current_and_foreign_records_are_read(tmp_path):
    new = _with_info(tmp_path / "new.root", {"sample": "egamma", "detector": {}, "iphi_origin": geometry.IPHI_ORIGIN})
    other = _with_info(tmp_path / "other.root", {"note": "written by hand"})  # not a simulation record
    for path in (new, other):
        (batch,) = iterate_events(path)
        assert batch.size == 4
