"""``fkgen release``, ``fkgen verify`` and ``fkgen publish``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from fictional_knowledge.cli.build import Quiet, Workers, fail
from fictional_knowledge.cli.options import config_options
from fictional_knowledge.models import BuildConfig


@config_options(BuildConfig)
def release_cmd(
    config: BuildConfig,
    version: str = typer.Argument(..., help="Release version vMAJOR.MINOR.PATCH, e.g. v1.0.0."),
    releases_dir: Path = typer.Option(Path("releases"), help="Folder that holds the release folders."),
    data_out: Optional[Path] = typer.Option(None, help="Where the data is built [default: builds/VERSION]."),
    hub_repo: Optional[str] = typer.Option(None, help="ORG/NAME of the Hub dataset repo the card points to."),
    workers: Workers = None,
    overwrite: bool = typer.Option(False, help="Replace another build of ours at --data-out."),
    quiet: Quiet = False,
) -> None:
    """Build the data and write releases/VERSION: manifest, release.json, dataset card, croissant.json, eval.yaml."""
    from fictional_knowledge.release.core import DEFAULT_HUB_REPO, check_version, make_release

    check_version(version)
    if hub_repo is not None and (hub_repo.count("/") != 1 or not all(hub_repo.split("/"))):
        fail(f"--hub-repo {hub_repo!r} must look like ORG/NAME")
    if workers is not None and workers <= 0:
        fail(f"--workers must be positive, got {workers}")
    target, data = make_release(version, config, releases_dir=releases_dir, data_out=data_out,
                                hub_repo=hub_repo or DEFAULT_HUB_REPO, workers=workers, progress=not quiet,
                                overwrite=overwrite)
    typer.echo(f"wrote {target} (data in {data}, not in git)")
    for path in sorted(target.iterdir()):
        typer.echo(f"  {path.name:<16} {path.stat().st_size:>9,} B")


def format_report(report) -> str:
    """The ``fkgen verify`` table: one line per compared quantity, then a verdict."""
    header = ("config/file", "check", "expected", "found", "")
    def short(check, value: str) -> str:  # hashes are shown by their first 16 hex digits
        return value[:16] if check.item in ("fingerprint", "sha256") else value

    rows = [(c.subject, c.item, short(c, c.expected), short(c, c.actual),
             "info" if c.informative else ("ok" if c.ok else "MISMATCH")) for c in report.checks]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    lines = ["  ".join(v.ljust(w) for v, w in zip(header, widths)) + "  " + header[4]]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) + "  " + r[4] for r in rows]
    if report.ok:
        lines.append(f"OK: {report.target} matches")
    return "\n".join(lines)


def mismatch_line(report) -> str:
    """The one-line verdict of a failed verification: how many mismatches, and which."""
    bad = report.mismatches
    return (f"{len(bad)} mismatch(es) in {report.target}: "
            + ", ".join(sorted({f'{c.subject} {c.item}' for c in bad})))


def verify_cmd(
    path: Path = typer.Argument(..., help="A release folder (releases/vX.Y.Z) or a build/downloaded folder."),
    workers: Optional[int] = typer.Option(None, help="Worker processes for a rebuild [default: all cores]."),
    allow_template_change: bool = typer.Option(
        False, "--allow-template-change",
        help="Accept template files whose sha256 differs from the release's (the content fingerprints still decide)."),
    quiet: Quiet = False,
) -> None:
    """Check data against its recipe: every file of a release (card, croissant.json, eval.yaml,
    release.json and its sha256 list), the template hashes, and a rebuild's fingerprints and
    parquet sha256s; or recompute a build's fingerprints (and sha256s when it holds a release.json)."""
    from fictional_knowledge.release.core import verify_build, verify_release

    if not path.is_dir():
        fail(f"{path} is not a folder")
    if workers is not None and workers <= 0:
        fail(f"--workers must be positive, got {workers}")
    if (path / "data").is_dir():
        report = verify_build(path)
    elif (path / "manifest.json").is_file():
        report = verify_release(path, workers=workers, progress=not quiet,
                                allow_template_change=allow_template_change)
    else:
        fail(f"{path} is neither a release folder nor a build folder (no manifest.json)")
    typer.echo(format_report(report))
    if not report.ok:
        fail(mismatch_line(report), code=1)  # the table above shows each MISMATCH row


def publish_cmd(
    release_dir: Path = typer.Argument(..., help="The release folder, releases/vX.Y.Z."),
    repo: str = typer.Option(..., "--repo", help="Hub dataset repo ORG/NAME (created if missing)."),
    private: bool = typer.Option(False, "--private", help="Create the repo private (if it does not exist yet)."),
    token: Optional[str] = typer.Option(None, "--token", help="Hub token [default: HF_TOKEN or `hf auth login`]."),
    data: Optional[Path] = typer.Option(None, "--data",
                                        help="Build folder with the data [default: builds/VERSION, built if missing]."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the files and the tag; contact nothing."),
    endpoint: Optional[str] = typer.Option(None, "--endpoint",
                                           help="Hub URL [default: HF_ENDPOINT or https://huggingface.co]."),
    builds_dir: Path = typer.Option(Path("builds"), help="Where the default build folder lives."),
    timeout: Optional[float] = typer.Option(None, "--timeout",
                                            help="Seconds to wait for each Hub request [default: FKGEN_HUB_TIMEOUT or 60]."),
    attempts: Optional[int] = typer.Option(None, "--attempts",
                                           help="Tries per Hub step, with backoff [default: FKGEN_HUB_ATTEMPTS or 3]."),
    quiet: Quiet = False,
) -> None:
    """Upload a release's data and card to the Hub in one commit, then tag that commit vX.Y.Z."""
    from fictional_knowledge.release.publish import collect_files, format_plan, publish_files
    from fictional_knowledge.release.core import ensure_data, release_version

    if repo.count("/") != 1 or not all(repo.split("/")):
        fail(f"--repo {repo!r} must look like ORG/NAME")
    from fictional_knowledge.release.publish import PublishError, hub_settings

    try:
        hub_settings(timeout, attempts)  # a bad value is refused before any work
    except PublishError as exc:
        fail(str(exc))  # bad input: exit 2
    version = release_version(release_dir)  # ReleaseError (bad input, exit 2); PublishError exits 1
    folder = ensure_data(release_dir, data, builds_dir=builds_dir, progress=not quiet)
    files = collect_files(release_dir, folder)
    if dry_run:
        typer.echo(f"dry run: nothing is sent. Would upload from {release_dir} and {folder}:")
        typer.echo(format_plan(files, repo, version))
        return
    result = publish_files(files, repo, version, token=token, endpoint=endpoint, private=private,
                           message=f"fictional-knowledge {version}", timeout=timeout, attempts=attempts)
    typer.echo(f"published {len(result.files)} files to datasets/{repo} in commit {result.commit_oid[:12]}, "
               f"tagged {result.tag}")
    typer.echo(f'load it with load_dataset("{repo}", "probes", revision="{result.tag}")')


def register(app: typer.Typer) -> None:
    app.command("release")(release_cmd)
    app.command("verify")(verify_cmd)
    app.command("publish")(publish_cmd)
