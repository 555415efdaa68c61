"""A loopback fake of the Hugging Face Hub endpoints that ``huggingface_hub`` 2.x calls to publish.

Implements exactly what ``HfApi.create_repo``, ``repo_info``/``dataset_info``, ``create_commit``
(``/api/validate-yaml``, ``/preupload``, ``/commit`` with an NDJSON body), ``create_tag`` and
``list_repo_refs`` send, as read from huggingface_hub 2.4's ``hf_api.py`` and ``_commit_api.py``.
Every file is declared ``"regular"`` in the preupload answer, so the client sends its bytes inline
(base64) in the commit; no LFS/Xet transfer is needed. The server stores what it receives (files
and their bytes per commit, branches, tags, the request log) so tests can assert on it, and it can
be told to fail a request with a given status (``inject``).

Usage::

    with FakeHub(tokens={"hf_good": "alice"}) as hub:
        HfApi(endpoint=hub.url, token="hf_good").create_repo("alice/x", repo_type="dataset")
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import unquote, urlsplit

_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_REPO = r"/api/(?P<t>models|datasets|spaces)/(?P<repo>[^/]+/[^/]+)"
_ROUTES: list[tuple[str, re.Pattern, str]] = [
    ("POST", re.compile(r"/api/repos/create"), "create_repo"),
    ("POST", re.compile(r"/api/validate-yaml"), "validate_yaml"),
    ("GET", re.compile(_REPO + r"/refs"), "refs"),
    ("POST", re.compile(_REPO + r"/preupload/(?P<rev>[^/]+)"), "preupload"),
    ("POST", re.compile(_REPO + r"/commit/(?P<rev>[^/]+)"), "commit"),
    ("POST", re.compile(_REPO + r"/tag/(?P<rev>[^/]+)"), "tag"),
    ("GET", re.compile(_REPO + r"(?:/revision/(?P<rev>[^/]+))?"), "repo_info"),
]


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob with this content (what the Hub reports as a regular file's oid)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Commit:
    oid: str
    parent: Optional[str]
    summary: str
    description: str
    files: dict[str, bytes]  # the full tree after this commit
    changed: list[str]  # paths added or replaced by this commit


@dataclass
class Repo:
    repo_id: str
    repo_type: str
    private: bool
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def head(self, revision: str = "main") -> Optional[Commit]:
        """The commit a revision (branch, tag or full/short oid) points at, or None."""
        oid = self.branches.get(revision) or self.tags.get(revision)
        if oid is None:
            matches = [o for o in self.commits if len(revision) >= 7 and o.startswith(revision)]
            oid = matches[0] if len(matches) == 1 else None
        return self.commits.get(oid) if oid else None


@dataclass
class Fault:
    status: int
    method: Optional[str]
    path_contains: Optional[str]
    times: int
    body: dict
    headers: dict


class _HubError(Exception):
    def __init__(self, status: int, message: str, code: Optional[str] = None, headers: Optional[dict] = None,
                 body: Optional[dict] = None):
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}
        self.body = {"error": message, **(body or {})}


class FakeHub:
    """In-memory Hub state plus a threaded HTTP server on 127.0.0.1 (a free port)."""

    def __init__(self, tokens: Optional[dict[str, str]] = None, orgs: Optional[dict[str, set[str]]] = None):
        self.tokens = dict(tokens if tokens is not None else {"hf_good": "alice"})
        self.orgs = {user: set(o) for user, o in (orgs or {}).items()}
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request received
        self.unhandled: list[tuple[str, str]] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        self._counter = 0
        self._server: Optional[ThreadingHTTPServer] = None
        self.stalls: list[list] = []  # [method, path_contains, times, seconds]
        self._stopping = threading.Event()

    # ----- lifecycle -------------------------------------------------------------------------
    def start(self) -> "FakeHub":
        hub = self

        class Handler(_Handler):
            fake = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wake stalled handlers
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeHub":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "FakeHub is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # ----- test helpers ----------------------------------------------------------------------
    def inject(self, status: int, *, method: Optional[str] = None, path_contains: Optional[str] = None,
               times: int = 1, body: Optional[dict] = None, headers: Optional[dict] = None) -> None:
        """Answer the next ``times`` matching requests with ``status`` instead of serving them."""
        self.faults.append(Fault(status, method, path_contains, times, body or {"error": f"injected {status}"},
                                 headers or {}))

    def stall(self, *, path_contains: str, method: Optional[str] = None, times: int = 1,
              seconds: float = 30.0) -> None:
        """Hold the next ``times`` matching requests for ``seconds`` before serving them (a Hub
        that does not answer); a stalled request is still served and recorded afterwards."""
        self.stalls.append([method, path_contains, times, seconds])

    def _stall_for(self, method: str, path: str) -> float:
        with self._lock:
            for stall in self.stalls:
                if stall[2] > 0 and stall[0] in (None, method) and stall[1] in path:
                    stall[2] -= 1
                    return stall[3]
        return 0.0

    def add_repo(self, repo_id: str, repo_type: str = "dataset", private: bool = False) -> Repo:
        """Create a repo directly (with the initial ``.gitattributes`` commit the Hub makes)."""
        with self._lock:
            return self._new_repo(repo_id, repo_type, private)

    def repo(self, repo_id: str, repo_type: str = "dataset") -> Repo:
        return self.repos[(repo_type, repo_id)]

    # ----- internals -------------------------------------------------------------------------
    def _new_repo(self, repo_id: str, repo_type: str, private: bool) -> Repo:
        repo = Repo(repo_id, repo_type, private)
        first = self._make_commit(repo, None, "initial commit", "", {".gitattributes": b"*.parquet filter=lfs\n"})
        repo.branches["main"] = first.oid
        self.repos[(repo_type, repo_id)] = repo
        return repo

    def _make_commit(self, repo: Repo, parent: Optional[Commit], summary: str, description: str,
                     changes: dict[str, Optional[bytes]]) -> Commit:
        files = dict(parent.files) if parent else {}
        for path, data in changes.items():
            if data is None:
                files = {p: b for p, b in files.items() if p != path and not p.startswith(path.rstrip("/") + "/")}
            else:
                files[path] = data
        self._counter += 1
        oid = hashlib.sha1(f"{repo.repo_id}:{self._counter}:{summary}".encode()).hexdigest()
        commit = Commit(oid, parent.oid if parent else None, summary, description, files,
                        [p for p, d in changes.items() if d is not None])
        repo.commits[oid] = commit
        return commit

    def _user(self, headers: Any, required: bool) -> Optional[str]:
        auth = headers.get("authorization") or ""
        token = auth[7:] if auth.lower().startswith("bearer ") else None
        if token is None:
            if required:
                raise _HubError(401, "Invalid credentials in Authorization header")
            return None
        if token not in self.tokens:
            raise _HubError(401, "Invalid credentials in Authorization header")
        return self.tokens[token]

    def _can_write(self, user: Optional[str], repo_id: str) -> bool:
        namespace = repo_id.split("/")[0]
        return user is not None and (namespace == user or namespace in self.orgs.get(user, set()))

    def _get_repo(self, t: str, repo_id: str, user: Optional[str]) -> Repo:
        repo = self.repos.get((_TYPES[t], repo_id))
        if repo is None or (repo.private and not self._can_write(user, repo_id)):
            raise _HubError(404, "Repository not found", code="RepoNotFound")
        return repo

    def _writable_repo(self, t: str, repo_id: str, headers: Any) -> Repo:
        user = self._user(headers, required=True)
        repo = self._get_repo(t, repo_id, user)
        if not self._can_write(user, repo_id):
            raise _HubError(403, f"You don't have write access to {repo_id}")
        return repo

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, dict, dict]:
        """Serve one request: returns (status, json body, extra headers)."""
        with self._lock:
            self.requests.append((method, path))
            for fault in self.faults:
                if fault.times > 0 and fault.method in (None, method) and (
                        fault.path_contains is None or fault.path_contains in path):
                    fault.times -= 1
                    return fault.status, fault.body, fault.headers
            for route_method, pattern, name in _ROUTES:
                match = pattern.fullmatch(path)
                if route_method == method and match:
                    try:
                        payload = body if name == "commit" else (json.loads(body) if body else {})
                        return 200, getattr(self, "_" + name)(headers, payload, **match.groupdict()), {}
                    except _HubError as err:
                        extra = {"X-Error-Message": err.message, **err.headers}
                        if err.code:
                            extra["X-Error-Code"] = err.code
                        return err.status, err.body, extra
            self.unhandled.append((method, path))
            return 404, {"error": f"fake hub does not implement {method} {path}"}, {}

    def _create_repo(self, headers: Any, payload: dict) -> dict:
        user = self._user(headers, required=True)
        repo_type = payload.get("type") or "model"
        repo_id = f"{payload.get('organization') or user}/{payload['name']}"
        prefix = "" if repo_type == "model" else f"{repo_type}s/"
        url = f"{self.base_url}/{prefix}{repo_id}"
        if (repo_type, repo_id) in self.repos:
            raise _HubError(409, f"You already created this {repo_type} repo", body={"url": url})
        if not self._can_write(user, repo_id):
            raise _HubError(403, f"You don't have the rights to create a {repo_type} under the namespace "
                                 f"\"{repo_id.split('/')[0]}\"")
        self._new_repo(repo_id, repo_type, payload.get("visibility") == "private")
        return {"url": url, "name": repo_id}

    def _validate_yaml(self, headers: Any, payload: dict) -> dict:
        import yaml  # a dependency of huggingface_hub

        content = payload.get("content", "")
        if content.startswith("---"):
            try:
                yaml.safe_load(content.split("---", 2)[1])
            except yaml.YAMLError as err:
                raise _HubError(400, f"Invalid YAML: {err}")
        return {"errors": [], "warnings": []}

    def _repo_info(self, headers: Any, payload: dict, t: str, repo: str, rev: Optional[str] = None) -> dict:
        found = self._get_repo(t, repo, self._user(headers, required=False))
        commit = found.head(unquote(rev or "main"))
        if commit is None:
            raise _HubError(404, "Invalid rev id", code="RevisionNotFound")
        return {"id": repo, "sha": commit.oid, "private": found.private,
                "siblings": [{"rfilename": p} for p in sorted(commit.files)]}

    def _refs(self, headers: Any, payload: dict, t: str, repo: str) -> dict:
        found = self._get_repo(t, repo, self._user(headers, required=False))

        def refs(kind: str, items: dict[str, str]) -> list[dict]:
            return [{"name": n, "ref": f"refs/{kind}/{n}", "targetCommit": o} for n, o in sorted(items.items())]

        return {"branches": refs("heads", found.branches), "converts": [], "tags": refs("tags", found.tags),
                "pullRequests": []}

    def _preupload(self, headers: Any, payload: dict, t: str, repo: str, rev: str) -> dict:
        found = self._writable_repo(t, repo, headers)
        head = found.head(unquote(rev))
        files = head.files if head else {}
        return {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                           "oid": git_blob_sha1(files[f["path"]]) if f["path"] in files else None}
                          for f in payload.get("files", [])], "commitOid": head.oid if head else None}

    def _commit(self, headers: Any, body: bytes, t: str, repo: str, rev: str) -> dict:
        found = self._writable_repo(t, repo, headers)
        branch = unquote(rev)
        if branch not in found.branches:
            raise _HubError(404, f"Invalid rev id: {branch}", code="RevisionNotFound")
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise _HubError(400, "commit payload must start with a header line")
        header = lines[0]["value"]
        parent = found.commits[found.branches[branch]]
        if header.get("parentCommit") and not parent.oid.startswith(header["parentCommit"]):
            raise _HubError(412, "A commit has happened since. Please refresh and try again.")
        changes: dict[str, Optional[bytes]] = {}
        for line in lines[1:]:
            key, value = line["key"], line["value"]
            if key == "file":
                if value.get("encoding") != "base64":
                    raise _HubError(400, f"unsupported encoding {value.get('encoding')!r}")
                changes[value["path"]] = base64.b64decode(value["content"])
            elif key in ("deletedFile", "deletedFolder"):
                changes[value["path"]] = None
            else:  # lfsFile: this fake never asks for LFS uploads, so the object cannot exist
                raise _HubError(422, f"unsupported commit operation {key!r} (no LFS object stored)")
        commit = self._make_commit(found, parent, header.get("summary", ""), header.get("description", ""),
                                   changes)
        found.branches[branch] = commit.oid
        prefix = "" if found.repo_type == "model" else f"{found.repo_type}s/"
        return {"success": True, "commitOid": commit.oid, "pullRequestUrl": None,
                "commitUrl": f"{self.base_url}/{prefix}{repo}/commit/{commit.oid}"}

    def _tag(self, headers: Any, payload: dict, t: str, repo: str, rev: str) -> dict:
        found = self._writable_repo(t, repo, headers)
        commit = found.head(unquote(rev))
        if commit is None:
            raise _HubError(404, f"Invalid rev id: {unquote(rev)}", code="RevisionNotFound")
        tag = payload["tag"]
        if tag in found.tags or tag in found.branches:
            raise _HubError(409, f"Reference refs/tags/{tag} already exists")
        found.tags[tag] = commit.oid
        return {}

    @property
    def base_url(self) -> str:
        return self.url if self._server is not None else "http://127.0.0.1"


class _Handler(BaseHTTPRequestHandler):
    fake: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output quiet
        pass

    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def _serve(self, method: str) -> None:
        body = self._body() if method == "POST" else b""
        delay = self.fake._stall_for(method, urlsplit(self.path).path)
        if delay and self.fake._stopping.wait(delay):
            return  # the hub is stopping: drop the request
        status, payload, headers = self.fake.handle(method, urlsplit(self.path).path, self.headers, body)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")
