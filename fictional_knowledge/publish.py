"""Upload a release to a Hugging Face Hub dataset repo and tag the commit.

The order is what makes a publication all-or-nothing: create the repo (or reuse it), refuse if the
tag already exists, push every file in ONE commit, and only then create the tag on that commit's
oid. A failure before the tag leaves no tag behind, so ``revision="vX.Y.Z"`` either resolves to the
complete release or does not resolve at all. Tags are never moved or overwritten.

``huggingface_hub`` is imported inside functions so that ``import fictional_knowledge`` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from .errors import RuntimeFailure

RELEASE_FILES = ("README.md", "manifest.json", "release.json", "croissant.json")
OPTIONAL_RELEASE_FILES = ("eval.yaml",)


class PublishError(RuntimeFailure):
    """A publication failed or was refused; ``str(err)`` is a one-line message for the user."""


@dataclass(frozen=True)
class UploadFile:
    """One file of the upload: where it goes in the repo, where it is read from, its size in bytes."""

    path_in_repo: str
    local: Path
    size: int


@dataclass(frozen=True)
class PublishResult:
    repo_id: str
    tag: str
    commit_oid: str
    commit_url: str
    files: tuple[UploadFile, ...]


def collect_files(release_dir: str | Path, data_dir: str | Path) -> list[UploadFile]:
    """The files of a publication, sorted by repo path: the release folder's card, manifest and
    croissant file (plus ``eval.yaml`` when present) at the repo root, and every parquet shard of
    the build under ``data/<config>/``. The build's own README/manifest are not uploaded: the
    release's versions replace them."""
    release_dir, data_dir = Path(release_dir), Path(data_dir)
    files: list[UploadFile] = []
    for name in RELEASE_FILES + OPTIONAL_RELEASE_FILES:
        path = release_dir / name
        if path.is_file():
            files.append(UploadFile(name, path, path.stat().st_size))
        elif name in RELEASE_FILES:
            raise PublishError(f"{release_dir} has no {name}: is it a release folder written by `fkgen release`?")
    shards = sorted((data_dir / "data").glob("*/*.parquet"))
    if not shards:
        raise PublishError(f"{data_dir} has no data/<config>/*.parquet files: is it a build folder?")
    files += [UploadFile(p.relative_to(data_dir).as_posix(), p, p.stat().st_size) for p in shards]
    return sorted(files, key=lambda f: f.path_in_repo)


def format_plan(files: Sequence[UploadFile], repo_id: str, tag: str) -> str:
    """The text ``--dry-run`` prints: every file with its size, the total, and the tag."""
    width = max(len(f.path_in_repo) for f in files)
    lines = [f"{f.path_in_repo:<{width}}  {f.size:>12,d} B" for f in files]
    total = sum(f.size for f in files)
    lines.append(f"{len(files)} files, {total:,d} bytes -> one commit to datasets/{repo_id}")
    lines.append(f"then tag {tag} on that commit")
    return "\n".join(lines)


def resolve_token(token: Optional[str]) -> str:
    """The token to publish with: ``token`` if given, else the one huggingface_hub finds
    (``HF_TOKEN`` or the file ``hf auth login`` writes). Raises PublishError when there is none."""
    if token:
        return token
    from huggingface_hub import get_token

    found = get_token()
    if not found:
        raise PublishError("no Hugging Face token: pass --token, set HF_TOKEN, or run `hf auth login`")
    return found


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Exception classes of the HTTP client huggingface_hub uses for 'could not reach the server'."""
    errors: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module in ("httpx2", "httpx"):
        try:
            errors.append(__import__(module).TransportError)
        except (ImportError, AttributeError):
            pass
    return tuple(errors)


def _http_message(err: Exception, repo_id: str, step: str) -> str:
    """A one-line message for an HTTP error raised by huggingface_hub during ``step``."""
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    status = getattr(getattr(err, "response", None), "status_code", None)
    server = (getattr(err, "server_message", None) or "").strip().splitlines()
    detail = f" ({server[0]})" if server else ""
    if isinstance(err, RepositoryNotFoundError):
        return f"dataset repo {repo_id} does not exist or this token cannot access it{detail}"
    if status == 401:
        return f"the Hub rejected the token (401 Unauthorized) while trying to {step}{detail}"
    if status == 403:
        return f"no permission to {step} on dataset repo {repo_id}{detail}"
    if isinstance(err, HfHubHTTPError):
        return f"the Hub answered {status} while trying to {step}{detail}"
    return f"failed to {step}: {str(err).splitlines()[0] if str(err) else type(err).__name__}"


def publish_files(files: Sequence[UploadFile], repo_id: str, tag: str, *, token: Optional[str] = None,
                  endpoint: Optional[str] = None, private: bool = False,
                  message: Optional[str] = None) -> PublishResult:
    """Push ``files`` to the dataset repo ``repo_id`` in one commit, then tag that commit ``tag``.

    Raises PublishError (one line) when the token is missing or rejected, the repo cannot be
    created or written, the endpoint cannot be reached, or the tag already exists (checked before
    committing, and again through the 409 answer of the tag request)."""
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    token = resolve_token(token)
    api = HfApi(endpoint=endpoint, token=token)
    where = endpoint or api.endpoint
    step = "create the repo"
    try:
        api.create_repo(repo_id, repo_type="dataset", exist_ok=True, private=private or None)
        step = "list the repo's tags"
        refs = api.list_repo_refs(repo_id, repo_type="dataset")
        tags = {ref.name: ref.target_commit for ref in refs.tags}
        branches = {ref.name: ref.target_commit for ref in refs.branches}
        if tag in tags or tag in branches:
            where_now = tags.get(tag) or branches[tag]
            raise PublishError(f"tag {tag} already exists on {repo_id} (commit {where_now[:12]}); "
                               "a published version is never moved: cut a new version instead")
        step = "commit the files"
        operations = [CommitOperationAdd(path_in_repo=f.path_in_repo, path_or_fileobj=str(f.local)) for f in files]
        commit = api.create_commit(repo_id, operations, repo_type="dataset",
                                   commit_message=f"Release {tag}", commit_description=message or "",
                                   parent_commit=branches.get("main"))
        step = f"tag commit {commit.oid[:12]} as {tag}"
        try:
            api.create_tag(repo_id, tag=tag, revision=commit.oid, repo_type="dataset",
                           tag_message=message or f"Release {tag}")
        except HfHubHTTPError as err:
            if getattr(err.response, "status_code", None) == 409:
                raise PublishError(f"tag {tag} appeared on {repo_id} while publishing; commit {commit.oid[:12]} "
                                   "was pushed but NOT tagged, the existing tag is unchanged") from err
            raise
    except PublishError:
        raise
    except OfflineModeIsEnabled as err:
        raise PublishError("HF_HUB_OFFLINE is set: unset it to publish") from err
    except _transport_errors() as err:
        detail = str(err).splitlines()[0] if str(err) else ""
        raise PublishError(f"cannot reach the Hub at {where} while trying to {step}: "
                           f"{type(err).__name__}: {detail}".rstrip(": ")) from err
    except (HfHubHTTPError, ValueError) as err:
        raise PublishError(_http_message(err, repo_id, step)) from err
    return PublishResult(repo_id, tag, commit.oid, commit.commit_url, tuple(files))
