"""Release folders, their dataset card and croissant file, and ``fkgen verify``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from fictional_knowledge.cli import app
from fictional_knowledge.release.croissant import sha256_file
from fictional_knowledge.dataset.io import read_manifest, read_rows
from fictional_knowledge.models import CONFIG_NAMES, BuildConfig, Manifest
from fictional_knowledge.release.core import (
    ReleaseError,
    check_version,
    ensure_data,
    make_release,
    releases_to_verify,
    verify_build,
    verify_release,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
VERSION = "v0.0.1"
runner = CliRunner()


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> tuple[Path, Path]:
    """A small release (40 entities): (release folder, its build folder)."""
    root = tmp_path_factory.mktemp("rel")
    return make_release(VERSION, BuildConfig(seed=3, entities=40), releases_dir=root / "releases",
                        data_out=root / "builds" / VERSION, hub_repo="alice/fk", workers=1,
                        released="2025-01-02")


def _front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n", 2)[1])


@pytest.mark.parametrize("good", ["v0.0.1", "v1.0.0", "v10.20.30"])
def test_good_versions(good):
    assert check_version(good) == good


@pytest.mark.parametrize("bad", ["1.0.0", "v1.0", "v01.0.0", "v1.0.0-rc1", "V1.0.0", "v1.0.0 "])
def test_bad_versions(bad):
    with pytest.raises(ReleaseError, match="vMAJOR.MINOR.PATCH"):
        check_version(bad)


def test_release_folder_holds_recipe_not_data(release):
    rel, data = release
    assert sorted(p.name for p in rel.iterdir()) == [
        "README.md", "croissant.json", "eval.yaml", "manifest.json", "release.json"]
    manifest = Manifest.model_validate_json((rel / "manifest.json").read_text())
    assert manifest == read_manifest(data)  # the build manifest, loadable wherever a build's is
    assert manifest.config == BuildConfig(seed=3, entities=40) and manifest.template_hashes
    info = json.loads((rel / "release.json").read_text())
    assert info["version"] == VERSION and info["released"] == "2025-01-02"
    for name in CONFIG_NAMES:
        rows = info["splits"][name]["train"]["num_examples"]
        assert rows == manifest.configs[name].rows == len(read_rows(data, name))
    files = {f["path"]: f for f in info["files"]}
    assert set(files) == {p.relative_to(data).as_posix() for p in data.glob("data/*/*.parquet")}
    for path, f in files.items():
        assert f["sha256"] == sha256_file(data / path) and f["size"] == (data / path).stat().st_size


def test_card_front_matter_matches_the_data(release):
    from datasets import Features

    from fictional_knowledge.dataset.card import recipe_tag
    from fictional_knowledge.dataset.io import read_manifest

    rel, data = release
    text = (rel / "README.md").read_text()
    meta = _front_matter(text)
    assert meta["license"] == "cc-by-4.0"
    assert [c["config_name"] for c in meta["configs"]] == list(CONFIG_NAMES)
    assert [i["config_name"] for i in meta["dataset_info"]] == list(CONFIG_NAMES)
    for cfg, info in zip(meta["configs"], meta["dataset_info"]):
        name = cfg["config_name"]
        tag = recipe_tag(read_manifest(data))
        assert cfg["data_files"] == [{"split": "train", "path": f"data/{name}/{tag}-*.parquet"}]
        shard = sorted((data / "data" / name).glob(f"{tag}-*.parquet"))[0]
        assert Features._from_yaml_list(info["features"]) == Features.from_arrow_schema(pq.read_schema(shard))
        assert info["splits"][0]["name"] == "train"
        assert info["splits"][0]["num_examples"] == len(read_rows(data, name))
    for heading in ("## Uses", "### Out-of-scope use", "## Dataset structure", "## Dataset creation",
                    "## Bias, risks, and limitations", "## Citation", "## License"):
        assert heading in text
    for name in CONFIG_NAMES:  # one real example per config
        first = read_rows(data, name)[0]
        assert f"**`{name}`**" in text and json.dumps(first.get("id") or first["passage_id"]) in text
    for paper in ("2406.11813", "2505.16178", "2411.07175", "2407.14985", "2401.06121"):
        assert paper in text
    assert f'load_dataset("alice/fk", "probes", revision="{VERSION}")' in text


def test_card_metadata_loads_with_datasets(release, tmp_path):
    """The card's dataset_info (features, num_examples) is what `datasets` finds in the files:
    a wrong count raises NonMatchingSplitsSizesError, a wrong feature a cast error."""
    import datasets

    rel, data = release
    hub_like = tmp_path / "snapshot"
    shutil.copytree(data, hub_like)
    for name in ("README.md", "manifest.json", "release.json", "croissant.json", "eval.yaml"):
        shutil.copy(rel / name, hub_like / name)
    for name in CONFIG_NAMES:
        ds = datasets.load_dataset(str(hub_like), name, split="train", cache_dir=str(tmp_path / "cache"))
        assert ds.num_rows == len(read_rows(data, name))
    assert verify_build(hub_like).ok  # a downloaded snapshot verifies, sha256s included


def test_croissant_validates_and_reads_the_rows(release, tmp_path):
    from fictional_knowledge.release.croissant import validate_croissant

    rel, data = release
    assert validate_croissant(rel / "croissant.json") == []  # no errors, no warnings
    meta = json.loads((rel / "croissant.json").read_text())
    objects = {d["contentUrl"]: d["sha256"] for d in meta["distribution"] if d["@type"] == "cr:FileObject"}
    assert objects == {f["path"]: f["sha256"] for f in json.loads((rel / "release.json").read_text())["files"]}
    assert [r["@id"] for r in meta["recordSet"]] == list(CONFIG_NAMES)

    import mlcroissant as mlc

    snapshot = tmp_path / "snapshot"
    shutil.copytree(data, snapshot)
    shutil.copy(rel / "croissant.json", snapshot / "croissant.json")
    records = list(mlc.Dataset(str(snapshot / "croissant.json")).records("probes"))
    rows = read_rows(data, "probes")
    assert len(records) == len(rows)
    assert {r["probes/id"].decode() for r in records} == {r["id"] for r in rows}


def test_eval_yaml_points_at_release_configs(release):
    rel, _ = release
    cfg = yaml.safe_load((rel / "eval.yaml").read_text())
    assert cfg["tasks"] and all(t["config"] in CONFIG_NAMES and t["split"] == "train" for t in cfg["tasks"])


def test_existing_release_is_never_overwritten(release):
    rel, _ = release
    before = {p.name: p.read_bytes() for p in rel.iterdir()}
    with pytest.raises(ReleaseError, match="already exists"):
        make_release(VERSION, BuildConfig(seed=4, entities=5), releases_dir=rel.parent,
                     data_out=rel.parent / "unused")
    assert {p.name: p.read_bytes() for p in rel.iterdir()} == before
    assert not (rel.parent / "unused").exists()


def test_verify_release_rebuilds_and_matches(release):
    rel, _ = release
    result = runner.invoke(app, ["verify", str(rel), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "OK:" in result.output and "MISMATCH" not in result.output
    assert all(f"{name} " in result.output for name in CONFIG_NAMES)


def test_verify_release_fails_when_the_generator_output_differs(release, tmp_path):
    """What CI sees when a code change alters released data: the recipe no longer gives the fingerprints."""
    rel, _ = release
    changed = tmp_path / VERSION
    shutil.copytree(rel, changed)
    manifest = json.loads((changed / "manifest.json").read_text())
    manifest["configs"]["probes"]["fingerprint"] = "0" * 64
    manifest["configs"]["qa"]["rows"] += 1
    (changed / "manifest.json").write_text(json.dumps(manifest))
    _rehash(changed, "manifest.json")  # as a real release of other content would record it
    report = verify_release(changed, workers=1)
    assert not report.ok
    assert {(c.subject, c.item) for c in report.mismatches} == {
        ("probes", "fingerprint"), ("qa", "rows"), ("release.json", "splits"), ("README.md", "splits")}
    result = runner.invoke(app, ["verify", str(changed), "--workers", "1"])
    assert result.exit_code == 1 and "MISMATCH" in result.output and "error: " in result.output


def test_verify_build_catches_a_tampered_row(release, tmp_path):
    rel, data = release
    tampered = tmp_path / "download"
    shutil.copytree(data, tampered)
    shard = sorted((tampered / "data" / "probes").glob("*.parquet"))[0]
    table = pq.read_table(shard)
    rows = table.to_pylist()
    rows[0]["target"] = rows[0]["target"] + "x"  # same count, one changed value
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), shard)
    report = verify_build(tampered)
    assert [(c.subject, c.item) for c in report.mismatches] == [("probes", "fingerprint")]
    result = runner.invoke(app, ["verify", str(tampered)])
    assert result.exit_code == 1 and "probes" in result.output and "MISMATCH" in result.output
    shutil.copy(rel / "release.json", tampered / "release.json")  # published layout: bytes are checked too
    mismatches = {(c.subject, c.item) for c in verify_build(tampered).mismatches}
    assert (shard.relative_to(tampered).as_posix(), "sha256") in mismatches


def test_verify_rejects_a_folder_that_is_neither(tmp_path):
    result = runner.invoke(app, ["verify", str(tmp_path)])
    assert result.exit_code == 2 and "neither a release folder nor a build folder" in result.output


def test_ensure_data_rebuilds_byte_identical_files(release, tmp_path):
    rel, _ = release
    folder = ensure_data(rel, builds_dir=tmp_path / "builds")  # nothing there: built from the recipe
    assert folder == tmp_path / "builds" / VERSION and verify_build(folder).ok


def test_ensure_data_refuses_same_content_other_bytes(release, tmp_path):
    rel, data = release
    copy = tmp_path / "recompressed"
    shutil.copytree(data, copy)
    shard = sorted((copy / "data" / "qa").glob("*.parquet"))[0]
    pq.write_table(pq.read_table(shard), shard, compression="gzip")
    assert verify_build(copy).ok  # the content is intact ...
    with pytest.raises(ReleaseError, match="not its parquet bytes"):  # ... but croissant's sha256 would lie
        ensure_data(rel, copy)


def test_ensure_data_refuses_another_releases_data(release, tmp_path):
    rel, _ = release
    from fictional_knowledge.dataset.builder import build

    other = tmp_path / "other"
    build(BuildConfig(seed=4, entities=10), other, workers=1)
    with pytest.raises(ReleaseError, match=f"is not the data of {VERSION}"):
        ensure_data(rel, other)


def test_which_releases_this_package_must_reproduce(release, tmp_path, monkeypatch):
    import fictional_knowledge

    rel, _ = release
    monkeypatch.setattr(fictional_knowledge, "__version__", "0.3.0")
    for version, package in [("v1.0.0", "0.1.0"), ("v1.2.0", "0.3.0"), ("v1.10.0", "0.2.0"), ("v1.1.0", "0.3.0")]:
        shutil.copytree(rel, tmp_path / version)
        manifest = json.loads((tmp_path / version / "manifest.json").read_text())
        manifest["package_version"] = package
        (tmp_path / version / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "notes").mkdir()
    check, skip = releases_to_verify(tmp_path)
    # the newest release (v1.10.0, semver order), and every one cut with this package version
    assert [p.name for p in check] == ["v1.1.0", "v1.2.0", "v1.10.0"]
    assert [(p.name, "0.1.0" in why) for p, why in skip] == [("v1.0.0", True)]


def test_every_committed_release_still_verifies():
    """A generator change that alters released data fails here until a new version is cut
    (with a new package version, so that each package version reproduces its own releases)."""
    check, skip = releases_to_verify(REPO_ROOT / "releases")
    assert check, "no committed release under releases/: cut one with `fkgen release v1.0.0`"
    for folder in check:
        report = verify_release(folder)
        assert report.ok, (f"{folder.name} no longer reproduces: "
                           + ", ".join(f"{c.subject} {c.item}" for c in report.mismatches)
                           + ". Generated content changed: bump the package version and cut a new release "
                           "(docs/releases.md), or undo the change.")


def test_release_command_writes_a_release_and_rejects_bad_options(tmp_path):
    runner = CliRunner()
    args = ["release", "v0.0.1", "--entities", "6", "--paraphrases", "1", "--workers", "1",
            "--releases-dir", str(tmp_path / "releases"), "--data-out", str(tmp_path / "data")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "releases" / "v0.0.1" / "manifest.json").is_file()
    bad = runner.invoke(app, ["release", "v0.0.2", "--entities", "0", "--releases-dir", str(tmp_path / "releases")])
    assert bad.exit_code == 2 and "--entities: Input should be greater than 0" in bad.output


# ------------------------------------------------------------------------------------------------
# verify covers every file of a release


def _rehash(folder: Path, name: str) -> None:
    """Record ``name``'s current sha256 in release.json (what an honest release would hold)."""
    info = json.loads((folder / "release.json").read_text())
    info["metadata"][name] = sha256_file(folder / name)
    (folder / "release.json").write_text(json.dumps(info, indent=2))


