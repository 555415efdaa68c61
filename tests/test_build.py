"""Builds: determinism, independence from size, shards, atomic writes, loading with datasets."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from fictional_knowledge.dataset.builder import BuildError, build
from fictional_knowledge.dataset.fingerprint import canonical_json, fingerprint_build
from fictional_knowledge.dataset.io import read_manifest, read_rows
from fictional_knowledge.generate.lexical import paraphrase_overlap
from fictional_knowledge.models import CONFIG_NAMES, BuildConfig
from fictional_knowledge.dataset.validate import validate_build

build_mod = importlib.import_module("fictional_knowledge.dataset.builder")  # the module (the package attribute is the function)

SCRIPT = (
    "import sys; from fictional_knowledge.dataset.builder import build; from fictional_knowledge.models import BuildConfig;"
    "m = build(BuildConfig(seed=0, entities=45), sys.argv[1], workers=2);"
    "print({k: v.fingerprint for k, v in m.configs.items()})"
)


def _rows(folder: Path, config: str) -> Counter:
    return Counter(canonical_json(r) for r in read_rows(folder, config))


def test_same_fingerprints_across_processes_and_hash_seeds(tmp_path):
    outputs = []
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / hash_seed)], env=env,
                              capture_output=True, text=True, check=True)
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1]
    assert read_manifest(tmp_path / "1").configs == read_manifest(tmp_path / "2").configs


def test_fresh_build_passes_validation(tiny_build):
    report = validate_build(tiny_build)
    assert report.ok, report.lines()


def test_manifest_fingerprints_match_the_rows(tiny_build):
    manifest = read_manifest(tiny_build)
    for name, acc in fingerprint_build(tiny_build).items():
        assert manifest.configs[name].rows == acc.rows
        assert manifest.configs[name].fingerprint == acc.fingerprint


def test_probe_counts_and_fk_shape(tiny_build):
    probes = read_rows(tiny_build, "probes")
    per_passage = Counter((p["passage_id"], p["kind"]) for p in probes)
    assert set(per_passage.values()) == {5}
    assert len(per_passage) == 3 * 60
    comp = [p for p in probes if p["kind"] == "compositional"]
    assert any(p["in_passage"] for p in comp) and any(not p["in_passage"] for p in comp)
    assert all(len(p["fact_ids"]) >= 2 for p in comp)
    for row in read_rows(tiny_build, "fictional_knowledge"):
        for field in ("mem_input", "mem_target", "gen_input", "gen_target", "hard_gen_input", "hard_gen_target"):
            assert len(row[field]) == 5
        assert len(row["paraphrases"]) == 9


def test_passages_have_the_configured_length(tiny_build, tmp_path):
    """Prose passages stay under --max-words and grow toward --min-words with closing paragraphs
    about linked entities, but only while their own entity's facts are the majority; plain ones
    reach --min-words."""
    from fictional_knowledge.dataset.builder import build

    words = [len(p["text"].split()) for p in read_rows(tiny_build, "passages")]
    assert max(words) <= 600
    short = tmp_path / "short"
    build(BuildConfig(seed=0, entities=60, passage_min_words=40, passage_max_words=600), short, workers=1)
    short_words = [len(p["text"].split()) for p in read_rows(short, "passages")]
    assert sum(words) > 1.2 * sum(short_words)  # the closing paragraphs come with a higher target
    facts = {f["id"]: f for f in read_rows(tiny_build, "facts")}
    for p in read_rows(tiny_build, "passages"):
        own = sum(p["entity_id"] in (facts[f]["subject_id"], facts[f]["object_id"]) for f in p["fact_ids"])
        assert own > len(p["fact_ids"]) / 2
    plain = tmp_path / "plain"
    build(BuildConfig(seed=0, entities=60, style="plain"), plain, workers=1)
    words = [len(p["text"].split()) for p in read_rows(plain, "passages")]
    assert min(words) >= 150 and max(words) <= 600


def test_paraphrases_differ_lexically(tiny_build):
    overlap = paraphrase_overlap(read_rows(tiny_build, "passages"))
    assert overlap["max"] < 0.8 and overlap["mean"] < 0.6


def test_entity_records_do_not_depend_on_build_size(tmp_path):
    small = build(BuildConfig(entities=27), tmp_path / "small", workers=1)
    build(BuildConfig(entities=71), tmp_path / "large", workers=1)
    assert small.configs["passages"].rows == 27
    for name in CONFIG_NAMES:
        small_rows, large_rows = _rows(tmp_path / "small", name), _rows(tmp_path / "large", name)
        assert not small_rows - large_rows, f"{name}: rows of the small build differ in the large one"


def test_shards_hold_exactly_the_rows_of_the_whole_build(tmp_path, monkeypatch):
    monkeypatch.setattr(build_mod, "CHUNK_BLOCKS", 1)  # 20 entities a chunk, so 3 shards get work
    config = BuildConfig(entities=67)
    whole = build(config, tmp_path / "whole", workers=1)
    shards = [build(config, tmp_path / f"s{i}", shard=f"{i}/3", workers=1) for i in range(3)]
    assert [m.shard for m in shards] == ["0/3", "1/3", "2/3"]
    for name in CONFIG_NAMES:
        union = sum((_rows(tmp_path / f"s{i}", name) for i in range(3)), Counter())
        assert union == _rows(tmp_path / "whole", name), name
        assert sum(m.configs[name].rows for m in shards) == whole.configs[name].rows
    files = sorted(p.relative_to(tmp_path / f"s{i}") for i in range(3) for p in (tmp_path / f"s{i}" / "data").rglob("*.parquet"))
    assert files == sorted(p.relative_to(tmp_path / "whole") for p in (tmp_path / "whole" / "data").rglob("*.parquet"))


def test_interrupted_build_leaves_nothing(tmp_path, monkeypatch):
    def explode(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(build_mod, "_build_chunk", explode)
    with pytest.raises(KeyboardInterrupt):
        build(BuildConfig(entities=10), tmp_path / "out", workers=1)
    assert list(tmp_path.iterdir()) == []


def test_refuses_non_empty_output_without_overwrite(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    for overwrite in (False, True):  # not a build of ours: never replaced, even with overwrite
        with pytest.raises(BuildError, match="did not write"):
            build(BuildConfig(entities=3), tmp_path / "out", workers=1, overwrite=overwrite)
    assert (tmp_path / "out" / "keep.txt").read_text() == "x"
    build(BuildConfig(entities=3), tmp_path / "b", workers=1)
    with pytest.raises(BuildError, match="not empty"):
        build(BuildConfig(entities=4), tmp_path / "b", workers=1)
    build(BuildConfig(entities=4), tmp_path / "b", workers=1, overwrite=True)
    assert '"entities": 4' in (tmp_path / "b" / "manifest.json").read_text()


@pytest.mark.parametrize("spec", ["1", "a/b", "2/2", "-1/3", "0/0"])
def test_bad_shard_specs(spec, tmp_path):
    with pytest.raises(BuildError, match="shard"):
        build(BuildConfig(entities=3), tmp_path / "out", shard=spec)


def test_load_dataset_reads_every_config(tiny_build, tmp_path):
    import datasets

    manifest = read_manifest(tiny_build)
    for name in CONFIG_NAMES:
        ds = datasets.load_dataset(str(tiny_build), name, split="train", cache_dir=str(tmp_path / "cache"))
        assert ds.num_rows == manifest.configs[name].rows, name
    probes = datasets.load_dataset(str(tiny_build), "probes", split="train", cache_dir=str(tmp_path / "cache"))
    row = probes[0]
    assert set(row) >= {"id", "passage_id", "entity_id", "kind", "input", "target", "fact_ids"}
    card = (tiny_build / "README.md").read_text()
    assert card.startswith("---\n") and "config_name: fictional_knowledge" in card


def test_manifest_records_config_and_templates(tiny_build):
    data = json.loads((tiny_build / "manifest.json").read_text())
    assert data["config"]["entities"] == 60 and data["config"]["seed"] == 0
    assert set(data["template_hashes"]) == {f"{t}.yaml" for t in
                                            ("country", "city", "river", "person", "organization", "work", "event")}
    assert data["shard"] is None


def test_rebuilt_folder_never_loads_stale_rows_from_the_datasets_cache(tmp_path):
    import datasets

    cache = str(tmp_path / "cache")
    names = []
    for seed in (0, 1):
        build(BuildConfig(seed=seed, entities=5), tmp_path / "b", workers=1, overwrite=True)
        names.append(datasets.load_dataset(str(tmp_path / "b"), "entities", split="train", cache_dir=cache)["name"])
    assert names[1] == [r["name"] for r in read_rows(tmp_path / "b", "entities")]
    assert names[0] != names[1]


def test_distractors_are_values_the_build_also_states(tmp_path):
    """Distractors come from earlier entities, so they occur in the training data as often as
    answers do (past the first blocks, where the earlier world is too small)."""
    build(BuildConfig(entities=140), tmp_path / "b", workers=1)
    stated = {f["object"] for f in read_rows(tmp_path / "b", "facts")}
    # Countries and rivers (one per block), the first 4 blocks and relations with few distinct
    # values nearby (a city's river) can need later entities.
    # Only focal entities (with a passage): an entity the build holds because a passage states
    # its role (a founder's company up to WINDOW blocks ahead) takes distractors from the world
    # before it, which the build need not hold.
    focal = {p["entity_id"] for p in read_rows(tmp_path / "b", "passages")}
    late = {e["id"] for e in read_rows(tmp_path / "b", "entities") if e["type"] not in ("country", "river")} & focal
    early = {e["id"] for e in read_rows(tmp_path / "b", "entities")[:80]}
    choices = [c for q in read_rows(tmp_path / "b", "qa") if q["entity_id"] in late - early for c in q["choices"]]
    assert len(choices) > 800
    assert sum(c in stated for c in choices) / len(choices) > 0.98


@pytest.mark.parametrize("style", ["plain", "prose"])
def test_a_passage_over_max_words_is_refused_not_written_longer(style, tmp_path):
    """A passage whose own facts need more words than --max-words stops the build with one line,
    in either style (plain ones were written longer than the bound, silently, before 0.5.0)."""
    from fictional_knowledge.dataset.builder import build
    from fictional_knowledge.errors import InputError

    with pytest.raises(InputError, match=r"needs \d+ words, more than --max-words 100"):
        build(BuildConfig(seed=0, entities=6, passage_min_words=50, passage_max_words=100, style=style),
              tmp_path / style, workers=1)
    assert not (tmp_path / style).exists()
