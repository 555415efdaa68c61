"""Versioned releases: ``releases/vX.Y.Z/`` is a recipe plus fingerprints, never the data itself.

A release folder holds ``manifest.json`` (the build manifest: package version, full build
configuration, template hashes, rows and content fingerprint per config; it validates as
:class:`~fictional_knowledge.models.Manifest`, so a downloaded release works wherever a build
does), ``release.json`` (version, date, writer versions, per-config ``train`` split sizes and the
sha256 of every parquet file), the dataset card ``README.md``, ``croissant.json`` and ``eval.yaml``.
The parquet files go to a local build folder (``builds/vX.Y.Z``, not in git) and to the Hub.

Verification compares *content* fingerprints (rows as canonical JSON, see
:mod:`fictional_knowledge.dataset.fingerprint`), so a release rebuilt with another pyarrow still verifies;
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

from fictional_knowledge.errors import InputError
from fictional_knowledge.models import CONFIG_NAMES, BuildConfig, Manifest

VERSION_RE = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
DEFAULT_HUB_REPO = "fictional-knowledge/fictional-knowledge"
RELEASE_INFO = "release.json"
#: The files of a release folder besides release.json, whose sha256s release.json records.
METADATA_FILES = ("README.md", "croissant.json", "eval.yaml", "manifest.json")


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
    from fictional_knowledge import __version__

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

    from fictional_knowledge.release.croissant import sha256_file

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

    from fictional_knowledge.dataset.builder import build
    from fictional_knowledge.release.croissant import croissant_metadata, sha256_file, validate_croissant, write_croissant
    from fictional_knowledge.release.card import citation_text, description_text, write_release_card

    from fictional_knowledge.atomic import atomic_folder, check_out_path, ours
    from fictional_knowledge.dataset.io import read_manifest

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
        # last: the sha256 of every other file of the release folder, so that verify catches an
        # edit of any of them (release.json itself is cross-checked against them)
        info["metadata"] = {name: sha256_file(tmp / name) for name in METADATA_FILES}
        (tmp / RELEASE_INFO).write_text(json.dumps(info, indent=2) + "\n")
    return target, data_out


def _write_eval_yaml(folder: Path, version: str) -> None:
    """The Hub benchmark definition (``eval.yaml``), written by :mod:`fictional_knowledge.evaluate.hub_eval`."""
    from fictional_knowledge.evaluate.hub_eval import write_eval_yaml

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


def _fingerprints(build_dir: Path) -> tuple[dict[str, tuple[int, str]], list[Check]]:
    """Rows and fingerprint of every config recomputed from the parquet rows, and a failed
    ``readable`` check for each parquet file that cannot be read (instead of a traceback)."""
    import pyarrow as pa

    from fictional_knowledge.dataset.fingerprint import Accumulator
    from fictional_knowledge.dataset.io import config_files

    found, bad = {}, []
    for name in CONFIG_NAMES:
        acc = Accumulator()
        for path in config_files(build_dir, name):
            rel = path.relative_to(build_dir).as_posix()
            try:
                acc.update(iter_rows_of(path))
            except (OSError, pa.ArrowException, ValueError) as err:
                bad.append(Check(rel, "readable", "readable parquet", _short(f"{type(err).__name__}: {err}")))
        found[name] = (acc.rows, acc.fingerprint)
    return found, bad


def iter_rows_of(path: Path):
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
        yield from batch.to_pylist()


def _short(text: str, limit: int = 120) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _load(path: Path, kind: str):
    """The parsed content of a metadata file, or a one-line reason why it cannot be read."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
        if kind == "json":
            return json.loads(text), None
        if kind == "card":
            if not text.startswith("---\n") or text.count("---\n") < 2:
                return None, "no YAML front matter"
            return yaml.safe_load(text.split("---\n", 2)[1]), None
        return yaml.safe_load(text), None
    except FileNotFoundError:
        return None, "missing"
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    except (ValueError, yaml.YAMLError) as err:
        return None, _short(f"unparsable: {str(err).splitlines()[0]}")


