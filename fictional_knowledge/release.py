"""Versioned releases: ``releases/vX.Y.Z/`` is a recipe plus fingerprints, never the data itself.

A release folder holds ``manifest.json`` (the build manifest: package version, full build
configuration, template hashes, rows and content fingerprint per config; it validates as
:class:`~fictional_knowledge.models.Manifest`, so a downloaded release works wherever a build
does), ``release.json`` (version, date, writer versions, per-config ``train`` split sizes and the
sha256 of every parquet file), the dataset card ``README.md``, ``croissant.json`` and ``eval.yaml``.
The parquet files go to a local build folder (``builds/vX.Y.Z``, not in git) and to the Hub.

Verification compares *content* fingerprints (rows as canonical JSON, see
:mod:`fictional_knowledge.fingerprint`), so a release rebuilt with another pyarrow still verifies;
file sha256s are checked only for data that claims to be the published files.
"""

from __future__ import annotations

import json
import platform
import re
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Optional

from .errors import InputError
from .models import CONFIG_NAMES, BuildConfig, Manifest

VERSION_RE = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
DEFAULT_HUB_REPO = "fictional-knowledge/fictional-knowledge"
RELEASE_INFO = "release.json"


class ReleaseError(InputError):
    """A release cannot be written, found or used; the message is one line for the user."""


def check_version(version: str) -> str:
    """``version`` if it reads vMAJOR.MINOR.PATCH (no leading zeros), else ReleaseError."""
    if not VERSION_RE.fullmatch(version):
        raise ReleaseError(f"version {version!r} must look like vMAJOR.MINOR.PATCH, e.g. v1.0.0")
    return version


def release_version(release_dir: str | Path) -> str:
    """The version of a release folder: its name, which must be a valid version."""
    return check_version(Path(release_dir).resolve().name)


def version_key(version: str) -> tuple[int, int, int]:
    """Sort key of a vMAJOR.MINOR.PATCH version."""
    major, minor, patch = (int(x) for x in check_version(version)[1:].split("."))
    return major, minor, patch