def _edit_json(name, change):
    def damage(folder: Path) -> None:
        data = json.loads((folder / name).read_text())
        change(data)
        (folder / name).write_text(json.dumps(data, indent=2))
    return damage


def _flip_sha(entries):
    entry = next(e for e in entries if "sha256" in e)
    entry["sha256"] = ("0" if entry["sha256"][0] != "0" else "1") + entry["sha256"][1:]


TAMPER = {
    "README.md deleted": (lambda f: (f / "README.md").unlink(), "README.md"),
    "croissant.json deleted": (lambda f: (f / "croissant.json").unlink(), "croissant.json"),
    "eval.yaml deleted": (lambda f: (f / "eval.yaml").unlink(), "eval.yaml"),
    "README.md edited": (lambda f: (f / "README.md").write_text((f / "README.md").read_text() + "\nMore.\n"),
                         "README.md"),
    "eval.yaml garbage": (lambda f: (f / "eval.yaml").write_text("tasks: [\n  - {"), "eval.yaml"),
    "croissant.json sha256 edited": (_edit_json("croissant.json", lambda d: _flip_sha(d["distribution"])),
                                     "croissant.json"),
    "release.json sha256 edited": (_edit_json("release.json", lambda d: _flip_sha(d["files"])), "release.json"),
    "release.json without files": (_edit_json("release.json", lambda d: d.pop("files")), "release.json"),
    "release.json split size edited": (
        _edit_json("release.json", lambda d: d["splits"]["qa"]["train"].update(num_examples=1)), "release.json"),
    "manifest.json edited": (
        lambda f: (f / "manifest.json").write_text((f / "manifest.json").read_text() + " "), "manifest.json"),
}


