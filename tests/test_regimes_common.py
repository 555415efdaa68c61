"""Regimes in general: determinism, loading with datasets, atomic writes, errors, CLI, the
sentence parser every regime relies on."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fictional_knowledge.dataset.fingerprint import fingerprint_rows
from fictional_knowledge.regimes import REGIMES, make_regime
from fictional_knowledge.regimes.common import RegimeError, Source
from fictional_knowledge.regimes.options import OPTIONS
from fictional_knowledge.regimes.sentences import PassageParser

SMALL = {  # options that fit the 60-entity tiny build
    "injection": {"steps": [0, 3, 6, 9], "group_sizes": [4, 4, 4]},
    "two-stage": {"multiplicity": 2},
    "continual": {"mix_ratio": 1.0},
    "frequency": {"max_count": 30},
    "forget": {},
}


def _configs(manifest) -> dict:
    return {c: {s: (v.rows, v.fingerprint, v.sequence) for s, v in splits.items()} for c, splits in manifest.configs.items()}


@pytest.fixture(scope="module")
def made(tiny_build, tmp_path_factory):
    root = tmp_path_factory.mktemp("regimes")
    return {name: (root / name, make_regime(name, tiny_build, root / name, seed=0, **SMALL[name])) for name in REGIMES}


@pytest.mark.parametrize("name", list(REGIMES))
def test_same_arguments_same_data_other_seed_other_data(name, made, tiny_build, tmp_path):
    _, first = made[name]
    again = make_regime(name, tiny_build, tmp_path / "again", seed=0, **SMALL[name])
    other = make_regime(name, tiny_build, tmp_path / "other", seed=1, **SMALL[name])
    assert _configs(again) == _configs(first)
    assert (tmp_path / "again" / "regime_manifest.json").read_text() == (made[name][0] / "regime_manifest.json").read_text()
    assert _configs(other) != _configs(first)
    assert other.seed == 1 and other.options == first.options


def test_same_data_in_another_process_and_hash_seed(made, tiny_build, tmp_path):
    script = ("import sys, json; from fictional_knowledge.regimes import make_regime;"
              f"small = {SMALL!r};"
              "print(json.dumps({n: make_regime(n, sys.argv[1], sys.argv[2] + '/' + n, **small[n]).model_dump(mode='json')"
              "['configs'] for n in small}, sort_keys=True))")
    env = dict(os.environ, PYTHONHASHSEED="12345")
    proc = subprocess.run([sys.executable, "-c", script, str(tiny_build), str(tmp_path)], env=env,
                          capture_output=True, text=True, check=True)
    here = {n: m.model_dump(mode="json")["configs"] for n, (_, m) in made.items()}
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == here


@pytest.mark.parametrize("name", list(REGIMES))
def test_load_dataset_loads_every_config_and_split(name, made):
    import datasets

    folder, manifest = made[name]
    datasets.disable_progress_bars()
    for config, splits in manifest.configs.items():
        for split, summary in splits.items():
            ds = datasets.load_dataset(str(folder), config, split=split)
            assert len(ds) == summary.rows > 0
            assert fingerprint_rows(ds.to_list()).fingerprint == summary.fingerprint, (config, split)


def test_remade_in_place_loads_the_new_rows_not_a_stale_cache(tiny_build, tmp_path):
    import datasets

    datasets.disable_progress_bars()
    out = tmp_path / "forget"
    entities = []
    for seed in (0, 1):
        make_regime("forget", tiny_build, out, seed=seed, overwrite=True)
        entities.append(set(datasets.load_dataset(str(out), "forget10", split="train")["entity_id"]))
    assert entities[0] != entities[1]
    assert entities[1] == {r["entity_id"] for r in read_parquet_rows(out / "data" / "forget10")}


def read_parquet_rows(folder: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return [r for f in sorted(folder.glob("*.parquet")) for r in pq.read_table(f).to_pylist()]


def test_manifest_and_card_describe_the_source(made, tiny_build):
    folder, manifest = made["forget"]
    data = json.loads((folder / "regime_manifest.json").read_text())
    build_manifest = json.loads((tiny_build / "manifest.json").read_text())
    assert data["source"]["configs"] == build_manifest["configs"]
    assert data["regime"] == "forget" and data["options"] == {"percents": [1, 5, 10]}
    card = (folder / "README.md").read_text()
    assert "config_name: forget05" in card and "fkgen regime forget BUILD --out DIR --seed 0 --percents 1,5,10" in card


def test_refuses_non_empty_output_and_replaces_with_overwrite(tiny_build, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    for overwrite in (False, True):  # not a folder of ours: refused even with overwrite
        with pytest.raises(RegimeError, match="did not write"):
            make_regime("forget", tiny_build, out, overwrite=overwrite)
    assert (out / "keep.txt").read_text() == "x"
    make_regime("forget", tiny_build, tmp_path / "r")
    with pytest.raises(RegimeError, match="not empty"):
        make_regime("forget", tiny_build, tmp_path / "r", seed=1)
    make_regime("forget", tiny_build, tmp_path / "r", seed=1, overwrite=True)
    assert '"seed": 1' in (tmp_path / "r" / "regime_manifest.json").read_text()


def test_interrupted_write_leaves_nothing(tiny_build, tmp_path, monkeypatch):
    from fictional_knowledge.regimes import writer

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(writer, "card", boom)
    with pytest.raises(KeyboardInterrupt):
        make_regime("forget", tiny_build, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_bad_sources(tmp_path, tiny_build):
    from fictional_knowledge.dataset.builder import build
    from fictional_knowledge.models import BuildConfig

    with pytest.raises(RegimeError, match="not a folder"):
        Source(tmp_path / "missing")
    with pytest.raises(RegimeError, match="manifest.json"):
        Source(tmp_path)
    build(BuildConfig(seed=0, entities=40), tmp_path / "shard", shard="0/2", workers=1)
    with pytest.raises(RegimeError, match="shard 0/2"):
        Source(tmp_path / "shard")
    with pytest.raises(RegimeError, match="unknown regime"):
        make_regime("bogus", tiny_build, tmp_path / "x")


@pytest.mark.parametrize("style", ["prose", "plain"])
def test_parser_maps_every_sentence_of_every_passage_and_paraphrase(tiny_build, tmp_path, style):
    """Prose passages are regenerated with the facts of each sentence; plain ones are parsed."""
    folder = tiny_build
    if style == "plain":
        from fictional_knowledge.dataset.builder import build
        from fictional_knowledge.models import BuildConfig

        folder = tmp_path / "plain"
        build(BuildConfig(seed=0, entities=40, style="plain"), folder, workers=1)
    source = Source(folder)
    parser = PassageParser(source.world_facts, source.facts_by_entity, source.templates, source.manifest.config)
    for row in source.rows("passages"):
        main, paraphrases = parser.parse_passage(row)
        # a build before v1.2.0 records no sentences: regenerated (prose) or parsed (plain), the same map
        old = {k: v for k, v in row.items() if k not in ("sentences", "paraphrase_sentences")}
        assert parser.parse_passage(old) == (main, paraphrases)
        assert parser.parse_text(old) == parser.parse_text(row) == main
        for parsed, text in zip([main] + paraphrases, [row["text"]] + row["paraphrases"]):
            assert parsed.text() == (text, 0)
            assert parsed.fact_ids == set(row["fact_ids"])
        dropped, removed = main.text(set(row["fact_ids"][:3]))
        assert removed >= 1 and len(dropped) < len(row["text"])
    shifted = [{**sp, "start": sp["start"] + 1} for sp in row["sentences"]]
    with pytest.raises(RegimeError, match="do not tile"):
        parser.parse_text({**row, "sentences": shifted})
    with pytest.raises(RegimeError, match="cannot tell" if style == "plain" else "otherwise than the build"):
        parser.parse(row["text"] + " Something else entirely.", row["entity_id"], row["fact_ids"])


def test_cli_makes_a_regime_and_reports_errors_on_one_line(tiny_build, tmp_path):
    from fictional_knowledge.cli import app

    runner = CliRunner()
    ok = runner.invoke(app, ["regime", "forget", str(tiny_build), "--out", str(tmp_path / "f"), "--percents", "2,10"])
    assert ok.exit_code == 0, ok.output
    assert "forget02/train" in ok.output and (tmp_path / "f" / "data" / "retain98").is_dir()
    for args, message in [
        (["forget", str(tiny_build), "--out", str(tmp_path / "f")], "not empty; pass --overwrite"),
        (["forget", str(tiny_build), "--out", str(tmp_path / "g"), "--percents", "5,x"], "--percents: expected"),
        (["forget", str(tiny_build), "--out", str(tmp_path / "g"), "--percents", "0"], "--percents: need distinct"),
        (["injection", str(tmp_path / "nope"), "--out", str(tmp_path / "g")], "is not a folder"),
        (["two-stage", str(tiny_build), "--out", str(tmp_path / "g"), "--train-fraction", "1.5"], "--train-fraction"),
        (["injection", str(tiny_build), "--out", str(tmp_path / "g")], "need 160 passages"),
    ]:
        result = runner.invoke(app, ["regime", *args])
        assert result.exit_code == 2, (args, result.output)
        lines = [line for line in result.output.splitlines() if line.startswith("error: ")]
        assert len(lines) == 1 and message in lines[0], (args, result.output)
    assert not (tmp_path / "g").exists()


def test_cli_help_names_every_regime_and_its_defaults_match_the_models():
    from fictional_knowledge.cli import app
    from fictional_knowledge.cli.regime import COMMANDS

    runner = CliRunner()
    top = runner.invoke(app, ["regime", "--help"])
    assert top.exit_code == 0
    for name, paper in [("injection", "Chang et al."), ("two-stage", "Zhang et al."), ("continual", "Chen et al."),
                        ("frequency", "Wang et al."), ("forget", "TOFU")]:
        assert re.search(rf"^\s+{name}\s+.*{paper}", top.output, re.M), name
    for name, model in OPTIONS.items():
        help_text = runner.invoke(app, ["regime", name, "--help"], terminal_width=400).output
        flat = " ".join(help_text.split())
        for field, info in model.model_fields.items():
            flag = "--" + field.replace("_", "-")
            default = info.get_default(call_default_factory=True)
            shown = "none" if default is None else ",".join(map(str, default)) if isinstance(default, list) else str(default)
            assert flag in flat, (name, flag)
            assert re.search(re.escape(flag) + r"[^\[]*\[default: " + re.escape(shown) + r"\]", flat), (name, flag, shown)
        assert name in COMMANDS