def releases_to_verify(releases_dir: str | Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Which committed releases this installed package must reproduce: the newest one, and every
    one cut with this package version. Older releases cut with another package version are
    returned apart, with the reason: they are reproduced by the package version they name."""
    from . import __version__

    folders = sorted((p for p in Path(releases_dir).glob("v*") if p.is_dir() and VERSION_RE.fullmatch(p.name)),
                     key=lambda p: version_key(p.name))
    check, skip = [], []
    for folder in folders:
        made_with = read_release(folder)[0].package_version
        if folder == folders[-1] or made_with == __version__:
            check.append(folder)
        else:
            skip.append((folder, f"cut with fictional-knowledge {made_with}; verify it with that version"))
    return check, skip


def read_release(release_dir: str | Path) -> tuple[Manifest, dict]:
    """The build manifest and ``release.json`` of a release folder (ReleaseError if either is missing)."""
    release_dir = Path(release_dir)
    try:
        manifest = Manifest.model_validate_json((release_dir / "manifest.json").read_text())
        info = json.loads((release_dir / RELEASE_INFO).read_text())
    except FileNotFoundError as err:
        raise ReleaseError(f"{release_dir} is not a release folder: no {Path(err.filename).name}") from None
    except ValueError as err:
        raise ReleaseError(f"{release_dir}: unreadable release metadata: {str(err).splitlines()[0]}") from None
    return manifest, info


def split_info(build_dir: str | Path) -> dict:
    """Per config, the ``train`` split as the Hub describes it (examples, in-memory arrow bytes,
    parquet bytes) and every parquet file with its size and sha256."""
    import pyarrow.parquet as pq

    from .croissant import sha256_file

    splits, files = {}, []
    for name in CONFIG_NAMES:
        shards = sorted((Path(build_dir) / "data" / name).glob("*.parquet"))
        rows = sum(pq.ParquetFile(p).metadata.num_rows for p in shards)
        num_bytes = sum(pq.read_table(p).nbytes for p in shards)
        size = sum(p.stat().st_size for p in shards)
        splits[name] = {"train": {"num_examples": rows, "num_bytes": num_bytes, "download_size": size}}
        files += [{"path": p.relative_to(build_dir).as_posix(), "size": p.stat().st_size,
                   "sha256": sha256_file(p)} for p in shards]
    return {"splits": splits, "files": files}


def make_release(version: str, config: BuildConfig, *, releases_dir: str | Path = "releases",
                 data_out: Optional[str | Path] = None, hub_repo: str = DEFAULT_HUB_REPO,
                 workers: Optional[int] = None, progress: bool = False,
                 released: Optional[str] = None, overwrite: bool = False) -> tuple[Path, Path]:
    """Build ``config`` into ``data_out`` (default ``builds/<version>``) and write the release
    folder ``releases_dir/<version>``. Refuses an existing release folder, and a ``data_out`` that
    holds anything but a build of ``config`` unless ``overwrite`` (and it is a folder of ours).
    Returns both paths."""
    import pyarrow

    from .build import build
    from .croissant import croissant_metadata, validate_croissant, write_croissant
    from .release_card import citation_text, description_text, write_release_card

    from .atomic import atomic_folder, check_out_path, ours
    from .io import read_manifest

    check_version(version)
    target = Path(releases_dir) / version
    if target.exists():
        raise ReleaseError(f"{target} already exists: a release is never rewritten, cut a new version")
    check_out_path(target, flag="--releases-dir")
    data_out = Path(data_out) if data_out is not None else Path("builds") / version
    check_out_path(data_out, flag="--data-out")
    if data_out.is_dir() and any(data_out.iterdir()):
        if not ours(data_out):
            raise ReleaseError(f"--data-out {data_out} holds files fkgen did not write; choose another --data-out")
        try:
            same = read_manifest(data_out).config == config
        except (OSError, ValueError):
            same = False
        if not same and not overwrite:
            raise ReleaseError(f"--data-out {data_out} holds another build; pass --overwrite to replace it, "
                               "or choose another --data-out")
    manifest = build(config, data_out, overwrite=True, workers=workers, progress=progress)
    released = released or date.today().isoformat()
    info = {"version": version, "released": released, "hub_repo": hub_repo,
            "writer": {"pyarrow": pyarrow.__version__, "python": platform.python_version()},
            **split_info(data_out)}
    with atomic_folder(target, exist_ok=False, flag="--releases-dir") as tmp:
        (tmp / "manifest.json").write_text(json.dumps(manifest.model_dump(mode="json"), indent=2) + "\n")
        (tmp / RELEASE_INFO).write_text(json.dumps(info, indent=2) + "\n")
        write_release_card(tmp / "README.md", data_out, manifest, info)
        meta = croissant_metadata(data_out, name=f"fictional-knowledge {version}", version=version,
                                  description=description_text(manifest, version),
                                  cite_as=citation_text(version, released),
                                  url=f"https://huggingface.co/datasets/{hub_repo}", date_published=released)
        write_croissant(tmp / "croissant.json", meta)
        validate_croissant(tmp / "croissant.json")  # MissingExtra without mlcroissant: never skipped silently
        _write_eval_yaml(tmp, version)
    return target, data_out


def _write_eval_yaml(folder: Path, version: str) -> None:
    """The Hub benchmark definition (``eval.yaml``), written by :mod:`fictional_knowledge.hub_eval`."""
    from .hub_eval import write_eval_yaml

    write_eval_yaml(folder, version=version)


# ----------------------------------------------------------------------------------------------
# verification


@dataclass(frozen=True)
class Check:
    """One compared quantity: ``ok`` is False for a mismatch; ``informative`` checks never fail."""

    subject: str
    item: str
    expected: str
    actual: str
    informative: bool = False

    @property
    def ok(self) -> bool:
        return self.informative or self.expected == self.actual


@dataclass(frozen=True)
class VerifyReport:
    target: str
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def mismatches(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


def _content_checks(expected: Manifest, actual: dict[str, tuple[int, str]]) -> list[Check]:
    """Rows and fingerprint of every config: ``expected`` from a manifest, ``actual`` recomputed."""
    checks = []
    order = {name: i for i, name in enumerate(CONFIG_NAMES)}
    for name in sorted(set(expected.configs) | set(actual), key=lambda n: (order.get(n, len(order)), n)):
        want = expected.configs.get(name)
        rows, fp = actual.get(name, (0, "missing"))
        checks.append(Check(name, "rows", str(want.rows) if want else "missing", str(rows)))
        checks.append(Check(name, "fingerprint", want.fingerprint if want else "missing", fp))
    return checks


def verify_build(build_dir: str | Path) -> VerifyReport:
    """Recompute every config's rows and fingerprint from the parquet rows of ``build_dir`` and
    compare them with its ``manifest.json``; when a ``release.json`` sits beside it (a published
    release, e.g. downloaded from the Hub), also compare each parquet file's sha256."""
    from .croissant import sha256_file
    from .fingerprint import fingerprint_build
    from .io import read_manifest

    build_dir = Path(build_dir)
    try:
        manifest = read_manifest(build_dir)
    except (FileNotFoundError, ValueError) as err:
        raise ReleaseError(str(err).splitlines()[0]) from None
    found = {name: (acc.rows, acc.fingerprint) for name, acc in fingerprint_build(build_dir).items()}
    checks = _content_checks(manifest, found)
    if manifest.shard:
        checks.append(Check("build", "shard", "whole build", f"shard {manifest.shard}", informative=True))
    if (build_dir / RELEASE_INFO).is_file():
        listed = {f["path"]: f["sha256"] for f in json.loads((build_dir / RELEASE_INFO).read_text())["files"]}
        present = {p.relative_to(build_dir).as_posix() for p in build_dir.glob("data/*/*.parquet")}
        for path in sorted(set(listed) | present):
            actual = sha256_file(build_dir / path) if path in present else "missing"
            checks.append(Check(path, "sha256", listed.get(path, "not in release.json"), actual))
    return VerifyReport(str(build_dir), tuple(checks))


def verify_release(release_dir: str | Path, *, workers: Optional[int] = None, progress: bool = False,
                   keep: Optional[str | Path] = None) -> VerifyReport:
    """Rebuild a release from its manifest's configuration (in a temporary folder, or ``keep``)
    and compare every config's rows and fingerprint. Differences of package version, template
    hashes and parquet bytes are reported but do not fail: the content is what is versioned."""
    from . import __version__
    from .build import build
    from .croissant import sha256_file

    release_dir = Path(release_dir)
    manifest, info = read_release(release_dir)
    with tempfile.TemporaryDirectory(prefix="fk-verify-") as tmp:
        out = Path(keep) if keep is not None else Path(tmp) / "build"
        rebuilt = build(manifest.config, out, overwrite=keep is not None, workers=workers, progress=progress)
        found = {name: (s.rows, s.fingerprint) for name, s in rebuilt.configs.items()}
        checks = _content_checks(manifest, found)
        same_bytes = all(sha256_file(out / f["path"]) == f["sha256"] if (out / f["path"]).is_file() else False
                         for f in info.get("files", []))
    checks.append(Check("package", "version", manifest.package_version, __version__, informative=True))
    for name in sorted(set(manifest.template_hashes) | set(rebuilt.template_hashes)):
        old, new = manifest.template_hashes.get(name, "missing"), rebuilt.template_hashes.get(name, "missing")
        if old != new:
            checks.append(Check(f"templates/{name}", "sha256", old[:16], new[:16], informative=True))
    checks.append(Check("parquet", "bytes", "as released", "identical" if same_bytes else "differ (content decides)",
                        informative=True))
    return VerifyReport(str(release_dir), tuple(checks))


def ensure_data(release_dir: str | Path, data: Optional[str | Path] = None, *, builds_dir: str | Path = "builds",
                workers: Optional[int] = None, progress: bool = False) -> Path:
    """The build folder holding exactly a release's published files: ``data`` if given, else
    ``builds_dir/<version>`` (built from the manifest when missing). Raises ReleaseError unless
    its content fingerprints match the release and its parquet files are byte-identical to the
    ones listed in ``release.json`` (the sha256s in ``croissant.json`` must hold on the Hub)."""
    from .build import build
    from .croissant import sha256_file
    from .io import read_manifest

    release_dir = Path(release_dir)
    version = release_version(release_dir)
    manifest, info = read_release(release_dir)
    folder = Path(data) if data is not None else Path(builds_dir) / version
    if data is not None and not folder.is_dir():
        raise ReleaseError(f"--data {folder} is not a folder")
    if not folder.exists():
        build(manifest.config, folder, workers=workers, progress=progress)
    report = verify_build(folder)
    if not report.ok:
        raise ReleaseError(f"{folder} fails its own manifest ({report.mismatches[0].subject}): rebuild it")
    own = read_manifest(folder)
    bad = [c for c in _content_checks(manifest, {n: (s.rows, s.fingerprint) for n, s in own.configs.items()})
           if not c.ok]
    if bad:
        raise ReleaseError(f"{folder} is not the data of {version}: config {bad[0].subject} differs "
                           f"(see `fkgen verify {release_dir}`)")
    listed = {f["path"]: f["sha256"] for f in info.get("files", [])}
    present = {p.relative_to(folder).as_posix() for p in folder.glob("data/*/*.parquet")}
    if present != set(listed) or any(sha256_file(folder / p) != listed[p] for p in present):
        raise ReleaseError(
            f"{folder} has {version}'s content but not its parquet bytes (released with pyarrow "
            f"{info.get('writer', {}).get('pyarrow', '?')}); publish the original build with --data")
    return folder
