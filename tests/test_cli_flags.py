"""One flag vocabulary across the subcommands, and the entry ranges of ``tag`` and ``bench``."""

import re
import numpy as np
import pytest
import uproot

from e2ejax.cli import build_parser
from tests.reliability.conftest import assert_one_line_error, call_main, egamma_events, listing, write_tree

#: the shared vocabulary: flag spellings -> (namespace attribute, value given, value parsed)
COMMON = {
    ("-o", "--output"): ("output", "x.root", "x.root"),
    ("-n", "--max-events"): ("max_events", "7", 7),
    ("--entries",): ("entries", "2:9", "2:9"),
    ("--threads",): ("threads", "3", 3),
    ("-q", "--quiet"): ("quiet", None, True),
    ("--seed",): ("seed", "4", "4"),
    ("--workers",): ("workers", "2", "2"),
}

#: subcommand -> (positional arguments, the COMMON flags it takes)
TAKES = {
    "tag": (["a.root", "b.root"], [("-o", "--output"), ("-n", "--max-events"), ("--entries",), ("--threads",), ("-q", "--quiet")]),
    "bench": (["a.root", "b.root"], [("-n", "--max-events"), ("--entries",), ("--threads",)]),
    "calibrate": (["a.root"], [("-o", "--output"), ("-n", "--max-events"), ("--entries",), ("-q", "--quiet")]),
    "simulate": (["qg"], [("-o", "--output"), ("--seed",), ("--workers",), ("-q", "--quiet")]),
    "export": (["qg"], [("-o", "--output")]),
}


@pytest.mark.parametrize("command", sorted(TAKES))
def test_every_command_spells_the_shared_flags_alike(command):
    positional, flags = TAKES[command]
    for spellings in flags:
        attribute, given, parsed = COMMON[spellings]
        for flag in spellings:
            extra = [] if command != "export" or flag in ("-o", "--output") else ["-o", "d"]
            argv = [command, *positional, *extra, flag] + ([] if given is None else [given])
            args = build_parser().parse_args(argv)
            assert getattr(args, attribute) == parsed, (command, flag)
    if command in ("tag", "bench"):
        assert build_parser().parse_args([command, *positional]).files == positional


@pytest.fixture
def eg_file(tmp_path):
    return write_tree(tmp_path / "eg.root", egamma_events(12))


def tagged(capsys, eg_file, out, *flags):
    proc = call_main(capsys, "tag", eg_file, "-o", out, "--model", "egamma", "-q", *flags)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, uproot.open(out)["Predictions"].arrays(library="np")


def test_tag_entry_ranges_give_those_entries_of_the_full_run(eg_file, tmp_path, capsys):
    _, full = tagged(capsys, eg_file, tmp_path / "full.root")
    events = uproot.open(eg_file)["Events"]["event"].array(library="np")
    for flags, (start, stop) in {("--entries", "3:9"): (3, 9), ("-n", "5"): (0, 5), ("--max-events", "2", "--entries", "4:"): (4, 6),
                                 ("--entries", ":4"): (0, 4)}.items():
        out = tmp_path / f"part_{start}_{stop}.root"
        stdout, part = tagged(capsys, eg_file, out, *flags)
        assert f"{eg_file} entries [{start}, {stop}): {stop - start} events" in stdout, flags
        np.testing.assert_array_equal(part["event"], events[start:stop])
        for a, b in zip(part["eg_egamma"], full["eg_egamma"][start:stop]):
            np.testing.assert_allclose(a, b, rtol=1e-6)


@pytest.mark.parametrize("flags, names", [(("--entries", "9:3"), ["--entries", "'9:3'", "START < STOP"]),
                                          (("--entries", "a:b"), ["--entries", "'a:b'"]),
                                          (("-n", "0"), ["-n/--max-events", "positive"]),
                                          (("--entries", "50:60"), ["eg.root", "found none in entries [50, 60)"])])
def test_bad_entry_ranges_are_one_line_and_write_nothing(flags, names, eg_file, tmp_path, capsys):
    proc = call_main(capsys, "tag", eg_file, "-o", tmp_path / "o.root", "--model", "egamma", "-q", *flags)
    assert proc.returncode == 2
    assert_one_line_error(proc, "tag", *names)
    assert listing(tmp_path) == ["eg.root"]


def test_bench_takes_files_as_tag_does(eg_file, tmp_path, capsys):
    small = write_tree(tmp_path / "small.root", egamma_events(6, seed=3))
    proc = call_main(capsys, "bench", eg_file, small, "--model", "egamma", "--batch-size", "4", "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    assert "eg.root: model egamma on onnxruntime, 12 events" in proc.stdout
    assert "small.root: model egamma on onnxruntime, 6 events" in proc.stdout
    proc = call_main(capsys, "bench", eg_file, "--model", "egamma", "-n", "5")
    assert proc.returncode == 0 and "eg.root: model egamma on onnxruntime, 5 events" in proc.stdout
    proc = call_main(capsys, "bench", tmp_path / "missing.root", "--model", "egamma")
    assert_one_line_error(proc, "bench", "missing.root")


def test_export_hint_names_its_own_argument_form(tmp_path, capsys):
    proc = call_main(capsys, "export", "nosuch", "-o", tmp_path / "out")
    line = assert_one_line_error(proc, "export", "'nosuch'", "e2ejax export qg -o DIR")
    assert "--model" not in line and not (tmp_path / "out").exists()


def test_calibrate_is_a_subcommand(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    assert "calibrate" in capsys.readouterr().out


def test_bench_says_what_came_before_the_first_batch(eg_file, tmp_path, capsys):
    small = write_tree(tmp_path / "small.root", egamma_events(6, seed=3))
    proc = call_main(capsys, "bench", eg_file, small, "--model", "egamma", "--batch-size", "4")
    assert proc.returncode == 0, proc.stderr
    setup = re.findall(r"before the first batch: imports (\d+\.\d+) s, model loading (\d+\.\d+) s", proc.stdout)
    assert len(setup) == 2  # one line per file
    (imports, model), later = [tuple(map(float, s)) for s in setup]
    assert model > 0 and later == (0.0, 0.0)  # the model is loaded once, for the first file
