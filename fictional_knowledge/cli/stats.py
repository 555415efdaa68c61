"""``fkgen stats``: text statistics of a build's passages or of any file of passages."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def stats_cmd(
    path: Path = typer.Argument(..., help="A build folder, or a .json/.jsonl/.parquet file of passages "
                                          "with a train_context or text field."),
    sample: Optional[int] = typer.Option(None, "--sample", help="Measure N passages drawn at random [default: all]."),
    seed: int = typer.Option(0, "--seed", help="Seed of the --sample draw."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the figures as JSON to this file."),
) -> None:
    """Sentence length, distinct-n, skeletons, pronouns, same openings, facts per 100 words and
    paraphrase overlap of passages (issue 11's definitions), as a table on stdout; for a build
    folder also its soundness figures (world constraints, names, QA distractors, probes whose
    input is completed otherwise), measured on the whole build."""
    from dataclasses import replace

    from fictional_knowledge.dataset.figures import build_figures, format_figures
    from fictional_knowledge.cli.build import fail
    from fictional_knowledge.dataset.stats import StatsError, format_table, measure, read_passages, write_json

    if sample is not None and sample <= 0:
        fail(f"--sample must be positive, got {sample}")
    try:
        rows = read_passages(path, sample=sample, seed=seed)
        stats = measure(rows, source=str(path))
        typer.echo(format_table(stats))
        if path.is_dir():
            stats = replace(stats, soundness=build_figures(path))
            typer.echo("")
            typer.echo(format_figures(stats.soundness))
        if json_out is not None:
            write_json(stats, json_out)
    except StatsError as exc:
        fail(str(exc))


def register(app: typer.Typer) -> None:
    app.command("stats")(stats_cmd)
