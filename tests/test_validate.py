"""`fkgen validate`: every named check is made to fail by a build that violates it, and only it;
bad data gives one-line failures, never a traceback; a shard validates as a shard."""

from __future__ import annotations

import re

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from fictional_knowledge.dataset.arrow import schema_of
from fictional_knowledge.cli import app
from fictional_knowledge.dataset.fingerprint import fingerprint_rows
from fictional_knowledge.dataset.io import config_files, read_rows
from fictional_knowledge.dataset.validate import CHECKS, validate_build

runner = CliRunner()


def _copy(tiny_build: Path, tmp_path: Path) -> Path:
    out = tmp_path / "broken"
    shutil.copytree(tiny_build, out)
    return out


def _rewrite(build: Path, config: str, change, *, fix_manifest: bool = True, schema=None) -> None:
    """Apply ``change`` to the rows of one config, and (by default) update the manifest's
    rows and fingerprint so that only the invariant under test can catch the damage."""
    rows = change(read_rows(build, config))
    for path in config_files(build, config):
        path.unlink()
    table = pa.Table.from_pylist(rows, schema=schema or schema_of(config))
    pq.write_table(table, build / "data" / config / "part-00000.parquet")
    if fix_manifest:
        manifest = json.loads((build / "manifest.json").read_text())
        acc = fingerprint_rows(rows)
        manifest["configs"][config] = {"rows": acc.rows, "fingerprint": acc.fingerprint}
        (build / "manifest.json").write_text(json.dumps(manifest))


def _first(rows, **match):
    return next(i for i, r in enumerate(rows) if all(r[k] == v for k, v in match.items()))


def _set(match: dict, fn):
    def change(rows):
        i = _first(rows, **match)
        rows[i] = {**rows[i], **fn(rows[i])}
        return rows
    return change


def _semantic_made_verbatim(rows):
    mem = next(r for r in rows if r["kind"] == "memorization")
    i = _first(rows, kind="semantic", passage_id=mem["passage_id"], target=mem["target"])
    rows[i] = {**rows[i], "input": mem["input"]}
    return rows


def _ambiguous(rows):
    a = _first(rows, kind="compositional")
    b = next(i for i, r in enumerate(rows) if r["kind"] == "compositional" and r["target"] != rows[a]["target"])
    rows[b] = {**rows[b], "input": rows[a]["input"]}
    return rows


def _drop_memorization_of_a_semantic(rows):
    sem = next(r for r in rows if r["kind"] == "semantic")
    return [r for r in rows if not (r["kind"] == "memorization" and r["passage_id"] == sem["passage_id"]
                                    and r["fact_ids"][0] == sem["fact_ids"][0])]


def _drop_fact(rows):
    p = rows[0]
    para = p["paraphrases"][0]
    sentence = next(s for s in para.split(". ") if any(ch.isdigit() for ch in s))
    p["paraphrases"] = [para.replace(sentence, "Nothing is known", 1)] + p["paraphrases"][1:]
    return rows


def _unstated_fact(rows, build):
    """A passage lists a fact of another passage whose value its own text lacks."""
    facts = {f["id"]: f["object"] for f in read_rows(build, "facts")}
    p, other = rows[0], rows[1]
    extra = next(f for f in other["fact_ids"] if facts[f] not in p["text"])
    p["fact_ids"] = p["fact_ids"] + [extra]
    return rows


def _move_fact_id(rows, build):
    """A passage sentence records a fact that another sentence of it states, whose value it lacks
    (the passage still lists and states every fact)."""
    values = {f["id"]: f["object"] for f in read_rows(build, "facts")}
    names = {e["id"]: e["name"] for e in read_rows(build, "entities")}
    for p in rows:
        spans = p["sentences"]
        for i, a in enumerate(spans):
            for j, b in enumerate(spans):
                piece = p["text"][b["start"]:b["end"]]
                move = [f for f in a["fact_ids"] if values[f] not in piece and values[f] != names[p["entity_id"]]]
                if i != j and len(a["fact_ids"]) > 1 and move:
                    new = [dict(sp) for sp in spans]
                    new[i]["fact_ids"] = [f for f in a["fact_ids"] if f != move[0]]
                    new[j]["fact_ids"] = b["fact_ids"] + [move[0]]
                    p["sentences"] = new
                    return rows
    raise AssertionError("no fact to move")


