"""``fictional_knowledge.release.publish`` against a loopback fake of the Hub (tests/hubserver.py): no network."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from hubserver import FakeHub  # noqa: E402

from fictional_knowledge.release.publish import (  # noqa: E402
    PublishError,
    collect_files,
    format_plan,
    publish_files,
    resolve_token,
)

TOKEN = "hf_good"


@pytest.fixture(autouse=True)
def _hub_env(monkeypatch, tmp_path):
    """No stored token, no offline mode, no telemetry: the client talks only to the fake hub."""
    import huggingface_hub.constants as constants

    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


@pytest.fixture
def hub():
    with FakeHub(tokens={TOKEN: "alice", "hf_other": "bob"}, orgs={"alice": {"fk-org"}}) as server:
        yield server


@pytest.fixture
def release(tmp_path) -> tuple[Path, Path]:
    """A hand-made release folder and data folder (publishing does not look inside the files)."""
    rel, data = tmp_path / "releases" / "v1.2.3", tmp_path / "build"
    rel.mkdir(parents=True)
    (rel / "README.md").write_text("---\nlicense: cc-by-4.0\nconfigs:\n- config_name: probes\n---\n# card\n")
    (rel / "manifest.json").write_text(json.dumps({"version": "v1.2.3"}))
    (rel / "release.json").write_text(json.dumps({"version": "v1.2.3", "files": []}))
    (rel / "croissant.json").write_text(json.dumps({"@type": "sc:Dataset"}))
    for config, payload in [("probes", b"PAR1\x00probes\xff"), ("qa", b"PAR1\x01qa" * 50)]:
        (data / "data" / config).mkdir(parents=True)
        (data / "data" / config / "part-00000.parquet").write_bytes(payload)
    (data / "README.md").write_text("the build's own card, not uploaded")
    (data / "manifest.json").write_text("{}")
    return rel, data


def _commits_after_creation(hub: FakeHub, repo_id: str) -> list:
    return [c for c in hub.repo(repo_id).commits.values() if c.summary != "initial commit"]


def test_collect_files_lists_release_files_and_shards(release):
    rel, data = release
    files = collect_files(rel, data)
    assert [f.path_in_repo for f in files] == [
        "README.md", "croissant.json", "data/probes/part-00000.parquet", "data/qa/part-00000.parquet",
        "manifest.json", "release.json"]
    assert {f.path_in_repo: f.local for f in files}["README.md"] == rel / "README.md"
    assert all(f.size == f.local.stat().st_size for f in files)
    plan = format_plan(files, "alice/fk", "v1.2.3")
    assert "data/qa/part-00000.parquet" in plan and "tag v1.2.3" in plan and "6 files" in plan


def test_collect_files_refuses_incomplete_release(release):
    rel, data = release
    (rel / "croissant.json").unlink()
    with pytest.raises(PublishError, match="no croissant.json"):
        collect_files(rel, data)


def test_publish_uploads_exact_bytes_and_tags_that_commit(hub, release):
    rel, data = release
    files = collect_files(rel, data)
    result = publish_files(files, "fk-org/fictional-knowledge", "v1.2.3", token=TOKEN, endpoint=hub.url,
                           private=True)
    repo = hub.repo("fk-org/fictional-knowledge")
    assert repo.private
    commits = _commits_after_creation(hub, "fk-org/fictional-knowledge")
    assert len(commits) == 1 and commits[0].summary == "Release v1.2.3"
    assert result.commit_oid == commits[0].oid == repo.branches["main"]
    assert repo.tags == {"v1.2.3": result.commit_oid}
    stored = commits[0].files
    assert sorted(commits[0].changed) == [f.path_in_repo for f in files]
    for f in files:
        assert stored[f.path_in_repo] == f.local.read_bytes(), f.path_in_repo
    assert (data / "README.md").read_bytes() not in stored.values()  # the build's own card stays home
    # the tag request came after the commit, and the client called nothing the fake lacks
    paths = [p for _, p in hub.requests]
    assert paths.index(next(p for p in paths if "/tag/" in p)) > paths.index(next(p for p in paths if "/commit/" in p))
    assert hub.unhandled == []


def test_existing_tag_is_refused_and_nothing_is_committed(hub, release):
    repo = hub.add_repo("alice/fk")
    head = repo.branches["main"]
    repo.tags["v1.2.3"] = head
    with pytest.raises(PublishError, match="tag v1.2.3 already exists"):
        publish_files(collect_files(*release), "alice/fk", "v1.2.3", token=TOKEN, endpoint=hub.url)
    assert repo.branches["main"] == head and repo.tags == {"v1.2.3": head}
    assert not any("/commit/" in p or "/preupload/" in p for _, p in hub.requests)


def test_tag_conflict_at_tag_time_leaves_existing_tag_alone(hub, release):
    hub.inject(409, method="POST", path_contains="/tag/", body={"error": "Reference already exists"})
    with pytest.raises(PublishError, match="NOT tagged"):
        publish_files(collect_files(*release), "alice/fk", "v1.2.3", token=TOKEN, endpoint=hub.url)
    assert hub.repo("alice/fk").tags == {}


def test_failed_commit_creates_no_tag(hub, release, quick_backoff):
    hub.inject(500, method="POST", path_contains="/commit/", times=3)  # every one of the 3 tries
    with pytest.raises(PublishError, match="500 while trying to commit"):
        publish_files(collect_files(*release), "alice/fk", "v1.2.3", token=TOKEN, endpoint=hub.url)
    assert hub.repo("alice/fk").tags == {}
    assert not any("/tag/" in p for _, p in hub.requests)


def test_rejected_token_gives_one_line_error(hub, release):
    with pytest.raises(PublishError) as info:
        publish_files(collect_files(*release), "alice/fk", "v1.2.3", token="hf_wrong", endpoint=hub.url)
    assert "401" in str(info.value) and "token" in str(info.value) and "\n" not in str(info.value)
    assert hub.repos == {}


def test_repo_without_permission_gives_one_line_error(hub, release):
    hub.add_repo("carol/fk")
    with pytest.raises(PublishError) as info:
        publish_files(collect_files(*release), "carol/fk", "v1.2.3", token="hf_other", endpoint=hub.url)
    assert "carol/fk" in str(info.value) and "\n" not in str(info.value)
    assert _commits_after_creation(hub, "carol/fk") == []


def test_private_repo_of_someone_else_reads_as_missing(hub, release):
    hub.add_repo("carol/secret", private=True)
    with pytest.raises(PublishError, match="carol/secret does not exist or this token cannot access it"):
        publish_files(collect_files(*release), "carol/secret", "v1.2.3", token="hf_other", endpoint=hub.url)


def test_unreachable_endpoint_gives_one_line_error(release):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(PublishError) as info:
        publish_files(collect_files(*release), "alice/fk", "v1.2.3", token=TOKEN,
                      endpoint=f"http://127.0.0.1:{port}")
    assert f"cannot reach the Hub at http://127.0.0.1:{port}" in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_token_is_refused_before_any_request(hub, release):
    with pytest.raises(PublishError, match="no Hugging Face token"):
        publish_files(collect_files(*release), "alice/fk", "v1.2.3", endpoint=hub.url)
    assert hub.requests == []


def test_token_from_environment(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_from_env")
    assert resolve_token(None) == "hf_from_env"
    assert resolve_token("hf_flag") == "hf_flag"


def test_second_version_gets_its_own_tag(hub, release):
    rel, data = release
    first = publish_files(collect_files(rel, data), "alice/fk", "v1.2.3", token=TOKEN, endpoint=hub.url)
    (data / "data" / "qa" / "part-00000.parquet").write_bytes(b"PAR1 changed")
    second = publish_files(collect_files(rel, data), "alice/fk", "v1.3.0", token=TOKEN, endpoint=hub.url)
    repo = hub.repo("alice/fk")
    assert repo.tags == {"v1.2.3": first.commit_oid, "v1.3.0": second.commit_oid}
    assert first.commit_oid != second.commit_oid
    assert repo.commits[second.commit_oid].changed == ["data/qa/part-00000.parquet"]
    assert repo.commits[first.commit_oid].files["data/qa/part-00000.parquet"] == b"PAR1\x01qa" * 50


# ----- `fkgen publish` on a real (small) release ---------------------------------------------

@pytest.fixture(scope="module")
def real_release(tmp_path_factory) -> tuple[Path, Path]:
    from fictional_knowledge.models import BuildConfig
    from fictional_knowledge.release.core import make_release

    root = tmp_path_factory.mktemp("pub")
    return make_release("v0.0.2", BuildConfig(seed=5, entities=30), releases_dir=root / "releases",
                        data_out=root / "builds" / "v0.0.2", hub_repo="alice/fk", workers=1)


def _fkgen(*args: str):
    from typer.testing import CliRunner

    from fictional_knowledge.cli import app

    return CliRunner().invoke(app, list(args))


def test_cli_dry_run_prints_files_and_tag_and_contacts_nothing(hub, real_release):
    rel, data = real_release
    result = _fkgen("publish", str(rel), "--repo", "alice/fk", "--data", str(data), "--dry-run",
                    "--endpoint", hub.url)
    assert result.exit_code == 0, result.output
    assert hub.requests == [] and hub.repos == {}
    for f in collect_files(rel, data):
        assert f.path_in_repo in result.output and f"{f.size:,d} B" in result.output
    assert "tag v0.0.2" in result.output


def test_cli_publish_uploads_the_release_and_tags_it(hub, real_release):
    rel, data = real_release
    result = _fkgen("publish", str(rel), "--repo", "fk-org/fictional-knowledge", "--data", str(data),
                    "--token", TOKEN, "--endpoint", hub.url)
    assert result.exit_code == 0, result.output
    repo = hub.repo("fk-org/fictional-knowledge")
    tagged = repo.commits[repo.tags["v0.0.2"]]
    expected = {f.path_in_repo: f.local.read_bytes() for f in collect_files(rel, data)}
    assert {p: b for p, b in tagged.files.items() if p != ".gitattributes"} == expected
    assert tagged.files["README.md"] == (rel / "README.md").read_bytes()
    assert "tagged v0.0.2" in result.output

    again = _fkgen("publish", str(rel), "--repo", "fk-org/fictional-knowledge", "--data", str(data),
                   "--token", TOKEN, "--endpoint", hub.url)
    assert again.exit_code == 1 and "tag v0.0.2 already exists" in again.output
    assert repo.branches["main"] == tagged.oid and len(repo.commits) == 2


def test_cli_publish_refuses_data_of_another_recipe(hub, real_release, tmp_path):
    from fictional_knowledge.dataset.builder import build
    from fictional_knowledge.models import BuildConfig

    rel, _ = real_release
    other = tmp_path / "other"
    build(BuildConfig(seed=6, entities=30), other, workers=1)
    result = _fkgen("publish", str(rel), "--repo", "alice/fk", "--data", str(other), "--token", TOKEN,
                    "--endpoint", hub.url)
    assert result.exit_code == 2 and "is not the data of v0.0.2" in result.output
    assert hub.requests == []


def test_cli_publish_without_token_says_so(hub, real_release):
    rel, data = real_release
    result = _fkgen("publish", str(rel), "--repo", "alice/fk", "--data", str(data), "--endpoint", hub.url)
    assert result.exit_code == 1 and "no Hugging Face token" in result.output
    assert hub.requests == []


# ------------------------------------------------------------------------------------------------
# timeouts and retries: a Hub that stalls ends in seconds, with one line


@pytest.fixture
def quick_backoff(monkeypatch):
    import fictional_knowledge.release.publish as publish

    monkeypatch.setattr(publish, "BACKOFF", 0.05)


def test_a_stalled_commit_is_retried_and_published_once(hub, release, quick_backoff):
    hub.stall(path_contains="/commit/", times=1, seconds=30)
    result = publish_files(collect_files(*release), "alice/fk", "v1.2.3", token=TOKEN, endpoint=hub.url,
                           timeout=0.5, attempts=3)
    commits = _commits_after_creation(hub, "alice/fk")
    assert len(commits) == 1 and hub.repo("alice/fk").tags == {"v1.2.3": result.commit_oid}
    assert sum(1 for m, p in hub.requests if "/commit/" in p) == 1  # the stalled one was never served


def test_a_hub_that_never_answers_fails_in_one_line_after_bounded_tries(hub, release, quick_backoff):
    hub.stall(path_contains="/commit/", times=100, seconds=30)
    with pytest.raises(PublishError) as info:
        publish_files(collect_files(*release), "alice/fk", "v1.2.3", token=TOKEN, endpoint=hub.url,
                      timeout=0.3, attempts=2)
    message = str(info.value)
    assert "\n" not in message
    assert "did not answer within 0.3 s while trying to commit the files (2 attempts)" in message
    assert hub.repo("alice/fk").tags == {} and _commits_after_creation(hub, "alice/fk") == []
    assert sum(1 for s in hub.stalls if s[2] == 98) == 1  # exactly two commit requests were sent


def test_a_stalled_tag_request_is_retried(hub, release, quick_backoff):
    hub.stall(path_contains="/tag/", times=1, seconds=30)
    result = publish_files(collect_files(*release), "alice/fk", "v1.2.3", token=TOKEN, endpoint=hub.url,
                           timeout=0.5, attempts=2)
    assert hub.repo("alice/fk").tags == {"v1.2.3": result.commit_oid}


def test_server_errors_are_retried_then_reported(hub, release, quick_backoff):
    hub.inject(503, path_contains="/api/repos/create", times=1)
    publish_files(collect_files(*release), "alice/fk", "v1.2.3", token=TOKEN, endpoint=hub.url, attempts=2)
    hub.inject(503, path_contains="/refs", times=5)
    with pytest.raises(PublishError, match="answered 503 while trying to list the repo's tags"):
        publish_files(collect_files(*release), "alice/fk", "v1.2.4", token=TOKEN, endpoint=hub.url, attempts=2)


def test_timeout_comes_from_the_environment(monkeypatch):
    from fictional_knowledge.release.publish import hub_settings

    monkeypatch.setenv("FKGEN_HUB_TIMEOUT", "2.5")
    monkeypatch.setenv("FKGEN_HUB_ATTEMPTS", "4")
    assert hub_settings() == (2.5, 4)
    assert hub_settings(1.0, 1) == (1.0, 1)
    monkeypatch.setenv("FKGEN_HUB_TIMEOUT", "soon")
    with pytest.raises(PublishError, match="--timeout / FKGEN_HUB_TIMEOUT must be a positive number"):
        hub_settings()


def test_the_default_client_is_restored_after_publishing(hub, release):
    from huggingface_hub.utils import _http

    publish_files(collect_files(*release), "alice/fk", "v1.2.3", token=TOKEN, endpoint=hub.url, timeout=5)
    assert _http._GLOBAL_CLIENT_FACTORY is _http.default_client_factory


def test_cli_publish_to_a_stalling_hub_ends_in_one_line(hub, real_release, quick_backoff, monkeypatch):
    rel, data = real_release
    hub.stall(path_contains="/commit/", times=100, seconds=30)
    monkeypatch.setenv("FKGEN_HUB_ATTEMPTS", "2")
    result = _fkgen("publish", str(rel), "--repo", "alice/fk", "--data", str(data), "--token", TOKEN,
                    "--endpoint", hub.url, "--timeout", "0.3")
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("error: the Hub at")
    assert "did not answer within 0.3 s" in result.output and "(2 attempts)" in result.output
    bad = _fkgen("publish", str(rel), "--repo", "alice/fk", "--data", str(data), "--timeout", "0")
    assert bad.exit_code == 2 and bad.output.startswith("error: --timeout")
