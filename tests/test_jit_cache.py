"""The command line's persistent compilation cache: where it goes, how it is turned off, silent failures."""

import os
import subprocess
import sys

import pytest

from e2ejax import jit_cache
from e2ejax.cli import build_parser

#: turn the cache on as the CLI does, compile one program, and print the files of the cache directory
_COMPILE = """
import os, sys
from e2ejax import jit_cache
where = jit_cache.enable(disabled=sys.argv[1] == "off")
import jax, numpy as np
print(np.asarray(jax.jit(lambda x: x * 2 + 1)(np.arange(3.0))).tolist())
print(where)
print(sorted(os.listdir(where)) if where else [])
"""


def _run(env, *args, preexec_fn=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_") and k != jit_cache.DISABLE_ENV} | env
    return subprocess.run([sys.executable, "-c", _COMPILE, *args], capture_output=True, text=True, env=env, timeout=120,
                          preexec_fn=preexec_fn)


@pytest.mark.parametrize("environ, expected", [
    ({"XDG_CACHE_HOME": "/scratch/me", "HOME": "/home/me"}, "/scratch/me/e2ejax/jit"),
    ({"HOME": "/home/me"}, "/home/me/.cache/e2ejax/jit"),
    ({"JAX_COMPILATION_CACHE_DIR": "/tmp/run-jit", "XDG_CACHE_HOME": "/scratch/me"}, "/tmp/run-jit"),
])
def test_cache_directory(environ, expected, monkeypatch):
    monkeypatch.setenv("HOME", environ.get("HOME", "/home/me"))
    assert str(jit_cache.cache_directory(environ)) == expected


@pytest.mark.parametrize("value", ["0", "false", "OFF", "no"])
def test_cache_directory_turned_off(value):
    assert jit_cache.cache_directory({jit_cache.DISABLE_ENV: value, "XDG_CACHE_HOME": "/x"}) is None


def test_no_jit_cache_flag_on_every_command():
    parser = build_parser()
    assert parser.parse_args(["tag", "--no-jit-cache"]).no_jit_cache is True
    assert parser.parse_args(["bench"]).no_jit_cache is False
    assert parser.parse_args(["train", "c.yaml", "--no-jit-cache"]).no_jit_cache is True


def test_enabled_cache_keeps_compiled_programs_in_the_user_directory(tmp_path):
    r = _run({"XDG_CACHE_HOME": str(tmp_path)}, "on")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    values, where, files = r.stdout.splitlines()
    assert values == "[1.0, 3.0, 5.0]" and where == str(tmp_path / "e2ejax" / "jit")
    assert any(f.startswith("jit__lambda") for f in eval(files))  # the one program, cached though it compiled in far under 1 s


def test_turned_off_cache_writes_nothing(tmp_path):
    r = _run({"XDG_CACHE_HOME": str(tmp_path), jit_cache.DISABLE_ENV: "0"}, "on")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert r.stdout.splitlines()[1:] == ["None", "[]"]
    r = _run({"XDG_CACHE_HOME": str(tmp_path)}, "off")
    assert r.stdout.splitlines()[1:] == ["None", "[]"] and not (tmp_path / "e2ejax").exists()


def test_unwritable_cache_directory_leaves_the_cache_off(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    r = _run({"XDG_CACHE_HOME": str(blocker)}, "on")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert r.stdout.splitlines() == ["[1.0, 3.0, 5.0]", "None", "[]"]


def _small_files():
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))


def test_failed_cache_write_prints_nothing(tmp_path):
    r = _run({"XDG_CACHE_HOME": str(tmp_path)}, "on", preexec_fn=_small_files)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert r.stdout.splitlines()[0] == "[1.0, 3.0, 5.0]"