@pytest.mark.parametrize("case", sorted(TAMPER))
def test_verify_fails_on_every_tampered_release_file(case, release, tmp_path):
    rel, _ = release
    copy = tmp_path / VERSION
    shutil.copytree(rel, copy)
    damage, name = TAMPER[case]
    damage(copy)
    result = runner.invoke(app, ["verify", str(copy), "--workers", "1"])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    verdict = result.output.strip().splitlines()[-1]
    assert verdict.startswith("error: ") and "mismatch(es)" in verdict and name in verdict, verdict
    # publish refuses the same folder before contacting anything, in one line
    dry = runner.invoke(app, ["publish", str(copy), "--repo", "alice/fk", "--dry-run",
                              "--data", str(release[1])])
    assert dry.exit_code != 0 and dry.output.count("\n") == 1 and dry.output.startswith("error:"), dry.output


def test_release_json_deleted_is_one_line(release, tmp_path):
    copy = tmp_path / VERSION
    shutil.copytree(release[0], copy)
    (copy / "release.json").unlink()
    result = runner.invoke(app, ["verify", str(copy), "--workers", "1"])
    assert result.exit_code == 2 and result.output.startswith("error:") and "release.json" in result.output
    assert result.output.count("\n") == 1


def test_release_records_the_sha256_of_every_metadata_file(release):
    rel, _ = release
    info = json.loads((rel / "release.json").read_text())
    assert info["metadata"] == {name: sha256_file(rel / name)
                                for name in ("README.md", "croissant.json", "eval.yaml", "manifest.json")}


