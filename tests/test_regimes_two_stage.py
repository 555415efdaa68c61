"""The two-stage vs mixed regime (Zhang et al. 2025)."""

from __future__ import annotations

from collections import Counter

import pyarrow.parquet as pq
import pytest

from fictional_knowledge.dataset.fingerprint import canonical_json
from fictional_knowledge.dataset.io import read_rows
from fictional_knowledge.regimes import make_regime
from fictional_knowledge.generate.templates import load_templates

MULTIPLICITY = 4  # more than the 3 templates per relation: the variants cycle


def _rows(folder, config, split):
    return [r for f in sorted((folder / "data" / config).glob(f"{split}-*.parquet")) for r in pq.read_table(f).to_pylist()]


@pytest.fixture(scope="module")
def regime(tiny_build, tmp_path_factory):
    out = tmp_path_factory.mktemp("two-stage") / "r"
    manifest = make_regime("two-stage", tiny_build, out, seed=3, multiplicity=MULTIPLICITY, train_fraction=0.4)
    data = {(c, s): _rows(out, c, s) for c, splits in manifest.configs.items() for s in splits}
    return manifest, data


def test_entity_split_is_exact_and_disjoint(regime, tiny_build):
    manifest, data = regime
    roles = {r["entity_id"]: r["role"] for r in data[("entities", "train")]}
    assert set(roles) == {e["id"] for e in read_rows(tiny_build, "entities")}
    n = len(roles)
    train = round(0.4 * n)
    assert Counter(roles.values()) == {"train": train, "heldout": n - train}
    assert manifest.notes == {"train_entities": train, "heldout_entities": n - train}


def test_heldout_qa_is_never_trained_on(regime, tiny_build):
    _, data = regime
    roles = {r["entity_id"]: r["role"] for r in data[("entities", "train")]}
    qa = read_rows(tiny_build, "qa")
    test = data[("test", "test")]
    assert {r["entity_id"] for r in test} == {e for e, r in roles.items() if r == "heldout"}
    assert sorted(r["id"] for r in test) == sorted(q["id"] for q in qa if roles[q["entity_id"]] == "heldout")
    training = data[("two_stage", "stage1")] + data[("two_stage", "stage2")] + data[("mixed", "train")]
    heldout_questions = {r["question"] for r in test}
    assert not any(q in ex["text"] for ex in training for q in heldout_questions)
    assert {ex["entity_id"] for ex in data[("two_stage", "stage2")]} == {e for e, r in roles.items() if r == "train"}
    assert all(ex["kind"] == "qa" and ex["text"] == ex["prompt"] + ex["completion"] for ex in data[("two_stage", "stage2")])
    for row in test:
        assert row["prompt"] == f"Question: {row['question']}\nAnswer:" and row["completion"] == " " + row["answer"]


def test_stage1_states_every_fact_of_every_entity_with_multiplicity(regime, tiny_build):
    _, data = regime
    stage1 = data[("two_stage", "stage1")]
    statements = {s["fact_id"]: s["text"] for s in read_rows(tiny_build, "statements")}
    facts = {f["id"]: f for f in read_rows(tiny_build, "facts")}
    per_fact: dict[str, list[str]] = {}
    for ex in stage1:
        assert ex["kind"] == "statement" and ex["prompt"] == ""
        per_fact.setdefault(ex["fact_id"], []).append(ex["text"])
    assert set(per_fact) == set(facts)
    types = {e["id"]: e["type"] for e in read_rows(tiny_build, "entities")}
    templates = load_templates()
    for fid, texts in per_fact.items():
        n = len(templates[types[facts[fid]["subject_id"]]].passage[facts[fid]["relation"]])
        assert len(texts) == MULTIPLICITY and texts[0] == statements[fid]
        assert len(set(texts)) == min(n, MULTIPLICITY)  # another template while they last
        assert texts[n:] == texts[:MULTIPLICITY - n]  # then cycling
        assert all(t.endswith(f" {facts[fid]['object']}.") for t in texts)


def test_mixed_is_a_seeded_shuffle_of_both_stages(regime, tiny_build, tmp_path):
    _, data = regime
    both = data[("two_stage", "stage1")] + data[("two_stage", "stage2")]
    mixed = data[("mixed", "train")]
    assert Counter(map(canonical_json, mixed)) == Counter(map(canonical_json, both))
    kinds = [ex["kind"] for ex in mixed]
    assert kinds != sorted(kinds, key=lambda k: k != "statement")  # not stage 1 then stage 2
    first_half = kinds[: len(kinds) // 2].count("qa") / (len(kinds) // 2)
    assert 0.05 < first_half < 0.35  # QA are ~1/5 of the examples, spread through
    other = make_regime("two-stage", tiny_build, tmp_path / "o", seed=4, multiplicity=MULTIPLICITY, train_fraction=0.4)
    assert other.configs["mixed"]["train"].sequence != regime[0].configs["mixed"]["train"].sequence
