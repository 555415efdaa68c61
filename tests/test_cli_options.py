"""The build options are generated from BuildConfig (cli/options.py), and the card's "rebuild
with" command (models.build_command) rebuilds a build exactly."""

from __future__ import annotations

import json
import re
import shlex

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from fictional_knowledge import build
from fictional_knowledge.cli import app
from fictional_knowledge.models import BuildConfig, build_command, field_flag

runner = CliRunner()


@pytest.mark.parametrize("command", ["build", "release"])
def test_every_config_field_is_an_option(command):
    params = get_command(app).commands[command].params
    opts = {o: p for p in params for o in p.opts}
    for name, field in BuildConfig.model_fields.items():
        flag = field_flag(BuildConfig, name)
        assert flag in opts, f"fkgen {command} lacks {flag} for BuildConfig.{name}"
        assert opts[flag].default == field.default, (flag, opts[flag].default, field.default)


def test_card_command_rebuilds_the_same_build(tmp_path):
    config = BuildConfig(seed=7, entities=30, paraphrases=2, memorization_probes=4, semantic_probes=2,
                         compositional_probes=3, passage_min_words=120, passage_max_words=500, distractors=4)
    first = build(config, tmp_path / "a", workers=1)
    card = (tmp_path / "a" / "README.md").read_text()
    command = re.search(r"Rebuild it with `([^`]+)`", card).group(1)
    assert command == build_command(config)
    args = shlex.split(command)
    assert args[:2] == ["fkgen", "build"]
    result = runner.invoke(app, args[1:] + ["--out", str(tmp_path / "b"), "--quiet", "--workers", "1"])
    assert result.exit_code == 0, result.output
    second = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert BuildConfig.model_validate(second["config"]) == config
    assert {n: c["fingerprint"] for n, c in second["configs"].items()} == {
        n: c.fingerprint for n, c in first.configs.items()}


@pytest.mark.parametrize("args,message", [
    (["--semantic", "6"], "--semantic must not exceed --memorization"),
    (["--distractors", "2"], "--distractors: Input should be greater than or equal to 3"),
    (["--min-words", "700"], "--min-words must not exceed --max-words"),
    (["--entities", "0"], "--entities: Input should be greater than 0"),
])
def test_bad_options_name_their_flags(args, message, tmp_path):
    result = runner.invoke(app, ["build", *args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and result.output.startswith(f"error: {message}"), result.output
    assert result.output.count("\n") == 1
    assert not (tmp_path / "o").exists()
