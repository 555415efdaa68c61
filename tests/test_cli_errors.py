"""The command line's error conventions (fictional_knowledge.cli.FKGroup and errors.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fictional_knowledge import __version__
from fictional_knowledge.cli import app
from fictional_knowledge.errors import FKError, InputError, MissingExtra, RuntimeFailure, describe

ROOT = Path(__file__).resolve().parents[1]


def run(*args, env=None):
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def test_version():
    res = run("--version")
    assert res.exit_code == 0 and res.stdout.strip() == f"fictional-knowledge {__version__}"


@pytest.mark.parametrize("args", [["build", "--bogus"], ["bogus"], ["validate"], ["build", "--entities", "x"],
                                  ["regime", "forget"], ["--bogus"]])
def test_usage_errors_are_one_line_exit_2(args):
    res = run(*args)
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: fkgen") and res.stdout == ""


def test_exit_codes_of_the_error_classes():
    assert issubclass(InputError, FKError) and InputError.exit_code == 2
    assert RuntimeFailure.exit_code == 1 and MissingExtra("torch").exit_code == 1
    from fictional_knowledge.dataset.builder import BuildError
    from fictional_knowledge.evaluate.leaderboard import LeaderboardError
    from fictional_knowledge.release.publish import PublishError
    from fictional_knowledge.regimes.common import RegimeError
    from fictional_knowledge.release.core import ReleaseError

    for cls in (BuildError, RegimeError, ReleaseError, LeaderboardError):
        assert issubclass(cls, InputError)
    assert issubclass(PublishError, RuntimeFailure)
    assert issubclass(LeaderboardError, ValueError)  # old `except ValueError` callers still work


def test_describe_maps_library_errors_to_one_line():
    import errno

    assert describe(OSError(errno.ENOSPC, "No space left on device", "x"))[:2] == (
        "no space left on the device while writing x", 1)
    assert describe(PermissionError(errno.EACCES, "Permission denied", "/ro/x"))[1] == 2
    assert describe(ModuleNotFoundError("no", name="matplotlib.pyplot"), "fkgen dynamics")[0].startswith(
        "fkgen dynamics needs the 'bench' extra: pip install torch==2.13.0 && pip install 'fictional-knowledge[bench]'")
    message, code, expected = describe(ZeroDivisionError("division by zero"))
    assert code == 1 and not expected and "FKGEN_DEBUG=1" in message and "\n" not in message


def test_unexpected_error_is_one_line_and_debug_shows_traceback(tmp_path, monkeypatch):
    from fictional_knowledge.dataset import show

    def boom(*a, **k):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(show, "find_entity", boom)
    (tmp_path / "b").mkdir()
    res = run("show", tmp_path / "b", "x")
    assert res.exit_code == 1
    assert res.stderr.splitlines() == [
        "error: unexpected ZeroDivisionError: a bug (set FKGEN_DEBUG=1 for the traceback)"]
    res = run("show", tmp_path / "b", "x", env={"FKGEN_DEBUG": "1"})
    assert "Traceback (most recent call last)" in res.stderr and res.stderr.rstrip().endswith(
        "error: unexpected ZeroDivisionError: a bug (set FKGEN_DEBUG=1 for the traceback)")


def test_console_script_path_reports_the_same_way(tmp_path):
    """`python -m fictional_knowledge` (what the fkgen script runs): one line, exit 2."""
    res = subprocess.run([sys.executable, "-m", "fictional_knowledge", "build", "--out", "", "--entities", "3"],
                         capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert res.returncode == 2 and res.stderr.splitlines() == [
        "error: --out '.' names no folder of its own; give a new folder, e.g. --out out/name"]


def test_results_on_stdout_progress_on_stderr(tmp_path):
    res = run("build", "--entities", "3", "--workers", "1", "--out", tmp_path / "b")
    assert res.exit_code == 0 and res.stdout.startswith(f"built {tmp_path / 'b'}") and "building" not in res.stdout
