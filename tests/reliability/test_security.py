"""No pickle / eval / shell on input paths; untrusted checkpoints, configs and file names cannot run code."""

from __future__ import annotations

import ast
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import uproot

from e2ejax.training import load_config
from e2ejax.errors import InputError
from tests.reliability.conftest import (
    ROOT,
    SHIPPED_EGAMMA,
    assert_one_line_error,
    child_env,
    egamma_events,
    listing,
    write_tree,
)

PACKAGE = ROOT / "e2ejax"

#: modules that deserialise code or run shells.
FORBIDDEN_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "marshal", "shelve", "joblib", "pty"}
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "os.system", "os.popen", "os.execv", "os.execl",
                   "os.spawnv", "subprocess.getoutput", "subprocess.getstatusoutput", "yaml.load", "yaml.unsafe_load",
                   "yaml.full_load", "yaml.load_all", "yaml.unsafe_load_all", "yaml.full_load_all", "torch.load"}


def _name(node) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value)}.{node.attr}"
    return ""


def scan(source: str, filename: str) -> list[str]:
    """Lines of ``source`` that import a forbidden module, call a forbidden function, pass ``shell=True``
    or ``allow_pickle=True``."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [f"{where} import {a.name}" for a in node.names if a.name.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FORBIDDEN_MODULES:
            found.append(f"{where} from {node.module} import")
        elif isinstance(node, ast.Call):
            name = _name(node.func)
            if name in FORBIDDEN_CALLS or name.startswith("pickle."):
                found.append(f"{where} {name}()")
            for kw in node.keywords:
                if kw.arg in ("shell", "allow_pickle") and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                    found.append(f"{where} {name}({kw.arg}=...)")
    return found


def test_scanner_catches_each_pattern():
    bad = ("import pickle\nfrom dill import loads\nimport yaml, os, subprocess\nyaml.load(s)\neval('1')\nexec(c)\n"
           "os.system(p)\nsubprocess.run(p, shell=True)\nnp.load(f, allow_pickle=True)\nyaml.unsafe_load(s)\n")
    assert len(scan(bad, "bad.py")) == 9
    assert scan("import yaml\nyaml.safe_load(s)\nsubprocess.run([a, b], shell=False)\nnp.load(f)\n", "ok.py") == []


def test_package_source_has_no_pickle_eval_or_shell():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 40
    found = [line for f in files for line in scan(f.read_text(), str(f.relative_to(ROOT)))]
    assert found == []


@pytest.mark.parametrize("tag", ["!!python/object/apply:os.mkdir", "!!python/name:os.system", "!!python/object/new:dict"])
def test_yaml_python_tags_are_refused(tmp_path, tag):
    path = tmp_path / "train.yaml"
    path.write_text(f"model: {tag} ['{tmp_path / 'marker'}']\ntask: egamma\ndata: {{train: [a.root]}}\n")
    with pytest.raises(InputError, match=r"train.yaml' is not valid YAML at line 1.*refused"):
        load_config(path)
    assert not (tmp_path / "marker").exists()


#: child process: record every audit event that starts a process or unpickles, run the CLI, save the events.
DRIVER = """
import json, sys
seen = []
WATCH = ("os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "subprocess.Popen",
         "pickle.find_class", "pty.spawn")
sys.addaudithook(lambda event, args: seen.append([event, repr(args)[:300]]) if event in WATCH else None)
from e2ejax.cli import main
code = main(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    json.dump(seen, f)
sys.exit(code)
"""


def dangerous(seen, *paths) -> list:
    """Audit events that ran a shell, unpickled, or started a process with one of ``paths`` in its arguments."""
    shells = ("/bin/sh", "/bin/bash", "sh", "bash", "/usr/bin/sh", "/usr/bin/bash")
    return [(event, args) for event, args in seen
            if event in ("os.system", "pickle.find_class") or any(str(p) in args for p in paths)
            or any(repr(s) in args.split(",")[0] for s in shells)]


def run_watched(tmp_path, *args):
    """``e2ejax ARGS`` in a child process under an audit hook; returns (CompletedProcess, audit events)."""
    log = tmp_path / "audit.json"
    proc = subprocess.run([sys.executable, "-c", DRIVER, str(log), *map(str, args)], cwd=tmp_path, env=child_env(),
                          capture_output=True, text=True, timeout=300)
    return proc, (json.loads(log.read_text()) if log.exists() else None)


class _Payload:
    """Unpickling this makes a directory: proof that a file was unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_untrusted_checkpoint_cannot_run_code(tmp_path):
    model = tmp_path / "model"
    shutil.copytree(SHIPPED_EGAMMA, model)
    marker = tmp_path / "unpickled"
    payload = pickle.dumps(_Payload(marker))
    for target in ("1128/card/metadata", "1128/_CHECKPOINT_METADATA", "model_card.json"):
        (model / target).write_bytes(payload)
    events = write_tree(tmp_path / "eg.root", egamma_events())
    proc, seen = run_watched(tmp_path, "tag", events, "-o", tmp_path / "out.root", "--model", model, "-q")
    assert proc.returncode == 2
    assert_one_line_error(proc, "tag", "model")
    assert seen is not None and dangerous(seen, model, events) == []
    assert not marker.exists() and not (tmp_path / "out.root").exists()


def test_path_arguments_never_reach_a_shell(tmp_path):
    odd = tmp_path / "in; touch PWNED1 && $(touch PWNED2) `touch PWNED3` 'q\" |x"
    odd.mkdir()
    events = write_tree(odd / "e $(touch PWNED4);.root", egamma_events(6, seed=4))
    out = odd / "s `touch PWNED5` & echo.root"
    proc, seen = run_watched(tmp_path, "tag", events, "-o", out, "--model", "egamma", "-q")
    assert proc.returncode == 0, proc.stderr
    assert seen is not None and dangerous(seen, odd, events.name, out.name) == []
    assert not [p for p in tmp_path.rglob("PWNED*")] and not list(Path.cwd().glob("PWNED*"))
    pred = uproot.open(out)["Predictions"].arrays(["event"], library="np")
    np.testing.assert_array_equal(pred["event"], uproot.open(events)["Events"]["event"].array(library="np"))
    assert sorted(listing(odd)) == sorted([events.name, out.name])
