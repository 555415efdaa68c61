"""The continual-memorization regime with REMIX mixing (Chen et al. 2024)."""

from __future__ import annotations

import math
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fictional_knowledge.dataset.io import read_rows
from fictional_knowledge.regimes import make_regime
from fictional_knowledge.regimes.common import RegimeError, Source, fraction_count
from fictional_knowledge.regimes.continual import GENERIC_PROMPT
from fictional_knowledge.regimes.sentences import all_renderings
from fictional_knowledge.generate.vocab import ENGLISH_WORDS

RATIO = 1.5


def _rows(folder, config, split):
    return [r for f in sorted((folder / "data" / config).glob(f"{split}-*.parquet")) for r in pq.read_table(f).to_pylist()]


@pytest.fixture(scope="module")
def regime(tiny_build, tmp_path_factory):
    out = tmp_path_factory.mktemp("continual") / "r"
    manifest = make_regime("continual", tiny_build, out, seed=0, mix_ratio=RATIO, random_words=40)
    data = {(c, s): _rows(out, c, s) for c, splits in manifest.configs.items() for s in splits}
    roles = {r["entity_id"]: r["role"] for r in data[("entities", "train")]}
    return manifest, data, roles


def test_entity_sets_are_disjoint_and_sized(regime, tiny_build):
    _, data, roles = regime
    assert set(roles) == {e["id"] for e in read_rows(tiny_build, "entities")}
    n = len(roles)
    n1, n2 = fraction_count(n, 0.5, "stage 1"), fraction_count(n, 0.25, "stage 2")
    assert Counter(roles.values()) == {"stage1": n1, "stage2": n2, "background": n - n1 - n2}
    for config, role in [("stage1", "stage1"), ("stage2_factoid", "stage2"), ("stage2_nonfactoid", "background")]:
        assert {ex["entity_id"] for ex in data[(config, "train")]} <= {e for e, r in roles.items() if r == role}


def test_retention_test_is_the_stage1_qa(regime, tiny_build):
    _, data, roles = regime
    qa = read_rows(tiny_build, "qa")
    stage1_facts = sorted(q["fact_id"] for q in qa if roles[q["entity_id"]] == "stage1")
    assert sorted(r["fact_id"] for r in data[("test", "retention")]) == stage1_facts
    assert sorted(ex["fact_id"] for ex in data[("stage1", "train")]) == stage1_facts
    assert sorted(r["fact_id"] for r in data[("test", "stage2_factoid")]) == sorted(
        q["fact_id"] for q in qa if roles[q["entity_id"]] == "stage2")
    for ex, row in zip(data[("stage1", "train")], data[("test", "retention")]):
        assert ex["prompt"] == row["prompt"] and ex["completion"] == row["completion"] == " " + row["answer"]


def test_stage2_and_generic_text_never_state_a_stage1_fact(regime, tiny_build):
    _, data, roles = regime
    source = Source(tiny_build)
    stage1 = [f for e, r in roles.items() if r == "stage1" for f in source.facts_by_entity[e]]
    texts = [ex["text"] for ex in data[("stage2_nonfactoid", "train")]]
    texts += [ex["text"] for s in ("stage1", "stage2_factoid", "stage2_nonfactoid") for ex in data[("mix_generic", s)]]
    blob = "\n".join(texts)
    for f in stage1:
        assert not any(s in blob for s in all_renderings(f, source.templates)), f.id
    assert len(data[("stage2_nonfactoid", "train")]) == sum(
        1 for p in read_rows(tiny_build, "passages") if roles[p["entity_id"]] == "background")


def test_mixing_data_sizes_and_format(regime):
    manifest, data, _ = regime
    for split in ("stage1", "stage2_factoid", "stage2_nonfactoid"):
        n = int(len(data[(split, "train")]) * RATIO)
        for config in ("mix_random", "mix_generic"):
            rows = data[(config, split)]
            assert len(rows) == n, (config, split)
            for ex in rows:
                assert ex["prompt"].startswith(GENERIC_PROMPT) and ex["completion"].startswith(" ")
                words = ex["text"][len(GENERIC_PROMPT):].split()
                assert len(words) == 40
        words = [w for ex in data[("mix_random", split)] for w in ex["text"][len(GENERIC_PROMPT):].split()]
        assert set(words) <= set(ENGLISH_WORDS) and len(set(words)) > 100
    assert len({ex["text"] for ex in data[("mix_random", "stage1")] + data[("mix_random", "stage2_factoid")]}) == \
        len(data[("mix_random", "stage1")]) + len(data[("mix_random", "stage2_factoid")])
    assert manifest.notes["generic"]["windows"] > 0


def test_user_generic_source_and_vocabulary(tiny_build, tmp_path):
    docs = [" ".join(f"w{i}_{j}" for j in range(25)) for i in range(30)]
    (tmp_path / "generic.txt").write_text("\n".join(docs) + "\n\n")
    (tmp_path / "vocab.txt").write_text("alpha\nbeta\ngamma\n")
    m = make_regime("continual", tiny_build, tmp_path / "a", mix_ratio=0.5, random_words=10,
                    generic_source=str(tmp_path / "generic.txt"), vocabulary=str(tmp_path / "vocab.txt"))
    generic = _rows(tmp_path / "a", "mix_generic", "stage1")
    notes = m.notes["generic"]
    assert (notes["documents"], notes["windows"]) == (30, 60)
    for split, passes in notes["passes"].items():  # whole passes over the 60 windows, the last one partial
        assert passes == math.ceil(len(_rows(tmp_path / "a", "mix_generic", split)) / 60)
    assert all(ex["text"][len(GENERIC_PROMPT):].split()[0].startswith("w") for ex in generic)
    random = _rows(tmp_path / "a", "mix_random", "stage1")
    assert {w for ex in random for w in ex["text"][len(GENERIC_PROMPT):].split()} == {"alpha", "beta", "gamma"}

    folder = tmp_path / "hf"
    folder.mkdir()
    pq.write_table(pa.table({"body": docs}), folder / "train.parquet")
    m = make_regime("continual", tiny_build, tmp_path / "b", mix_ratio=0.5, random_words=10,
                    generic_source=str(folder), generic_column="body")
    assert m.notes["generic"]["documents"] == 30
    with pytest.raises(RegimeError, match="no column 'text'"):
        make_regime("continual", tiny_build, tmp_path / "c", generic_source=str(folder))


def test_no_mixing_data_with_ratio_zero(tiny_build, tmp_path):
    m = make_regime("continual", tiny_build, tmp_path / "z", mix_ratio=0)
    assert "mix_random" not in m.configs and "mix_generic" not in m.configs and "generic" not in m.notes