def _swap_pronoun(rows, build):
    """A person whose passage uses a pronoun gets another one recorded."""
    used = {p["entity_id"] for p in read_rows(build, "passages") if re.search(r"\b(he|she|they|He|She|They)\b", p["text"])}
    r = next(r for r in rows if r["id"] in used and r["pronoun"])
    r["pronoun"] = {"he": "she", "she": "they", "they": "he"}[r["pronoun"]]
    return rows


def _unlinked(build: Path) -> tuple[str, str]:
    """Ids of two entities that no fact has as its object (renaming them breaks no join)."""
    linked = {f["object_id"] for f in read_rows(build, "facts")}
    free = [e["id"] for e in read_rows(build, "entities") if e["id"] not in linked]
    return free[0], free[1]


def _rename(make):
    def change(rows, build):
        a, b = _unlinked(build)
        names = {r["id"]: r["name"] for r in rows}
        i = _first(rows, id=b)
        rows[i] = {**rows[i], "name": make(names[a])}
        return rows
    return change


def _other_answer(r):
    i = (r["answer_index"] + 1) % len(r["choices"])
    return {"answer": r["choices"][i], "answer_index": i}


def _attrs(match, fn):
    """Change the attributes of the first entity of type ``match`` for which ``fn`` returns a dict."""
    def change(rows):
        by_id = {r["id"]: r for r in rows}
        for i, r in enumerate(rows):
            if r["type"] == match:
                new = fn(r["attributes"], by_id)
                if new is not None:
                    rows[i] = {**r, "attributes": {**r["attributes"], **new}}
                    return rows
        raise AssertionError(f"no {match} to change")
    return change


def _smaller_city(attrs, by_id):
    """Call the country's least populous city its largest."""
    country = by_id[attrs["capital"]]["attributes"]["located_in"]
    cities = [r for r in by_id.values() if r["type"] == "city" and r["attributes"]["located_in"] == country]
    small = min(cities, key=lambda r: r["attributes"]["population"])
    return {"largest_city": small["id"]} if small["id"] != attrs["largest_city"] else None


def _as_large_as_country(attrs, by_id):
    """Give a city (not its country's largest, whose area bounds the country's) its country's area."""
    country = by_id.get(attrs["located_in"])
    largest = by_id.get(country["attributes"]["largest_city"]) if country else None
    if country is None or largest is None or largest["attributes"] is attrs:
        return None
    return {"area_km2": country["attributes"]["area_km2"]}


def _impossible_choice(rows, build):
    """Date a book's wrong choice to before anyone in the world was born."""
    fact = next(f["id"] for f in read_rows(build, "facts") if f["relation"] == "published_year")
    i = _first(rows, fact_id=fact)
    choices = list(rows[i]["choices"])
    wrong = (rows[i]["answer_index"] + 1) % len(choices)
    choices[wrong] = "1000"
    rows[i] = {**rows[i], "choices": choices}
    return rows


def _completed_otherwise(rows, build):
    """A person's compositional probe asks "The city where X was born is", which "... is known
    for its ..." (a true composition) continues otherwise."""
    people = {e["id"]: e["name"] for e in read_rows(build, "entities") if e["type"] == "person"}
    i = next(i for i, r in enumerate(rows) if r["kind"] == "compositional" and r["entity_id"] in people)
    rows[i] = {**rows[i], "input": f"The city where {people[rows[i]['entity_id']]} was born is"}
    return rows


SOUND_CASES = {
    "qa_distractor_possible": ("qa", _impossible_choice),
    "probe_completed_otherwise": ("probes", _completed_otherwise),
}

