"""`fkgen build/validate/show/schemas`: happy paths and one-line errors with a non-zero exit."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from fictional_knowledge.cli import app
from fictional_knowledge.dataset.schemas import generate
from fictional_knowledge.resources import schemas_dir

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_console_script_builds_and_validates(tmp_path):
    out = tmp_path / "b"
    proc = subprocess.run([sys.executable, "-m", "fictional_knowledge", "build", "--entities", "12", "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert f"built {out}" in proc.stdout and "probes" in proc.stdout
    assert run("validate", out).exit_code == 0


@pytest.mark.parametrize("args, message", [
    (["--entities", "0"], "--entities: Input should be greater than 0"),
    (["--entities", "-5"], "--entities: Input should be greater than 0"),
    (["--paraphrases", "12"], "--paraphrases"),
    (["--min-words", "500", "--max-words", "100"], "--min-words must not exceed"),
    (["--shard", "2/2"], "bad shard spec"),
    (["--shard", "x"], "bad shard spec"),
    (["--workers", "0"], "--workers must be positive"),
])
def test_build_bad_input(args, message, tmp_path):
    result = run("build", "--out", tmp_path / "o", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "o").exists()


def test_build_unknown_option():
    result = run("build", "--bogus")
    assert result.exit_code == 2 and "No such option" in result.output


def test_build_refuses_non_empty_output(tmp_path):
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "x").write_text("x")
    for extra in ((), ("--overwrite",)):  # a folder fkgen did not write is never replaced
        result = run("build", "--entities", "3", "--out", tmp_path / "o", *extra)
        assert result.exit_code == 2 and "did not write" in result.output
    assert (tmp_path / "o" / "x").read_text() == "x"
    assert run("build", "--entities", "3", "--out", tmp_path / "b").exit_code == 0
    result = run("build", "--entities", "3", "--out", tmp_path / "b")
    assert result.exit_code == 2 and "--overwrite" in result.output
    assert run("build", "--entities", "3", "--out", tmp_path / "b", "--overwrite").exit_code == 0


def test_build_unwritable_output(tmp_path):
    (tmp_path / "file").write_text("x")
    result = run("build", "--entities", "3", "--out", tmp_path / "file" / "sub")
    assert result.exit_code == 2 and result.output.startswith("error: ")


def test_validate_errors(tmp_path, tiny_build):
    assert run("validate", tmp_path / "missing").exit_code == 2
    broken = tmp_path / "broken"
    shutil.copytree(tiny_build, broken)
    (broken / "manifest.json").write_text("{not json")
    result = run("validate", broken)
    assert result.exit_code == 1 and "FAIL manifest" in result.output


def test_show(tiny_build):
    from fictional_knowledge.dataset.io import read_rows

    person = next(e for e in read_rows(tiny_build, "entities") if e["type"] == "person")
    result = run("show", tiny_build, person["name"].upper())
    assert result.exit_code == 0
    assert person["id"] in result.output and "Passage" in result.output and "memorization" in result.output
    by_id = run("show", tiny_build, person["id"])
    assert by_id.output == result.output
    missing = run("show", tiny_build, "Nobody Atall")
    assert missing.exit_code == 2 and "no entity" in missing.output


def test_schemas_have_not_drifted_from_the_models():
    shipped = {p.name: p.read_text() for p in schemas_dir().glob("*.json")}
    assert shipped == generate(), "schemas/ is stale: run `fkgen schemas --out schemas`"


def test_schemas_command_writes_files(tmp_path):
    result = run("schemas", "--out", tmp_path)
    assert result.exit_code == 0
    assert {p.name for p in tmp_path.iterdir()} == set(generate())


def test_validate_quiet_and_progress_bar(tmp_path):
    """`validate --quiet` passes; with progress on, the bar goes to stderr (tqdm writes there) and
    stdout holds only the verdict."""
    import io
    from contextlib import redirect_stderr

    from fictional_knowledge import BuildConfig, build, validate_build

    build(BuildConfig(entities=20, paraphrases=1), tmp_path / "b", workers=1)
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "b"), "--quiet"])
    assert result.exit_code == 0 and result.stdout.strip().startswith("OK:"), result.output

    class Terminal(io.StringIO):
        def isatty(self):  # tqdm draws only on a terminal
            return True

    err = Terminal()
    with redirect_stderr(err):
        assert validate_build(tmp_path / "b", progress=True).ok
    assert "validating" in err.getvalue() and "rows" in err.getvalue()