def test_template_change_fails_unless_allowed(release, tmp_path):
    rel, _ = release
    copy = tmp_path / VERSION
    shutil.copytree(rel, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    name = sorted(manifest["template_hashes"])[0]
    manifest["template_hashes"][name] = "f" * 64
    (copy / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    _rehash(copy, "manifest.json")
    report = verify_release(copy, workers=1)
    assert [(c.subject, c.item) for c in report.mismatches] == [(f"templates/{name}", "sha256")]
    result = runner.invoke(app, ["verify", str(copy), "--workers", "1"])
    assert result.exit_code == 1 and f"templates/{name}" in result.output.splitlines()[-1]
    allowed = runner.invoke(app, ["verify", str(copy), "--workers", "1", "--allow-template-change"])
    assert allowed.exit_code == 0, allowed.output


def test_verify_build_with_corrupt_parquet_is_a_mismatch_not_a_traceback(release, tmp_path):
    _, data = release
    copy = tmp_path / "download"
    shutil.copytree(data, copy)
    shard = sorted((copy / "data" / "passages").glob("*.parquet"))[0]
    shard.write_bytes(shard.read_bytes()[:100])
    result = runner.invoke(app, ["verify", str(copy)])
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
    assert "readable" in result.output and "Traceback" not in result.output
    assert shard.relative_to(copy).as_posix() in result.output.splitlines()[-1]


def test_verify_build_whose_release_json_lacks_files(release, tmp_path):
    rel, data = release
    copy = tmp_path / "download"
    shutil.copytree(data, copy)
    info = json.loads((rel / "release.json").read_text())
    del info["files"]
    (copy / "release.json").write_text(json.dumps(info))
    report = verify_build(copy)
    assert ("release.json", "files") in {(c.subject, c.item) for c in report.mismatches}


def test_publish_data_with_corrupt_parquet_is_one_line(release, tmp_path):
    rel, data = release
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    shard = sorted((copy / "data" / "qa").glob("*.parquet"))[0]
    shard.write_bytes(b"PAR1" + b"\0" * 64 + b"PAR1")
    result = runner.invoke(app, ["publish", str(rel), "--repo", "alice/fk", "--dry-run", "--data", str(copy)])
    assert result.exit_code == 2 and result.output.startswith("error:") and result.output.count("\n") == 1
    assert shard.name in result.output
