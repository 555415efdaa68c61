"""FK-schema data (kaist-ai/fictional-knowledge's fields) in: files, folders, builds, the Hub."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pytest
from tinymodel import make_tiny_model

from fictional_knowledge.evaluate.fk_schema import (FK_FIELDS, FKSchemaError, evaluate_fk, fingerprint_fk_rows, fk_probes,
                                           load_fk_rows)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _row(n: int, **over) -> dict:
    row = {
        "train_context": f"Olvar{n} is a river. It flows into the Maren Sea.",
        "mem_input": [f"Olvar{n} flows into the", f"Olvar{n} is a"],
        "mem_target": ["Maren Sea", "river"],
        "gen_input": [f"The river Olvar{n} ends in the"],
        "gen_target": ["Maren Sea"],
        "hard_gen_input": [f"The sea at the end of Olvar{n} is the"],
        "hard_gen_target": ["Maren Sea"],
        "paraphrases": [],
    }
    row.update(over)
    return row


# FK's own defect: a memorization input that ends with an opening quote
QUOTE_ROW = _row(9, mem_input=['The motto of Olvar9 is "', "Olvar9 is a"], mem_target=["Flow on", "river"])
ROWS = [_row(0), _row(1), QUOTE_ROW]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    texts = [r["train_context"] for r in ROWS] * 20
    folder = make_tiny_model(tmp_path_factory.mktemp("fk-tiny") / "model", texts, vocab_size=300, n_embd=32)
    return folder, AutoModelForCausalLM.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)


def test_probes_follow_the_rule_and_report_opening_quotes():
    fk = fk_probes(ROWS)
    assert fk.rows == 3
    assert len(fk.probes) == 3 * 4  # 2 memorization + 1 semantic + 1 compositional per row
    assert [p["kind"] for p in fk.probes[:4]] == ["memorization", "memorization", "semantic", "compositional"]
    first = fk.probes[0]
    assert (first["input"], first["target"], first["id"]) == ("Olvar0 flows into the", "Maren Sea", "fk-0-memorization-0")
    # the opening-quote probe is scored (never dropped) and reported
    assert fk.opening_quote == ["fk-2-memorization-0"]
    assert any(p["id"] == "fk-2-memorization-0" and p["input"].endswith('"') for p in fk.probes)
    assert "1 probe(s) whose input ends with an opening quote" in fk.report_lines()[0]
    assert fk_probes(ROWS, ["semantic"]).probes == [p for p in fk.probes if p["kind"] == "semantic"]


def test_untrimmed_targets_are_reported_not_changed():
    fk = fk_probes([_row(0, gen_target=[" Maren Sea "])])
    assert fk.untrimmed_target == ["fk-0-semantic-0"]
    assert [p["target"] for p in fk.probes if p["kind"] == "semantic"] == [" Maren Sea "]


@pytest.mark.parametrize("row, message", [
    (_row(0, mem_target=["Maren Sea"]), "mem_input has 2 item(s) but mem_target has 1"),
    ({k: v for k, v in _row(0).items() if k != "gen_target"}, "missing FK-schema field(s) gen_target"),
    (_row(0, hard_gen_target=[""]), "hard_gen_input[0]/hard_gen_target[0] must be strings with a non-empty target"),
    (_row(0, gen_input="not a list"), "gen_input and gen_target must be lists"),
])
def test_bad_rows_are_refused_with_their_position(row, message):
    with pytest.raises(FKSchemaError, match="row 1: " + re.escape(message)):
        fk_probes([_row(5), row])


def test_files_and_folders_load_with_their_sha256(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "rows.json").write_text(json.dumps(ROWS))
    (tmp_path / "wrapped.json").write_text(json.dumps({"data": ROWS}))
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    pq.write_table(pa.Table.from_pylist(ROWS), tmp_path / "rows.parquet")
    for name in ("rows.json", "wrapped.json", "rows.jsonl", "rows.parquet"):
        rows, source = load_fk_rows(tmp_path / name)
        assert rows == ROWS, name
        assert source.kind == "file" and source.path == str(tmp_path / name)
        assert source.sha256 == hashlib.sha256(name.encode() + b"\0" + (tmp_path / name).read_bytes()).hexdigest()
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS[:2]))
    (folder / "b.json").write_text(json.dumps(ROWS[2:]))
    rows, source = load_fk_rows(folder)
    assert rows == ROWS and source.kind == "folder" and source.files == ("a.jsonl", "b.json")
    before = source.sha256
    (folder / "b.json").write_text(json.dumps(ROWS[2:] + ROWS[:1]))
    assert load_fk_rows(folder)[1].sha256 != before
    (tmp_path / "bad.jsonl").write_text('{"a": 1}\nnot json\n')
    with pytest.raises(FKSchemaError, match="bad.jsonl:2: not JSON"):
        load_fk_rows(tmp_path / "bad.jsonl")
    with pytest.raises(FKSchemaError, match="no such build folder"):
        load_fk_rows(tmp_path / "nothing-here")


def test_a_build_is_an_fk_schema_source(tiny_build):
    from fictional_knowledge.dataset.io import read_manifest, read_rows

    rows, source = load_fk_rows(tiny_build)
    expected = read_rows(tiny_build, "fictional_knowledge")
    assert rows == expected and source.config == "fictional_knowledge"
    assert fingerprint_fk_rows(rows) == read_manifest(tiny_build).configs["fictional_knowledge"].fingerprint
    fk = fk_probes(rows)
    assert fk.opening_quote == [] and fk.untrimmed_target == []  # our data keeps the rule
    # every memorization probe of the FK rows is a memorization probe of the build (same input and target)
    mem = {(p["input"], p["target"]) for p in read_rows(tiny_build, "probes") if p["kind"] == "memorization"}
    assert {(p["input"], p["target"]) for p in fk.probes if p["kind"] == "memorization"} == mem


def test_hub_ids_go_through_load_dataset_with_the_revision(monkeypatch):
    import datasets

    calls = []

    def fake_load_dataset(path, name=None, *, revision=None, split=None):
        calls.append((path, name, revision, split))
        return datasets.DatasetDict({"train": datasets.Dataset.from_list(ROWS)})

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    rows, source = load_fk_rows("kaist-ai/fictional-knowledge", revision="abc123")
    assert calls == [("kaist-ai/fictional-knowledge", None, "abc123", None)]
    assert rows == ROWS
    assert (source.kind, source.path, source.revision, source.split) == ("hub", "kaist-ai/fictional-knowledge", "abc123", "train")


def test_unreachable_hub_id_is_one_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(FKSchemaError, match=r"^cannot load 'nobody/no-such-dataset' at revision 'v1': [^\n]*$"):
        load_fk_rows("nobody/no-such-dataset", revision="v1")


@pytest.mark.slow
def test_fk_rows_of_a_build_score_like_its_probes(tiny_build):
    """Scoring the build's `fictional_knowledge` config gives the same per-probe losses as scoring
    the build's own probes: the same probe rule, the same scorer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from fictional_knowledge.dataset.io import read_rows
    from fictional_knowledge.evaluate.scoring_qa import evaluate_build

    texts = [p["text"] for p in read_rows(tiny_build, "passages")]
    folder = make_tiny_model(tiny_build.parent / "fk-eq-model", texts, vocab_size=300, n_embd=32)
    model, tok = AutoModelForCausalLM.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)
    ours = evaluate_build(model, tok, tiny_build, model_name="m", kinds=list(FK_FIELDS), threads=1)
    theirs, fk = evaluate_fk(model, tok, tiny_build, model_name="m", threads=1)
    build_probes = {p["id"]: (p["input"], p["target"]) for p in read_rows(tiny_build, "probes")}
    by_text = {build_probes[r["id"]] + (r["kind"],): r["loss"] for r in ours.rows}
    fk_text = {p["id"]: (p["input"], p["target"], p["kind"]) for p in fk.probes}
    assert len(theirs.rows) == len(fk.probes) > 0
    for r in theirs.rows:
        assert r["loss"] == pytest.approx(by_text[fk_text[r["id"]]], abs=1e-5)
    for kind in FK_FIELDS:
        assert theirs.results.scores[kind].n == ours.results.scores[kind].n
    assert theirs.results.dataset.source == "folder"
    assert theirs.results.dataset.fingerprints["fictional_knowledge"] == ours.results.dataset.fingerprints["fictional_knowledge"]