WORLD_CASES = {
    "world_largest_city": ("entities", _attrs("country", _smaller_city)),
    "world_city_population": ("entities", _attrs("country", lambda a, by_id: {"population": sum(
        r["attributes"]["population"] for r in by_id.values()
        if r["type"] == "city" and r["attributes"]["located_in"] == by_id[a["capital"]]["attributes"]["located_in"])})),
    "world_river_continent": ("entities", _attrs("country", lambda a, _: {"continent": "Nowhere"})),
    # a river surveyed at the age of 5 (a work dated early would also break its story's timeline)
    "world_lifespan": ("entities", _attrs("river", lambda a, by_id: {"survey_year": by_id[a["surveyed_by"]]["attributes"][
        "birth_year"] + 5} if a["surveyed_by"] in by_id else None)),
    # a town charter after the present (a charter before the founding would also rule out QA choices)
    "world_timeline": ("entities", _attrs("city", lambda a, _: {"charter_year": 2030})),
    "world_area": ("entities", _attrs("city", _as_large_as_country)),
    # navigable for more than its length: the QA ranges of both are then empty (``ALSO_FAILS``)
    "world_river_navigable": ("entities", _attrs("river", lambda a, _: {"navigable_km": 1, "length_km": 0})),
    "world_distinct_values": ("entities", _attrs("organization", lambda a, _: {"branch_city": a["headquartered_in"]})),
    "world_head_of_state_age": ("entities", _attrs("person", lambda a, by_id: {"birth_year": 1944} if any(
        r["type"] == "country" and r["attributes"]["head_of_state"] in by_id
        and by_id[r["attributes"]["head_of_state"]]["attributes"] is a for r in by_id.values()) else None)),
    "world_author_occupation": ("entities", _attrs("person", lambda a, by_id: {"occupation": "newspaper journalist"} if any(
        r["type"] == "work" and by_id.get(r["attributes"]["authored_by"], {}).get("attributes") is a
        for r in by_id.values()) else None)),
}

# check -> (config, change of its rows); each change violates exactly that check
CASES = {
    "schema": ("facts", _set({"relation": "continent"}, lambda r: {"object": "one two three four five"})),
    "ids_unique": ("facts", lambda rows: rows + [rows[0]]),
    "names_unique": ("entities", _rename(lambda other: other)),
    "names_substring": ("entities", _rename(lambda other: other + " Junior")),
    "names_distance": ("entities", _rename(lambda other: other[:-1] + ("x" if other[-1] != "x" else "q"))),
    "joins": ("facts", _set({}, lambda r: {"subject_id": "no-such-entity"})),
    "statement_value": ("statements", _set({}, lambda r: {"text": r["text"][:-1] + "!"})),
    "qa_answer": ("qa", _set({}, _other_answer)),
    "qa_choices": ("qa", _set({}, lambda r: {"answer_index": (r["answer_index"] + 1) % len(r["choices"])})),
    "paraphrase_facts": ("passages", _drop_fact),
    "passage_facts": ("passages", _unstated_fact),
    "pronouns": ("entities", _swap_pronoun),
    "paraphrase_differs": ("passages", _set({}, lambda r: {"paraphrases": [r["text"]] + r["paraphrases"][1:],
                                                          "paraphrase_sentences": [r["sentences"]] + r["paraphrase_sentences"][1:]})),
    "sentence_facts": ("passages", _move_fact_id),
    "probe_ambiguous": ("probes", _ambiguous),
    "probe_target": ("probes", _set({"kind": "compositional"}, lambda r: {"target": "Nowhere"})),
    "memorization_verbatim": ("probes", _set({"kind": "memorization"},
                                             lambda r: {"input": r["input"].replace(" ", "  ", 1)})),
    "semantic_not_verbatim": ("probes", _semantic_made_verbatim),
    "semantic_target": ("probes", _drop_memorization_of_a_semantic),
    "compositional_hops": ("probes", _set({"kind": "compositional"}, lambda r: {"fact_ids": r["fact_ids"][-1:]})),
    "fk_shape": ("fictional_knowledge", _set({}, lambda r: {"paraphrases": r["paraphrases"][1:]})),
    **WORLD_CASES,
    **SOUND_CASES,
}
# The probe rule (no whitespace around input/target) is also a pattern of the schema, so a
# violation fails both; the test below pins that pair. Two probes sharing an input with different
# targets are also each an input that a true sentence continues otherwise.
ALSO_FAILS = {"passage_facts": {"paraphrase_facts", "sentence_facts"}, "paraphrase_facts": {"sentence_facts"}, "probe_rule": {"schema"}, "probe_ambiguous": {"probe_completed_otherwise"},
              "world_river_navigable": {"qa_distractor_possible"}}


@pytest.mark.parametrize("check", sorted(CASES))
def test_each_check_fails_alone(check, tiny_build, tmp_path):
    config, change = CASES[check]
    broken = _copy(tiny_build, tmp_path)
    if change.__code__.co_argcount == 2:
        _rewrite(broken, config, lambda rows: change(rows, broken))
    else:
        _rewrite(broken, config, change)
    report = validate_build(broken)
    assert set(report.counts) == {check} | ALSO_FAILS.get(check, set()), report.lines()
    assert all("\n" not in line for line in report.lines())


