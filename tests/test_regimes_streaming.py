"""Regimes stream the build (issue 9, bounded resources): no regime reads a whole config into
memory, the external sort gives exactly the in-memory seeded order, spilled runs are removed, and
a build whose configs are not in entity order is refused rather than mis-grouped."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from fictional_knowledge.regimes import REGIMES, make_regime
from fictional_knowledge.regimes import common
from fictional_knowledge.regimes.common import RegimeError, seeded_order, seeded_stream

SMALL = {  # as in test_regimes_common: options that fit the 60-entity tiny build
    "injection": {"steps": [0, 3, 6, 9], "group_sizes": [4, 4, 4]},
    "two-stage": {"multiplicity": 2},
    "continual": {"mix_ratio": 1.0},
    "frequency": {"max_count": 30},
    "forget": {},
}


def _configs(manifest) -> dict:
    return {c: {s: (v.rows, v.fingerprint, v.sequence) for s, v in splits.items()} for c, splits in manifest.configs.items()}


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("items, run_rows", [(list(range(200)) * 3, 7), (list(range(50)), 50), ([], 5),
                                             ([f"x{i % 13}" for i in range(101)], 10)])
@pytest.mark.parametrize("max_runs", [2, 3, 32])
def test_seeded_stream_is_seeded_order(items, run_rows, max_runs, monkeypatch):
    monkeypatch.setattr(common, "MAX_RUNS", max_runs)  # 2 and 3: merged in several rounds
    key = (lambda x: x % 17) if items and isinstance(items[0], int) else (lambda x: x)  # many equal keys: ties stay stable
    tagged = list(enumerate(items))  # tell equal items apart, to check the tie order too
    want = seeded_order(5, "stage", tagged, key=lambda t: key(t[1]))
    assert list(seeded_stream(5, "stage", iter(tagged), key=lambda t: key(t[1]), run_rows=run_rows)) == want


@pytest.mark.parametrize("name", sorted(REGIMES))
def test_regime_reads_no_whole_config_and_spilling_changes_nothing(name, tiny_build, tmp_path, monkeypatch):
    """Made once as is, once with every whole-config reader raising and sorted runs of 5 rows
    (so every seeded order spills to disk and merges in rounds): the same bytes in every file, and no
    temporary file left."""
    first = make_regime(name, tiny_build, tmp_path / "a", **SMALL[name])

    def whole(*args, **kwargs):
        raise AssertionError("a regime read a whole config into memory")

    import fictional_knowledge.dataset.io as io

    monkeypatch.setattr(io, "read_rows", whole)
    monkeypatch.setattr(common.Source, "rows", whole)
    monkeypatch.setattr(common, "RUN_ROWS", 5)
    monkeypatch.setattr(common, "MAX_RUNS", 3)
    monkeypatch.setattr(common, "RUN_BYTES", 400)  # some runs end on their text's size
    spills = tmp_path / "tmp"
    spills.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(spills))
    second = make_regime(name, tiny_build, tmp_path / "b", **SMALL[name])
    assert _configs(second) == _configs(first) and second.notes == first.notes
    assert _files(tmp_path / "b") == _files(tmp_path / "a")
    assert list(spills.iterdir()) == []


def test_interrupted_stream_removes_its_spilled_runs(tiny_build, tmp_path, monkeypatch):
    from fictional_knowledge.regimes import writer

    monkeypatch.setattr(common, "RUN_ROWS", 5)
    spills = tmp_path / "tmp"
    spills.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(spills))
    real, calls = writer.canonical_json, []

    def canonical_json(row):  # interrupted in the middle of the frequency corpus, a spilled stream
        calls.append(1)
        if len(calls) == 20:
            raise KeyboardInterrupt
        return real(row)

    monkeypatch.setattr(writer, "canonical_json", canonical_json)
    with pytest.raises(KeyboardInterrupt):
        make_regime("frequency", tiny_build, tmp_path / "out", max_count=30)
    import gc

    gc.collect()
    assert not (tmp_path / "out").exists() and list(spills.iterdir()) == []


def test_config_out_of_entity_order_is_refused(tiny_build, tmp_path):
    build = tmp_path / "build"
    shutil.copytree(tiny_build, build)
    (path,) = sorted((build / "data" / "qa").glob("*.parquet"))
    table = pq.read_table(path)
    pq.write_table(table.take(list(reversed(range(table.num_rows)))), path)
    with pytest.raises(RegimeError, match="not in entity order"):
        make_regime("forget", build, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_rows_are_refused_not_dropped(tiny_build, tmp_path):
    build = tmp_path / "build"
    shutil.copytree(tiny_build, build)
    (path,) = sorted((build / "data" / "qa").glob("*.parquet"))
    table = pq.read_table(path)
    pq.write_table(table.slice(0, table.num_rows - 1), path)
    with pytest.raises(RegimeError, match="the build is incomplete"):
        make_regime("forget", build, tmp_path / "out")
