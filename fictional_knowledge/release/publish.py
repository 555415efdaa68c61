"""Upload a release to a Hugging Face Hub dataset repo and tag the commit.

The order is what makes a publication all-or-nothing: create the repo (or reuse it), refuse if the
tag already exists, push every file in ONE commit, and only then create the tag on that commit's
oid. A failure before the tag leaves no tag behind, so ``revision="vX.Y.Z"`` either resolves to the
complete release or does not resolve at all. Tags are never moved or overwritten.

Every Hub request has a timeout and each step a bounded retry with exponential backoff.
huggingface_hub 2.x sends its requests through one shared ``httpx`` client whose default
timeout is None (``utils/_http.py: default_client_factory``), and ``create_repo``,
``create_commit``'s ``/commit`` request and ``create_tag`` take no timeout argument, so a Hub that
stalls would hold ``fkgen publish`` forever. While publishing, the client is made by a factory
(``huggingface_hub.set_client_factory``) that sets the timeout; the default factory is put back
afterwards. ``HF_HUB_ETAG_TIMEOUT``/``HF_HUB_DOWNLOAD_TIMEOUT`` apply to downloads only.
Settings: ``timeout``/``attempts`` arguments, else ``FKGEN_HUB_TIMEOUT`` (seconds, default 60)
and ``FKGEN_HUB_ATTEMPTS`` (default 3).

``huggingface_hub`` is imported inside functions so that ``import fictional_knowledge`` stays fast.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence, TypeVar

from fictional_knowledge.errors import RuntimeFailure

RELEASE_FILES = ("README.md", "manifest.json", "release.json", "croissant.json")
OPTIONAL_RELEASE_FILES = ("eval.yaml",)
DEFAULT_TIMEOUT = 60.0
DEFAULT_ATTEMPTS = 3
BACKOFF = 1.0  # seconds before the 2nd attempt, doubled before each further one
RETRY_STATUS = (429, 500, 502, 503, 504)
T = TypeVar("T")


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


def hub_settings(timeout: Optional[float] = None, attempts: Optional[int] = None) -> tuple[float, int]:
    """(timeout in seconds, attempts per step): the arguments, else ``FKGEN_HUB_TIMEOUT`` and
    ``FKGEN_HUB_ATTEMPTS``, else 60 s and 3. Raises PublishError for a value that is not positive."""
    def read(value, env: str, default, cast):
        raw = value if value is not None else os.environ.get(env)
        if raw is None or raw == "":
            return default
        try:
            out = cast(raw)
        except (TypeError, ValueError):
            out = None
        if out is None or out <= 0:
            raise PublishError(f"--{env[10:].lower()} / {env} must be a positive number, got {raw!r}")
        return out

    return read(timeout, "FKGEN_HUB_TIMEOUT", DEFAULT_TIMEOUT, float), read(attempts, "FKGEN_HUB_ATTEMPTS", DEFAULT_ATTEMPTS, int)


@contextmanager
def hub_timeout(seconds: float) -> Iterator[None]:
    """Give huggingface_hub's shared HTTP client a timeout of ``seconds`` (connect, read, write
    and pool each) for the duration of the block, then restore its default client."""
    from huggingface_hub import set_client_factory
    from huggingface_hub.utils._http import default_client_factory

    def factory():
        client = default_client_factory()
        client.timeout = seconds  # httpx: a number sets every phase's timeout
        return client

    set_client_factory(factory)
    try:
        yield
    finally:
        set_client_factory(default_client_factory)


def _retryable(err: BaseException) -> bool:
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(err, HfHubHTTPError):
        return getattr(err.response, "status_code", None) in RETRY_STATUS
    return isinstance(err, _transport_errors())


def _with_retry(call: Callable[[], T], attempts: int, before_retry: Optional[Callable[[], None]] = None,
                sleep: Callable[[float], None] = time.sleep) -> T:
    """``call()``, tried up to ``attempts`` times on timeouts, connection errors, 429 and 5xx,
    waiting BACKOFF, 2*BACKOFF, ... between tries; ``before_retry`` may raise to stop early."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Exception as err:
            if attempt == attempts or not _retryable(err):
                if attempt > 1 and _retryable(err):
                    err.attempts = attempt  # type: ignore[attr-defined]  # for the message
                raise
        sleep(BACKOFF * 2 ** (attempt - 1))
        if before_retry is not None:
            before_retry()
    raise AssertionError("unreachable")


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
                  message: Optional[str] = None, timeout: Optional[float] = None,
                  attempts: Optional[int] = None) -> PublishResult:
    """Push ``files`` to the dataset repo ``repo_id`` in one commit, then tag that commit ``tag``.

    Every request times out after ``timeout`` seconds and every step is tried up to ``attempts``
    times (see :func:`hub_settings`). Raises PublishError (one line) when the token is missing or
    rejected, the repo cannot be created or written, the endpoint cannot be reached or does not
    answer in time, or the tag already exists (checked before committing, and again through the
    409 answer of the tag request)."""
    timeout, attempts = hub_settings(timeout, attempts)
    token = resolve_token(token)
    with hub_timeout(timeout):
        return _publish(files, repo_id, tag, token=token, endpoint=endpoint, private=private, message=message,
                        timeout=timeout, attempts=attempts)


