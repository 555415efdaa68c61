"""Forget/retain splits (TOFU-style): nested, entity-level, complementary."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from fictional_knowledge.dataset.io import read_rows
from fictional_knowledge.regimes import make_regime

PERCENTS = [2, 10, 25]


def _rows(folder, config):
    return [r for f in sorted((folder / "data" / config).glob("train-*.parquet")) for r in pq.read_table(f).to_pylist()]


@pytest.fixture(scope="module")
def regime(tiny_build, tmp_path_factory):
    out = tmp_path_factory.mktemp("forget") / "r"
    manifest = make_regime("forget", tiny_build, out, seed=5, percents=[25, 2, 10])
    return manifest, {c: _rows(out, c) for c in manifest.configs}


def _entities(rows) -> set[str]:
    return {r["entity_id"] for r in rows}


def test_config_names_and_sizes(regime):
    manifest, data = regime
    assert list(manifest.configs) == ["forget02", "retain98", "forget10", "retain90", "forget25", "retain75",
                                      "full", "entities"]
    assert manifest.options == {"percents": PERCENTS}
    n = len(data["entities"])  # the 60 focal entities and those their passages name
    assert n > 60
    assert [len(_entities(data[f"forget{p:02d}"])) for p in PERCENTS] == [max(1, round(p * n / 100)) for p in PERCENTS]


def test_forget_sets_are_nested_and_retain_sets_complement_them(regime, tiny_build):
    _, data = regime
    qa_ids = {q["id"] for q in read_rows(tiny_build, "qa")}
    assert {r["id"] for r in data["full"]} == qa_ids
    previous: set[str] = set()
    for p in PERCENTS:
        forget, retain = data[f"forget{p:02d}"], data[f"retain{100 - p:02d}"]
        assert previous < _entities(forget)
        assert not _entities(forget) & _entities(retain)  # entity level: no entity on both sides
        ids_f, ids_r = {r["id"] for r in forget}, {r["id"] for r in retain}
        assert not ids_f & ids_r and ids_f | ids_r == qa_ids
        previous = _entities(forget)
    levels = {r["entity_id"]: r["forget_percent"] for r in data["entities"]}
    for p in PERCENTS:
        assert {e for e, lvl in levels.items() if lvl is not None and lvl <= p} == _entities(data[f"forget{p:02d}"])


def test_forget_sets_depend_on_the_seed(regime, tiny_build, tmp_path):
    _, data = regime
    other = make_regime("forget", tiny_build, tmp_path / "o", seed=6, percents=PERCENTS)
    assert _entities(_rows(tmp_path / "o", "forget25")) != _entities(data["forget25"])
    assert other.configs["full"]["train"].fingerprint == regime[0].configs["full"]["train"].fingerprint


def test_too_large_a_forget_set_is_refused(tiny_build, tmp_path):
    from fictional_knowledge.dataset.builder import build
    from fictional_knowledge.models import BuildConfig
    from fictional_knowledge.regimes.common import RegimeError

    make_regime("forget", tiny_build, tmp_path / "ok", percents=[99])  # 149 of 151 entities, 2 retained
    build(BuildConfig(seed=0, entities=20, style="plain"), tmp_path / "b20", workers=1)  # plain: the 20 only
    with pytest.raises(RegimeError, match="leaves nothing to retain"):
        make_regime("forget", tmp_path / "b20", tmp_path / "x", percents=[98])  # round(19.6) = 20