@pytest.mark.slow
def test_cli_eval_scores_an_fk_schema_file(tiny, tmp_path):
    from typer.testing import CliRunner

    from fictional_knowledge.cli import app
    from fictional_knowledge.evaluate.results import Results

    folder, model, tok = tiny
    data = tmp_path / "fk.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    out, per = tmp_path / "res.json", tmp_path / "rows.jsonl"
    args = ["eval", "--model", str(folder), "--data", str(data), "--out", str(out), "--per-probe", str(per),
            "--device", "cpu", "--threads", "1", "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "note: 1 probe(s) whose input ends with an opening quote" in result.output
    res = Results.model_validate_json(out.read_text())
    assert {k: s.n for k, s in res.scores.items()} == {"memorization": 6, "semantic": 3, "compositional": 3}
    assert res.dataset.source == "file" and res.dataset.path == str(data)
    assert res.dataset.sha256 == hashlib.sha256(b"fk.jsonl\0" + data.read_bytes()).hexdigest()
    assert res.settings["fk_opening_quote_probes"] == 1 and res.settings["fk_rows"] == 3
    rows = [json.loads(line) for line in per.read_text().splitlines()]
    assert len(rows) == 12 and "fk-2-memorization-0" in {r["id"] for r in rows}
    from fictional_knowledge.evaluate.scoring import ProbeScorer

    probes = fk_probes(ROWS).probes
    direct = dict(zip([p["id"] for p in probes], ProbeScorer(tok, probes).score(model).loss))
    np.testing.assert_allclose([r["loss"] for r in rows], [direct[r["id"]] for r in rows], atol=1e-5)
    assert [r["kind"] for r in rows] == ["memorization"] * 6 + ["semantic"] * 3 + ["compositional"] * 3

    bad = CliRunner().invoke(app, args[:4] + [str(tmp_path / "missing.json")] + args[5:])
    assert bad.exit_code == 2 and "no such build folder" in bad.output
    qa = CliRunner().invoke(app, args + ["--kinds", "qa"])
    assert qa.exit_code == 2 and "no QA" in qa.output
