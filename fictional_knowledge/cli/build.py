"""``fkgen build``, ``validate``, ``show`` and ``schemas``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer

from fictional_knowledge.cli.options import config_options
from fictional_knowledge.models import BuildConfig

DEFAULT_OUT = "builds/seed-{seed}"


def fail(message: str, code: int = 2) -> NoReturn:
    """Stop the command: ``fkgen`` prints ``error: MESSAGE`` and exits ``code`` (2 bad input, 1 failure)."""
    from fictional_knowledge.errors import InputError, RuntimeFailure

    raise (InputError if code == 2 else RuntimeFailure)(message)


# Options of every command that builds (build, release) besides the BuildConfig fields, which
# cli/options.py generates from models.BuildConfig.
Workers = Annotated[Optional[int], typer.Option(help="Worker processes [default: all cores].")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar (results still go to stdout).")]


@config_options(BuildConfig)
def build_cmd(
    config: BuildConfig,
    out: Optional[Path] = typer.Option(None, help=f"Output folder [default: {DEFAULT_OUT}]."),
    shard: Optional[str] = typer.Option(None, help="Build one shard i/n of the whole build."),
    overwrite: bool = typer.Option(False, help="Replace an existing build (only a folder that fkgen wrote)."),
    workers: Workers = None,
    quiet: Quiet = False,
) -> None:
    """Generate a build: entities, facts, passages, probes, statements, QA and the FK-schema config."""
    from fictional_knowledge.dataset.builder import build, check_output_folder, parse_shard

    if workers is not None and workers <= 0:
        fail(f"--workers must be positive, got {workers}")
    out = Path(DEFAULT_OUT.format(seed=config.seed)) if out is None else out
    parse_shard(shard)
    check_output_folder(out, overwrite)  # before any work
    start = time.perf_counter()
    manifest = build(config, out, shard=shard, overwrite=overwrite, workers=workers, progress=not quiet)
    seconds = time.perf_counter() - start
    typer.echo(f"built {out} in {seconds:.1f}s" + (f" (shard {manifest.shard})" if manifest.shard else ""))
    for name, summary in manifest.configs.items():
        typer.echo(f"  {name:<20} {summary.rows:>9,} rows  {summary.fingerprint[:16]}")


def validate_cmd(build_dir: Path = typer.Argument(..., help="A build folder, or one shard of a build."),
                 quiet: Quiet = False) -> None:
    """Check a build (or one shard of it) against schemas/ and every named check of the data contract."""
    from fictional_knowledge.dataset.validate import validate_build

    if not build_dir.is_dir():
        fail(f"{build_dir} is not a folder")
    report = validate_build(build_dir, progress=not quiet)
    what = f"{build_dir} (shard {report.shard} of a build)" if report.shard else str(build_dir)
    if report.ok:
        typer.echo(f"OK: {what} passes every check")
        if report.shard:
            typer.echo(f"note: joins were checked within the shard; {report.outside:,} reference(s) "
                       "to rows held by other shards were not checked")
        return
    lines = report.lines()
    for line in lines:
        typer.echo(line)
    fail(f"{what}: {len(report.counts)} check(s) failed (see the report above)", code=1)


def show_cmd(build_dir: Path = typer.Argument(..., help="A build folder."),
             entity: str = typer.Argument(..., help="Entity id or exact name."),
             all_paraphrases: bool = typer.Option(False, "--all-paraphrases", help="Print every paraphrase, not just the first.")) -> None:
    """Print one entity's facts, passage, paraphrases and probes."""
    from fictional_knowledge.dataset.show import find_entity, render_entity

    if not build_dir.is_dir():
        fail(f"{build_dir} is not a folder")
    try:
        found = find_entity(build_dir, entity)
        text = render_entity(build_dir, found, all_paraphrases=all_paraphrases)
    except LookupError as exc:  # not found, or an unreadable file (show.ShowError)
        fail(str(exc))
    typer.echo(text)


def schemas_cmd(out: Path = typer.Option(Path("schemas"), help="Folder to write the JSON Schemas to.")) -> None:
    """Regenerate the JSON Schemas from the Pydantic models."""
    from fictional_knowledge.dataset.schemas import write

    for path in write(out):
        typer.echo(str(path))


def register(app: typer.Typer) -> None:
    app.command("build")(build_cmd)
    app.command("validate")(validate_cmd)
    app.command("show")(show_cmd)
    app.command("schemas")(schemas_cmd)
