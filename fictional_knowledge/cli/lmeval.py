"""``fkgen lm-eval-tasks``: find the shipped lm-evaluation-harness tasks, or write a copy of
them that reads a local build."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def lm_eval_tasks(
    data: Optional[str] = typer.Option(
        None, "--data", help="A build folder, or a Hub dataset repo id (org/name), to read probes and QA from."
    ),
    out: Optional[Path] = typer.Option(
        None, "--out", help="Folder to write the task YAMLs to (default with --data: ./fk-lm-eval-tasks)."
    ),
    revision: Optional[str] = typer.Option(
        None, "--revision", help="Hub tag, branch or commit to pin (only with a Hub repo id)."
    ),
) -> None:
    """Print the folder of the lm-eval tasks for `lm-eval run --include_path`.

    Without options it prints the shipped folder (which reads the Hub dataset). With --data it
    writes a copy whose tasks read that build or repo, and prints the copy's folder.
    """
    from fictional_knowledge.cli.build import fail
    from fictional_knowledge.lm_eval_tasks import ALL_NAMES, TASKS_DIR, write_tasks

    if data is None and out is None:
        if revision is not None:
            raise typer.BadParameter("--revision needs --data ORG/NAME", param_hint="--revision")
        typer.echo(str(TASKS_DIR))
        return
    data_arg = data
    if revision is not None and (data_arg is None or Path(data_arg).expanduser().is_dir()):
        raise typer.BadParameter("--revision applies to a Hub repo id, not a build folder", param_hint="--revision")
    from fictional_knowledge.atomic import atomic_folder, check_out_path, check_replace

    target = out if out is not None else Path("fk-lm-eval-tasks")
    check_out_path(target)
    if target.expanduser().resolve() == TASKS_DIR:
        fail("refusing to overwrite the shipped task folder; choose another --out")
    names = [p.name for p in TASKS_DIR.iterdir() if p.suffix in (".yaml", ".py") and p.name != "__init__.py"]
    check_replace(target, overwrite=True, names=names)
    with atomic_folder(target, overwrite=True, names=names) as tmp:
        try:
            write_tasks(tmp, data_arg, revision=revision)
        except (FileNotFoundError, ValueError) as err:
            raise typer.BadParameter(str(err), param_hint="--data" if data_arg else "--out") from err
    written = target.expanduser().resolve()
    typer.echo(str(written))
    typer.echo(
        f"run: lm-eval run --model hf --model_args pretrained=MODEL --include_path {written} "
        f"--tasks {ALL_NAMES[0]}",
        err=True,
    )


def register(app: typer.Typer) -> None:
    app.command("lm-eval-tasks")(lm_eval_tasks)