def metadata_checks(folder: str | Path, manifest: Manifest, version: Optional[str] = None) -> list[Check]:
    """Every file of a release besides the data: present, parseable, and consistent.

    - ``release.json``: lists ``files`` (path and sha256 per parquet file, every config covered)
      and ``splits`` rows equal to the manifest's; when it records ``metadata`` (the sha256 of
      README.md, croissant.json, eval.yaml, manifest.json; releases cut since this check), every
      such file must have exactly that sha256, so any edit fails.
    - ``croissant.json``: its FileObjects are exactly release.json's files, sha256 for sha256.
    - ``README.md`` (the card): its front matter lists every config, with data files under
      ``data/<config>/`` and split sizes (when given) equal to the manifest's rows.
    - ``eval.yaml``: parses and declares tasks on configs of the release.
    """
    from fictional_knowledge.release.croissant import sha256_file

    folder = Path(folder)
    checks: list[Check] = []

    def fail(subject: str, item: str, expected: str, actual: str) -> None:
        checks.append(Check(subject, item, expected, actual))

    def ok(subject: str, item: str) -> None:
        checks.append(Check(subject, item, "ok", "ok"))

    info, why = _load(folder / RELEASE_INFO, "json")
    if why:
        fail(RELEASE_INFO, "readable", "present and valid JSON", why)
        info = {}
    files = info.get("files") if isinstance(info, dict) else None
    listed: dict[str, str] = {}
    if info and (not isinstance(files, list) or not files):
        fail(RELEASE_INFO, "files", "a list of the parquet files with sha256", "missing or empty")
    elif info:
        try:
            listed = {f["path"]: f["sha256"] for f in files}
        except (TypeError, KeyError):
            fail(RELEASE_INFO, "files", "path and sha256 for every file", "an entry without them")
        missing = [n for n in CONFIG_NAMES if not any(p.startswith(f"data/{n}/") for p in listed)]
        if missing:
            fail(RELEASE_INFO, "files", "files of every config", "none for " + ", ".join(missing))
        elif listed:
            ok(RELEASE_INFO, "files")
    if info:
        if version is not None and info.get("version") != version:
            fail(RELEASE_INFO, "version", version, str(info.get("version")))
        splits = info.get("splits") if isinstance(info.get("splits"), dict) else {}
        rows = {n: (splits.get(n) or {}).get("train", {}).get("num_examples") for n in CONFIG_NAMES}
        want = {n: s.rows for n, s in manifest.configs.items()}
        bad = [n for n in CONFIG_NAMES if rows[n] != want.get(n)]
        if bad:
            fail(RELEASE_INFO, "splits", f"{bad[0]}: {want.get(bad[0])} rows", f"{rows[bad[0]]}")
        else:
            ok(RELEASE_INFO, "splits")
    recorded = info.get("metadata") if isinstance(info, dict) else None
    for name in METADATA_FILES:
        path = folder / name
        if not path.is_file():
            fail(name, "present", "present", "missing")
        elif isinstance(recorded, dict):
            fail(name, "sha256", recorded.get(name, "not in release.json"), sha256_file(path)) \
                if recorded.get(name) != sha256_file(path) else \
                checks.append(Check(name, "sha256", recorded[name], sha256_file(path)))
    if info and not isinstance(recorded, dict):
        checks.append(Check(RELEASE_INFO, "metadata", "sha256 of every file",
                            "not recorded (older release): structure checked", informative=True))

    cr, why = _load(folder / "croissant.json", "json")
    if why and why != "missing":
        fail("croissant.json", "readable", "valid JSON", why)
    elif cr is not None:
        dist = cr.get("distribution") if isinstance(cr, dict) else None
        objects = {d.get("contentUrl"): d.get("sha256") for d in dist or []
                   if isinstance(d, dict) and d.get("@type") == "cr:FileObject"}
        # when croissant.json is the file release.json recorded, a difference is release.json's
        pinned = isinstance(recorded, dict) and recorded.get("croissant.json") == sha256_file(folder / "croissant.json")
        subject = RELEASE_INFO if pinned else "croissant.json"
        if objects != listed:
            diff = sorted(set(objects.items()) ^ set(listed.items()))
            fail(subject, "files", "the files and sha256s of croissant.json" if pinned else "the files of release.json",
                 f"{len(diff)} differ, e.g. {diff[0][0]}" if diff else "differ")
        else:
            ok(subject, "files")

    card, why = _load(folder / "README.md", "card")
    if why and why != "missing":
        fail("README.md", "front matter", "YAML front matter", why)
    elif card is not None:
        configs = {c.get("config_name"): c for c in (card or {}).get("configs") or [] if isinstance(c, dict)} \
            if isinstance(card, dict) else {}
        paths_ok = all(any(str(d.get("path", "")).startswith(f"data/{n}/") for d in configs[n].get("data_files") or []
                           if isinstance(d, dict)) for n in CONFIG_NAMES if n in configs)
        sizes = {}
        for entry in (card.get("dataset_info") or []) if isinstance(card, dict) else []:
            if isinstance(entry, dict):
                for split in entry.get("splits") or []:
                    sizes[entry.get("config_name")] = split.get("num_examples")
        bad_sizes = [n for n, rows in sizes.items() if n in manifest.configs and rows != manifest.configs[n].rows]
        if set(configs) != set(CONFIG_NAMES) or not paths_ok:
            fail("README.md", "configs", ", ".join(CONFIG_NAMES), ", ".join(str(c) for c in configs) or "none")
        elif bad_sizes:
            fail("README.md", "splits", f"{bad_sizes[0]}: {manifest.configs[bad_sizes[0]].rows} rows",
                 str(sizes[bad_sizes[0]]))
        else:
            ok("README.md", "configs")

    ev, why = _load(folder / "eval.yaml", "yaml")
    if why and why != "missing":
        fail("eval.yaml", "readable", "valid YAML", why)
    elif why is None:
        tasks = ev.get("tasks") if isinstance(ev, dict) else None
        configs = {t.get("config") for t in tasks or [] if isinstance(t, dict)}
        if not tasks or not configs <= set(CONFIG_NAMES):
            fail("eval.yaml", "tasks", "tasks on configs of the release",
                 "none" if not tasks else "unknown config(s) " + ", ".join(sorted(map(str, configs - set(CONFIG_NAMES)))))
        else:
            ok("eval.yaml", "tasks")
    return checks