def _publish(files, repo_id, tag, *, token, endpoint, private, message, timeout, attempts) -> PublishResult:
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    api = HfApi(endpoint=endpoint, token=token)
    where = endpoint or api.endpoint
    step = "create the repo"
    try:
        _with_retry(lambda: api.create_repo(repo_id, repo_type="dataset", exist_ok=True, private=private or None),
                    attempts)
        step = "list the repo's tags"

        def refs():
            found = _with_retry(lambda: api.list_repo_refs(repo_id, repo_type="dataset"), attempts)
            return ({ref.name: ref.target_commit for ref in found.tags},
                    {ref.name: ref.target_commit for ref in found.branches})

        tags, branches = refs()
        if tag in tags or tag in branches:
            where_now = tags.get(tag) or branches[tag]
            raise PublishError(f"tag {tag} already exists on {repo_id} (commit {where_now[:12]}); "
                               "a published version is never moved: cut a new version instead")
        step = "commit the files"
        parent = branches.get("main")
        operations = [CommitOperationAdd(path_in_repo=f.path_in_repo, path_or_fileobj=str(f.local)) for f in files]

        def main_unmoved() -> None:
            # a commit that timed out may still have landed: never commit twice, say so instead
            now = refs()[1].get("main")
            if now != parent:
                raise PublishError(f"the Hub did not confirm the commit in time, and main of {repo_id} has moved "
                                   f"to {str(now)[:12]}: the commit may have landed; no tag was made. Check the "
                                   "repo, then run publish again")

        commit = _with_retry(lambda: api.create_commit(repo_id, operations, repo_type="dataset",
                                                       commit_message=f"Release {tag}",
                                                       commit_description=message or "", parent_commit=parent),
                             attempts, before_retry=main_unmoved)
        step = f"tag commit {commit.oid[:12]} as {tag}"
        try:
            _with_retry(lambda: api.create_tag(repo_id, tag=tag, revision=commit.oid, repo_type="dataset",
                                               tag_message=message or f"Release {tag}"), attempts)
        except HfHubHTTPError as err:
            if getattr(err.response, "status_code", None) == 409:
                if refs()[0].get(tag) == commit.oid:  # an earlier try that timed out did tag it
                    return PublishResult(repo_id, tag, commit.oid, commit.commit_url, tuple(files))
                raise PublishError(f"tag {tag} appeared on {repo_id} while publishing; commit {commit.oid[:12]} "
                                   "was pushed but NOT tagged, the existing tag is unchanged") from err
            raise
    except PublishError:
        raise
    except OfflineModeIsEnabled as err:
        raise PublishError("HF_HUB_OFFLINE is set: unset it to publish") from err
    except _transport_errors() as err:
        tries = getattr(err, "attempts", 1)
        tried = f" ({tries} attempts)" if tries > 1 else ""
        if "Timeout" in type(err).__name__:
            raise PublishError(f"the Hub at {where} did not answer within {timeout:g} s while trying to {step}"
                               f"{tried}; raise --timeout or FKGEN_HUB_TIMEOUT, or try later") from err
        detail = str(err).splitlines()[0] if str(err) else ""
        raise PublishError(f"cannot reach the Hub at {where} while trying to {step}{tried}: "
                           f"{type(err).__name__}: {detail}".rstrip(": ")) from err
    except (HfHubHTTPError, ValueError) as err:
        raise PublishError(_http_message(err, repo_id, step)) from err
    return PublishResult(repo_id, tag, commit.oid, commit.commit_url, tuple(files))
