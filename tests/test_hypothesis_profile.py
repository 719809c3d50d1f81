"""The Hypothesis profiles of tests/conftest.py: derandomised in CI, no example database."""

import os
import subprocess
import sys
import textwrap

from hypothesis import settings

PROBE = textwrap.dedent(
    """
    from hypothesis import given, strategies as st
    SEEN = []

    @given(st.integers())
    def test_draw(x):
        SEEN.append(x)

    def test_report():
        from hypothesis import settings
        print("DRAWN", SEEN[:20], settings.default.derandomize, settings.default.database)
    """
)


def test_no_example_database_in_any_profile():
    assert settings.default.database is None
    assert settings.get_profile("ci").derandomize and settings.get_profile("ci").database is None
    assert settings.get_profile("dev").database is None


def _drawn(tmp_path, profile):
    (tmp_path / "tests").mkdir(exist_ok=True)
    (tmp_path / "tests" / "conftest.py").write_text(open(os.path.join(os.path.dirname(__file__), "conftest.py")).read())
    (tmp_path / "tests" / "test_probe.py").write_text(PROBE)
    env = dict(os.environ, HYPOTHESIS_PROFILE=profile)
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-n", "0", "-p", "no:cacheprovider", "tests/test_probe.py"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return next(line.split("DRAWN ", 1)[1] for line in out.stdout.splitlines() if "DRAWN " in line)


def test_ci_profile_draws_the_same_cases_every_run(tmp_path):
    first, second = _drawn(tmp_path, "ci"), _drawn(tmp_path, "ci")
    assert first == second and first.endswith("True None")
    assert not (tmp_path / ".hypothesis").exists()
