"""``fkgen stats``: each metric pinned on a two-passage corpus whose values were computed by hand."""

from __future__ import annotations

import json
import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from fictional_knowledge.cli import app
from fictional_knowledge.dataset.stats import PassageRow, StatsError, measure, read_passages, skeleton

runner = CliRunner()

P1 = "Anna Bel was born in Rome. She wrote 12 books. She wrote 3 books."
P2 = "Rome is big, old and famous! It has 1,200 roads."
CORPUS = [
    {"train_context": P1, "paraphrases": [P1], "fact_ids": ["a", "b", "c"]},
    {"train_context": P2, "paraphrases": ["It has 1,200 roads."], "fact_ids": ["d", "e"]},
]

# By hand:
# sentences  P1: "Anna Bel was born in Rome." (6 words) "She wrote 12 books." (4) "She wrote 3 books." (4)
#            P2: "Rome is big, old and famous!" (6) "It has 1,200 roads." (4)
#   mean 24/5 = 4.8; squared deviations 1.44+.64+.64+1.44+.64 = 4.8, /(5-1) = 1.2, sd = sqrt(1.2)
# words per passage (14 + 10) / 2 = 12
# tokens P1: anna bel was born in rome . she wrote 12 books . she wrote 3 books .   (17)
#        P2: rome is big , old and famous ! it has 1 , 200 roads .               (15)
#   bigrams: P1 16 of which 13 distinct (". she", "she wrote", "books ." repeat), P2 14 distinct,
#            none shared -> 27/30; trigrams: P1 15, 14 distinct (". she wrote"), P2 13 -> 27/28
# skeletons: "X X was born in X." "X wrote N books." (twice) "X is bigN old and famous!"
#            "X has N roads." -> 4/5
# pronouns: she, she, it = 3 of 12 + 9 alphabetic tokens -> 100 * 3/21
# same opening: P1 (Anna Bel|She wrote) no, (She wrote|She wrote) yes; P2 (Rome is|It has) no -> 1/3
# facts per 100 words: (3 + 2) / 24 * 100
# paraphrase Jaccard: P1 vs itself 1; P2 vs "It has 1,200 roads." 6 of P2's 14 bigrams -> 6/14;
#                     mean (1 + 6/14) / 2
EXPECTED = {
    "passages": 2, "sentences": 5, "words_per_passage": 12.0,
    "sentence_length_mean": 4.8, "sentence_length_sd": math.sqrt(1.2),
    "distinct_2": 27 / 30, "distinct_3": 27 / 28, "skeletons_per_sentence": 4 / 5,
    "pronouns_per_100_words": 100 * 3 / 21, "same_opening_rate": 1 / 3,
    "facts_per_100_words": 100 * 5 / 24, "paraphrase_bigram_jaccard": (1 + 6 / 14) / 2,
}


def test_skeleton_definition():
    assert skeleton("Rome is big, old and famous!") == "X is bigN old and famous!"
    assert skeleton("It has 1,200 roads.") == "X has N roads."


@pytest.mark.parametrize("metric", sorted(EXPECTED))
def test_each_metric_on_the_hand_computed_corpus(metric, tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in CORPUS))
    stats = measure(read_passages(path), source=str(path)).to_dict()
    assert stats[metric] == pytest.approx(EXPECTED[metric], abs=1e-12)