def verify_build(build_dir: str | Path) -> VerifyReport:
    """Recompute every config's rows and fingerprint from the parquet rows of ``build_dir`` and
    compare them with its ``manifest.json``; when a ``release.json`` sits beside it (a published
    release, e.g. downloaded from the Hub), also compare each parquet file's sha256 and check
    every metadata file of the release (:func:`metadata_checks`)."""
    from fictional_knowledge.release.croissant import sha256_file
    from fictional_knowledge.dataset.io import read_manifest

    build_dir = Path(build_dir)
    try:
        manifest = read_manifest(build_dir)
    except UnicodeDecodeError:
        raise ReleaseError(f"{build_dir / 'manifest.json'} is not UTF-8 text") from None
    except (FileNotFoundError, ValueError) as err:
        raise ReleaseError(f"{build_dir / 'manifest.json'}: {str(err).splitlines()[0]}") from None
    found, unreadable = _fingerprints(build_dir)
    checks = unreadable + _content_checks(manifest, found)
    if manifest.shard:
        checks.append(Check("build", "shard", "whole build", f"shard {manifest.shard}", informative=True))
    if (build_dir / RELEASE_INFO).is_file():
        meta = metadata_checks(build_dir, manifest)
        # a build folder carries its own README.md (the build card) and no croissant/eval.yaml:
        # only a folder holding a release's files is held to the release's metadata
        if (build_dir / "croissant.json").is_file():
            checks += meta
        else:
            checks += [c for c in meta if c.subject == RELEASE_INFO]
        info, _ = _load(build_dir / RELEASE_INFO, "json")
        listed = {f["path"]: f["sha256"] for f in (info or {}).get("files") or []
                  if isinstance(f, dict) and "path" in f and "sha256" in f}
        present = {p.relative_to(build_dir).as_posix() for p in build_dir.glob("data/*/*.parquet")}
        for path in sorted(set(listed) | present):
            actual = sha256_file(build_dir / path) if path in present else "missing"
            checks.append(Check(path, "sha256", listed.get(path, "not in release.json"), actual))
    return VerifyReport(str(build_dir), tuple(checks))