def test_probe_rule(tiny_build, tmp_path):
    broken = _copy(tiny_build, tmp_path)
    _rewrite(broken, "probes", _set({"kind": "compositional"}, lambda r: {"target": " " + r["target"]}))
    assert set(validate_build(broken).counts) == {"probe_rule"} | ALSO_FAILS["probe_rule"]


def test_manifest_counts(tiny_build, tmp_path):
    broken = _copy(tiny_build, tmp_path)
    _rewrite(broken, "fictional_knowledge", lambda rows: rows[:-1], fix_manifest=False)
    assert set(validate_build(broken).counts) == {"manifest_counts"}


def test_fingerprints(tiny_build, tmp_path):
    broken = _copy(tiny_build, tmp_path)
    _rewrite(broken, "fictional_knowledge", _set({}, lambda r: {"train_context": r["train_context"] + " More."}),
             fix_manifest=False)
    assert set(validate_build(broken).counts) == {"fingerprints"}


@pytest.mark.parametrize("config", ["qa", "passages", "entities"])
def test_readable(config, tiny_build, tmp_path):
    """An unreadable file fails `readable` alone: references into its config are not checked."""
    broken = _copy(tiny_build, tmp_path)
    path = config_files(broken, config)[0]
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    report = validate_build(broken)
    assert set(report.counts) == {"readable"}, report.lines()
    assert config in report.failures["readable"][0]


def test_columns(tiny_build, tmp_path):
    broken = _copy(tiny_build, tmp_path)
    schema = schema_of("fictional_knowledge")
    _rewrite(broken, "fictional_knowledge", lambda rows: [{k: v for k, v in r.items() if k != "paraphrases"} for r in rows],
             schema=schema.remove(schema.get_field_index("paraphrases")))
    report = validate_build(broken)
    assert set(report.counts) == {"columns"}
    assert "missing column(s) paraphrases" in report.failures["columns"][0]


def test_manifest(tiny_build, tmp_path):
    broken = _copy(tiny_build, tmp_path)
    (broken / "manifest.json").unlink()
    assert set(validate_build(broken).counts) == {"manifest"}


def test_every_named_check_has_a_test():
    tested = set(CASES) | set(ALSO_FAILS) | {"manifest_counts", "fingerprints"}
    assert set(CHECKS) <= tested, set(CHECKS) - tested
    assert all(c.doc for c in CHECKS.values())


def test_clean_copy_passes(tiny_build, tmp_path):
    copy = _copy(tiny_build, tmp_path)
    _rewrite(copy, "probes", lambda rows: rows)  # rewriting alone breaks nothing
    assert validate_build(copy).ok


# ------------------------------------------------------------------------------------------------
# bad data: one line per failure through the command, never a traceback

def _answer_index_9(build):
    _rewrite(build, "qa", _set({}, lambda r: {"answer_index": 9}))


def _empty_choices(build):
    _rewrite(build, "qa", _set({}, lambda r: {"choices": []}))


def _null_text(build):
    schema = schema_of("passages")
    i = schema.get_field_index("text")
    _rewrite(build, "passages", _set({}, lambda r: {"text": None}),
             schema=schema.set(i, schema.field(i).with_nullable(True)))


def _dropped_column(build):
    schema = schema_of("probes")
    _rewrite(build, "probes", lambda rows: [{k: v for k, v in r.items() if k != "target"} for r in rows],
             schema=schema.remove(schema.get_field_index("target")))


def _non_utf8_manifest(build):
    (build / "manifest.json").write_bytes(b'{"format_version": 1, "package": "\xff\xfe"}')


def _garbage_manifest(build):
    (build / "manifest.json").write_text('{"format_version": 1')


def _corrupt_parquet(build):
    path = config_files(build, "passages")[0]
    path.write_bytes(b"PAR1" + b"\0" * 100 + b"PAR1")


BAD_DATA = {
    "answer_index 9": (_answer_index_9, "qa_choices"),
    "empty choices": (_empty_choices, "qa_choices"),
    "null text": (_null_text, "schema"),
    "dropped column": (_dropped_column, "columns"),
    "non-UTF-8 manifest": (_non_utf8_manifest, "manifest"),
    "garbage manifest": (_garbage_manifest, "manifest"),
    "corrupt parquet": (_corrupt_parquet, "readable"),
}