@pytest.mark.parametrize("suffix", ["json", "jsonl", "parquet"])
def test_cli_reads_every_file_format_and_writes_json(suffix, tmp_path):
    path = tmp_path / f"corpus.{suffix}"
    if suffix == "json":
        path.write_text(json.dumps(CORPUS))
    elif suffix == "jsonl":
        path.write_text("".join(json.dumps({**r, "text": r["train_context"]}) + "\n" for r in CORPUS))
    else:
        pq.write_table(pa.Table.from_pylist(CORPUS), path)
    out = tmp_path / "out" / "stats.json"
    result = runner.invoke(app, ["stats", str(path), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "| mean sentence length, words (sd) | 4.8 (1.1) |" in result.output
    assert "| distinct-2 / distinct-3 | 0.900 / 0.964 |" in result.output
    written = json.loads(out.read_text())
    for key, value in EXPECTED.items():
        assert written[key] == pytest.approx(value, abs=1e-12)
    assert [p.name for p in out.parent.iterdir()] == ["stats.json"]  # no temp file left
    assert written["soundness"] is None  # a file of passages has no world to check


def test_text_field_without_facts_or_paraphrases_leaves_those_metrics_empty(tmp_path):
    path = tmp_path / "plain.jsonl"
    path.write_text(json.dumps({"text": P1}) + "\n")
    stats = measure(read_passages(path))
    assert stats.facts_per_100_words is None and stats.paraphrase_bigram_jaccard is None
    result = runner.invoke(app, ["stats", str(path)])
    assert "| facts per 100 words | — |" in result.output


def test_build_folder_prints_and_writes_soundness_figures(tiny_build, tmp_path):
    out = tmp_path / "stats.json"
    result = runner.invoke(app, ["stats", str(tiny_build), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "| world constraint `largest_city`: violations | 0 |" in result.output
    assert "| probes whose input another true sentence continues differently | 0 of 900" in result.output
    sound = json.loads(out.read_text())["soundness"]
    assert sound["world_violations"]["river_continent"] == 0 and sound["qa_impossible_distractor_rows"] == 0


def test_soundness_of_a_build_of_an_older_data_version_is_refused_in_one_line(tiny_build, tmp_path):
    """A build made before relations were added lacks attributes the world checks read: the text
    figures still print, the soundness figures are refused with the reason (was: a TypeError)."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    old = tmp_path / "old"
    shutil.copytree(tiny_build, old)
    for f in (old / "data" / "entities").glob("*.parquet"):
        table = pq.read_table(f)
        attrs = table.column("attributes").combine_chunks()
        kept = [attrs.type.field(i).name for i in range(attrs.type.num_fields) if attrs.type.field(i).name != "boycott_year"]
        struct = pa.StructArray.from_arrays([attrs.field(n) for n in kept], names=kept, mask=attrs.is_null())
        pq.write_table(table.set_column(table.schema.get_field_index("attributes"), "attributes", struct), f)
    result = runner.invoke(app, ["stats", str(old)])
    assert result.exit_code == 2, result.output
    assert "| distinct-2 / distinct-3 |" in result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("error:") and "event.boycott_year" in last and "older data version" in last


def test_build_folder_and_sample(tiny_build):
    every = measure(read_passages(tiny_build))
    assert every.passages == 60 and every.facts_per_100_words > 0 and every.paraphrase_bigram_jaccard > 0
    a = read_passages(tiny_build, sample=10, seed=1)
    assert a == read_passages(tiny_build, sample=10, seed=1) != read_passages(tiny_build, sample=10, seed=2)
    assert len(a) == 10 and set(a) <= set(read_passages(tiny_build))
    assert read_passages(tiny_build, sample=1000) == read_passages(tiny_build)


def _bad(tmp_path, name, content: bytes):
    path = tmp_path / name
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("case,content,message", [
    ("x.jsonl", b'{"title": "no text"}\n', "no string field 'train_context' or 'text'"),
    ("x.json", b"\xff\xfe not utf-8", "not UTF-8 text"),
    ("x.json", b"[{", "not JSON"),
    ("x.jsonl", b'{"text": "A."}\n{', "x.jsonl:2: not JSON"),
    ("x.parquet", b"PAR1 garbage PAR1", "unreadable parquet"),
    ("x.txt", b"A.", "expected a build folder or a .json, .jsonl or .parquet file"),
    ("x.json", b"[]", "holds no passages"),
])
def test_bad_input_is_one_line(case, content, message, tmp_path):
    path = _bad(tmp_path, case, content)
    result = runner.invoke(app, ["stats", str(path)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error:") and message in result.output and result.output.count("\n") == 1


def test_missing_path_and_bad_sample(tmp_path):
    assert runner.invoke(app, ["stats", str(tmp_path / "nope")]).output.startswith("error:")
    assert runner.invoke(app, ["stats", str(tmp_path), "--sample", "0"]).exit_code == 2
    with pytest.raises(StatsError, match="not a build folder"):
        read_passages(tmp_path)
    with pytest.raises(StatsError):
        measure([])
    assert measure([PassageRow("One.")]).sentences == 1


def test_readme_table_is_what_the_command_prints_on_the_default_build(tmp_path):
    """The README's "Text statistics" table is the output of its own command (1,000 entities)."""
    import re
    from pathlib import Path

    from fictional_knowledge.dataset.builder import build
    from fictional_knowledge.models import BuildConfig
    from fictional_knowledge.dataset.stats import format_table

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Text statistics", 1)[1].split("\n## ", 1)[0]
    assert "fkgen stats builds/seed-0 --sample 130 --seed 0" in section
    shown, soundness = re.findall(r"```text\n(.*?)\n```", section, re.S)[:2]
    build(BuildConfig(seed=0), tmp_path / "seed-0", workers=1)
    assert shown == format_table(measure(read_passages(tmp_path / "seed-0", sample=130, seed=0)))
    from fictional_knowledge.dataset.figures import build_figures, format_figures

    assert soundness == format_figures(build_figures(tmp_path / "seed-0"))  # "Soundness figures"


def test_distinct_inventory_cuts_each_clause_list_to_its_first_lines():
    """``benchmarks/distinct_inventory.py`` measures distinct-n on builds whose clause lists are cut:
    a fraction of 1 must leave the templates as they are, and a smaller one keep exactly the
    readings of each list's first source lines."""
    import importlib.util
    import math
    from pathlib import Path

    import yaml

    from fictional_knowledge.generate.templates import expand, load_templates

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "distinct_inventory.py"
    spec = importlib.util.spec_from_file_location("fk_distinct_inventory", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    full = load_templates()
    same, pairs_all = bench.cut_templates(1.0)
    half, pairs_half = bench.cut_templates(0.5)
    assert 0 < pairs_half < pairs_all
    for etype, t in full.items():
        assert same[etype].clauses == t.clauses and same[etype].openers == t.openers
        raw = yaml.safe_load(t.file.read_text(encoding="utf-8"))["relations"]
        for rel, compiled in t.clauses.items():
            sources = raw[rel]["clauses"]
            kept = sources[:math.ceil(len(sources) / 2)]
            want = [" ".join(r.split()) for s in kept for r in expand(s)]
            assert [c.source for c in half[etype].clauses[rel]] == want, (etype, rel)
            assert len(half[etype].clauses[rel]) < len(compiled)
