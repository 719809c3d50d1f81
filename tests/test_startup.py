"""Startup cost of the command line: help, parsing and cheap input checks import no JAX, uproot or awkward."""

import subprocess
import sys

HEAVY = ("jax", "flax", "orbax", "uproot", "awkward", "onnxruntime")


def _loaded_after(code: str) -> subprocess.CompletedProcess:
    probe = f"import sys\n{code}\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)


def test_import_e2ejax_loads_no_jax():
    r = _loaded_after("import e2ejax")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_help_and_parser_load_no_heavy_package():
    r = _loaded_after("from e2ejax.cli import build_parser\nbuild_parser().format_help()")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_missing_input_is_reported_before_any_heavy_import(tmp_path):
    missing = tmp_path / "nope.root"
    r = _loaded_after(f"from e2ejax.cli import main\nrc = main(['tag', {str(missing)!r}, '--model', 'qg'])\nprint(rc)")
    assert r.returncode == 0, r.stderr
    rc, loaded = r.stdout.split()
    assert (rc, loaded) == ("2", "[]")
    assert r.stderr.splitlines() == [f"e2ejax tag: error: expected a ROOT file at {str(missing)!r}; found no such file; check the path"]


def test_lazy_attributes_still_resolve():
    import e2ejax
    from e2ejax import geometry

    assert e2ejax.geometry is geometry
    assert e2ejax.ops.__name__ == "e2ejax.ops"
    assert e2ejax.Tagger.__name__ == "Tagger"
