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
