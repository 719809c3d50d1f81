import subprocess
import sys

from e2ejax import __version__
from e2ejax.cli import main


def test_version(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert __version__ in capsys.readouterr().out


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: e2ejax" in capsys.readouterr().out


def test_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "e2ejax", "--help"], capture_output=True, text=True, check=True)
    assert "usage: e2ejax" in out.stdout


def test_empty_checkpoint_folder_is_one_line_and_no_shutdown_traceback(tmp_path):
    empty = tmp_path / "emptydir"
    empty.mkdir()
    for _ in range(3):  # orbax's clean-up thread lost the race with the exiting interpreter about every other run
        r = subprocess.run([sys.executable, "-m", "e2ejax", "tag", "--model", str(empty)], capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 2
        assert r.stderr.splitlines() == [f"e2ejax tag: error: no checkpoint found in {empty} (expected numbered step folders "
                                         "such as 10/ with state/ and card/ inside); train first or point to the right folder"]


def test_opening_a_checkpoint_removes_unfinished_steps_before_returning(tmp_path, monkeypatch):
    import asyncio
    import threading

    from orbax.checkpoint._src.path import temporary_paths

    from e2ejax.store import Checkpointer

    original = temporary_paths.all_temporary_paths

    async def slow(*args, **kwargs):  # a slow file system: orbax's own clean-up, in its thread, is still running
        await asyncio.sleep(1.0)
        return await original(*args, **kwargs)

    monkeypatch.setattr(temporary_paths, "all_temporary_paths", slow)
    leftover = tmp_path / "5.orbax-checkpoint-tmp-1234"
    (leftover / "state").mkdir(parents=True)
    threads = set(threading.enumerate())
    assert Checkpointer(tmp_path).steps() == []
    assert not leftover.exists()
    assert [t for t in threading.enumerate() if t not in threads and t.is_alive() and "orbax" in type(t).__module__] == []


def test_tag_progress_bar_has_a_total(capsys, tmp_path):
    from e2ejax.inference import Tagger, tag_files
    from e2ejax.tasks import get

    tagger = Tagger.from_pretrained("qg", backend="xla")
    tag_files({"qg": tagger}, str(get("qg").sample_path), str(tmp_path / "s.root"), max_events=40, batch_size=20,
              progress=True, prefetch=0)
    err = capsys.readouterr().err
    assert "40/40" in err


def test_train_progress_bar_has_the_step_total(monkeypatch):
    from types import SimpleNamespace

    import numpy as np

    from e2ejax.training import steps as steps_module

    totals = []

    class RecordingBar(list):
        def __init__(self, iterable, **kwargs):
            super().__init__(iterable)
            totals.append(kwargs.get("total"))

        def set_postfix(self, **kwargs):
            pass

    monkeypatch.setattr(steps_module, "tqdm", RecordingBar)
    state = SimpleNamespace(params={"w": np.zeros(2, np.float32)}, step=0)
    fake = SimpleNamespace(train_step=lambda st, batch: (st, {"loss": 1.0}))
    _, _, history = steps_module.fit(fake, state, lambda epoch: range(8), epochs=2, progress=False, steps_per_epoch=8)
    assert totals == [8, 8] and [h["epoch"] for h in history] == [1, 2]
