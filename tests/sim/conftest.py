"""Fixtures for the simulation tests: skip without the ``sim`` extra; small files made once."""

from __future__ import annotations

import pytest

pytest.importorskip("pythia8mc")
pytest.importorskip("fastjet")


def pytest_collection_modifyitems(items):
    """The simulation tests share one pytest-xdist worker, so the session's sample is simulated once."""
    for item in items:
        if "tests/sim/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.xdist_group("sim"))


@pytest.fixture(scope="session")
def qg_file(tmp_path_factory):
    """A 12-event qg file (seed 7, one worker, chunks of 4 events)."""
    from e2ejax.sim import run

    path = tmp_path_factory.mktemp("sim") / "qg.root"
    saved = run.CHUNK_EVENTS
    run.CHUNK_EVENTS = 4
    try:
        run.simulate("qg", events=12, seed=7, output=str(path), progress=False)
    finally:
        run.CHUNK_EVENTS = saved
    return path
