"""``e2ejax simulate`` arguments: one-line errors, exit code 2, and no partial output."""

from __future__ import annotations

import os

import pytest

from e2ejax.cli import main
from e2ejax.sim import run


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["gluon", "--events", "5"], "sample: expected one of qg, egamma, top, tau, found 'gluon'"),
        (["qg", "--events", "0"], "--events: expected an integer in [1, 9999999], found 0"),
        (["qg", "--events", "ten"], "--events: expected an integer in [1, 9999999], found 'ten'"),
        (["qg"], "--events: expected an integer in [1, 9999999], found nothing"),
        (["qg", "--events", "5", "--seed", "-3"], "--seed: expected an integer in [0, 2147483647], found -3"),
        (["qg", "--events", "5", "--workers", "0"], "--workers: expected an integer"),
        (["qg", "--events", "5", "--pileup", "-1"], "--pileup: expected a number in [0, 200], found -1"),
        (["qg", "--events", "5", "--pileup", "lots"], "--pileup: expected a number in [0, 200], found 'lots'"),
        (["qg", "--events", "5", "--compression", "gzip"], "--compression: expected one of lz4, zstd, zlib, lzma"),
    ],
)
def test_bad_arguments(tmp_path, capsys, argv, expected):
    out = tmp_path / "x.root"
    assert main(["simulate", *argv, "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("e2ejax simulate: error: ") and expected in err and "fix:" in err
    assert len(err.splitlines()) == 1
    assert os.listdir(tmp_path) == []


def test_bad_output_paths(tmp_path, capsys):
    assert main(["simulate", "qg", "--events", "1"]) == 2
    assert "-o/--output: expected an output file name" in capsys.readouterr().err
    assert main(["simulate", "qg", "--events", "1", "-o", str(tmp_path / "x.parquet")]) == 2
    assert "fix: use -o " in capsys.readouterr().err
    assert main(["simulate", "qg", "--events", "1", "-o", str(tmp_path / "missing" / "x.root")]) == 2
    assert "fix: mkdir -p" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_close_sample_name_is_suggested(capsys, tmp_path):
    assert main(["simulate", "egama", "--events", "1", "-o", str(tmp_path / "x.root")]) == 2
    assert "did you mean 'egamma'?" in capsys.readouterr().err


def test_no_partial_file_when_generation_fails(tmp_path, monkeypatch):
    calls = []
    real = run.simulate_chunk

    def failing(task):
        calls.append(task)
        if len(calls) == 2:
            raise RuntimeError("generator crashed")
        return real(task)

    monkeypatch.setattr(run, "simulate_chunk", failing)
    monkeypatch.setattr(run, "CHUNK_EVENTS", 2)
    with pytest.raises(RuntimeError, match="generator crashed"):
        main(["simulate", "qg", "--events", "6", "--seed", "1", "-q", "-o", str(tmp_path / "out.root")])
    assert len(calls) == 2
    assert os.listdir(tmp_path) == []


def test_cli_writes_file_and_summary(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(run, "CHUNK_EVENTS", 2)
    out = tmp_path / "tau.root"
    assert main(["simulate", "tau", "--events", "3", "--seed", "4", "-q", "-o", str(out)]) == 0
    assert f"wrote 3 tau events to {out}" in capsys.readouterr().out
    assert os.listdir(tmp_path) == ["tau.root"]