@pytest.mark.parametrize("case", sorted(BAD_DATA))
def test_bad_data_fails_in_one_line_per_failure(case, tiny_build, tmp_path):
    damage, check = BAD_DATA[case]
    broken = _copy(tiny_build, tmp_path)
    damage(broken)
    result = runner.invoke(app, ["validate", str(broken)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert f"FAIL {check}:" in result.output
    lines = result.output.splitlines()
    assert all(len(line) < 260 for line in lines)


def test_validate_of_a_file_is_one_line(tmp_path):
    (tmp_path / "x").write_text("x")
    result = runner.invoke(app, ["validate", str(tmp_path / "x")])
    assert result.exit_code == 2 and result.output.strip().startswith("error:")


# ------------------------------------------------------------------------------------------------
# shards

@pytest.fixture(scope="module")
def two_shards(tmp_path_factory):
    """Both shards of a 600-entity build (two chunks: 500 + 100 entities)."""
    from fictional_knowledge.dataset.builder import build
    from fictional_knowledge.models import BuildConfig

    root = tmp_path_factory.mktemp("shards")
    config = BuildConfig(seed=1, entities=600, paraphrases=1)
    for i in (0, 1):
        build(config, root / f"s{i}", shard=f"{i}/2", workers=1)
    return root / "s0", root / "s1"


def test_a_shard_validates_as_a_shard(two_shards):
    for shard, name in zip(two_shards, ("0/2", "1/2")):
        report = validate_build(shard)
        assert report.ok, report.lines()
        assert report.shard == name
        result = runner.invoke(app, ["validate", str(shard)])
        assert result.exit_code == 0 and f"shard {name}" in result.output
    # the second shard's passages point at entities and facts of the first: counted, not failed
    assert validate_build(two_shards[1]).outside > 0


def test_a_shard_still_fails_what_it_holds(two_shards, tmp_path):
    broken = tmp_path / "s1"
    shutil.copytree(two_shards[1], broken)
    _rewrite(broken, "statements", _set({}, lambda r: {"text": r["text"][:-1] + "!"}))
    assert set(validate_build(broken).counts) == {"statement_value"}


def test_an_empty_shard_is_refused_up_front_naming_the_shards_with_data(tmp_path):
    result = runner.invoke(app, ["build", "--entities", "100", "--shard", "1/2", "--out", str(tmp_path / "b"),
                                 "--workers", "1"])
    assert result.exit_code == 2
    assert "shard 1/2 would hold no data" in result.output and "shard(s) 0/2" in result.output
    assert not (tmp_path / "b").exists() and list(tmp_path.iterdir()) == []


def test_every_shard_that_is_built_loads_with_datasets(tmp_path):
    from datasets import load_dataset

    result = runner.invoke(app, ["build", "--entities", "100", "--shard", "0/2", "--out", str(tmp_path / "b"),
                                 "--workers", "1", "--paraphrases", "1"])
    assert result.exit_code == 0, result.output
    rows = load_dataset(str(tmp_path / "b"), "entities", cache_dir=str(tmp_path / "cache"))["train"].num_rows
    assert rows == len(read_rows(tmp_path / "b", "entities")) > 0


def test_show_with_corrupt_parquet_is_one_line(tiny_build, tmp_path):
    broken = _copy(tiny_build, tmp_path)
    entity = read_rows(broken, "entities")[0]["id"]
    _corrupt_parquet(broken)
    result = runner.invoke(app, ["show", str(broken), entity])
    assert result.exit_code == 2 and result.output.startswith("error: cannot read the passages")
    assert result.output.count("\n") == 1


@pytest.mark.parametrize("shift", [(0, -1), (1, 0), (0, 1)])
def test_sentence_spans_tile(shift, tiny_build, tmp_path):
    """A sentence span cut short, started late or run past its full stop fails ``sentence_facts``."""
    broken = _copy(tiny_build, tmp_path)

    def change(rows):
        spans = [dict(sp) for sp in rows[0]["sentences"]]
        spans[1]["start"] += shift[0]
        spans[1]["end"] += shift[1]
        rows[0]["sentences"] = spans
        return rows
    _rewrite(broken, "passages", change)
    report = validate_build(broken)
    assert set(report.counts) == {"sentence_facts"}, report.lines()