def verify_release(release_dir: str | Path, *, workers: Optional[int] = None, progress: bool = False,
                   keep: Optional[str | Path] = None, allow_template_change: bool = False) -> VerifyReport:
    """Check every file of a release folder (:func:`metadata_checks`), then rebuild it from its
    manifest's configuration (in a temporary folder, or ``keep``) and compare every config's rows
    and fingerprint, and each rebuilt parquet file's sha256 with ``release.json``.

    A template file whose sha256 differs from the manifest's fails unless
    ``allow_template_change`` (the content fingerprints still decide then). Parquet bytes that
    differ fail when this pyarrow is the one the release was written with, and are reported only
    otherwise (another writer may encode the same rows differently). A differing package version
    is reported."""
    import pyarrow

    from fictional_knowledge import __version__
    from fictional_knowledge.dataset.builder import build
    from fictional_knowledge.release.croissant import sha256_file

    release_dir = Path(release_dir)
    manifest, info = read_release(release_dir)
    checks = metadata_checks(release_dir, manifest, release_dir.resolve().name)
    files = [f for f in info.get("files") or [] if isinstance(f, dict) and "path" in f and "sha256" in f]
    same_writer = (info.get("writer") or {}).get("pyarrow") == pyarrow.__version__
    with tempfile.TemporaryDirectory(prefix="fk-verify-") as tmp:
        out = Path(keep) if keep is not None else Path(tmp) / "build"
        rebuilt = build(manifest.config, out, overwrite=keep is not None, workers=workers, progress=progress)
        found = {name: (s.rows, s.fingerprint) for name, s in rebuilt.configs.items()}
        checks += _content_checks(manifest, found)
        actual = {f["path"]: sha256_file(out / f["path"]) if (out / f["path"]).is_file() else "missing" for f in files}
        extra = sorted(p.relative_to(out).as_posix() for p in out.glob("data/*/*.parquet")
                       if p.relative_to(out).as_posix() not in actual)
    if same_writer:
        checks += [Check(f["path"], "sha256", f["sha256"], actual[f["path"]]) for f in files]
        checks += [Check(p, "sha256", "not in release.json", "rebuilt") for p in extra]
    else:
        same = all(actual[f["path"]] == f["sha256"] for f in files) and not extra
        checks.append(Check("parquet", "bytes", "as released",
                            "identical" if same else f"differ: pyarrow {pyarrow.__version__}, released with "
                            f"{(info.get('writer') or {}).get('pyarrow', '?')} (content decides)", informative=True))
    checks.append(Check("package", "version", manifest.package_version, __version__, informative=True))
    for name in sorted(set(manifest.template_hashes) | set(rebuilt.template_hashes)):
        old, new = manifest.template_hashes.get(name, "missing"), rebuilt.template_hashes.get(name, "missing")
        if old != new:
            checks.append(Check(f"templates/{name}", "sha256", old[:16], new[:16], informative=allow_template_change))
    return VerifyReport(str(release_dir), tuple(checks))


def ensure_data(release_dir: str | Path, data: Optional[str | Path] = None, *, builds_dir: str | Path = "builds",
                workers: Optional[int] = None, progress: bool = False) -> Path:
    """The build folder holding exactly a release's published files: ``data`` if given, else
    ``builds_dir/<version>`` (built from the manifest when missing). Raises ReleaseError unless
    its content fingerprints match the release and its parquet files are byte-identical to the
    ones listed in ``release.json`` (the sha256s in ``croissant.json`` must hold on the Hub)."""
    from fictional_knowledge.dataset.builder import build
    from fictional_knowledge.release.croissant import sha256_file
    from fictional_knowledge.dataset.io import read_manifest

    release_dir = Path(release_dir)
    version = release_version(release_dir)
    manifest, info = read_release(release_dir)
    bad = [c for c in metadata_checks(release_dir, manifest, version) if not c.ok]
    if bad:
        raise ReleaseError(f"{release_dir / bad[0].subject}: {bad[0].item} is {bad[0].actual!r}, expected "
                           f"{bad[0].expected!r} (see `fkgen verify {release_dir}`)")
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
