"""``fkgen leaderboard`` and ``fkgen hub-eval-yaml``: compare models and hook a Hub dataset up as a benchmark."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


#: What `fkgen leaderboard` writes: a folder holding only these files (or fkgen's marker) is replaced.
LEADERBOARD_FILES = ("leaderboard.json", "leaderboard.md", "index.html")


def register(app: typer.Typer) -> None:
    """Add the leaderboard commands to ``app``."""

    @app.command("leaderboard")
    def leaderboard(
        results: List[Path] = typer.Argument(..., help="Results JSON files written by `fkgen eval`, or lm-eval's results_*.json of the fictional_knowledge tasks."),
        out: Path = typer.Option(..., "--out", "-o", help="Folder for leaderboard.json, leaderboard.md and index.html."),
        sort_by: str = typer.Option(
            "mean_exact_match", "--sort-by",
            help="Column key to rank by, best first; KEY:asc or KEY:desc to force a direction.",
        ),
        allow_mixed: bool = typer.Option(
            False, "--allow-mixed", help="Rank results from builds with different dataset fingerprints together.",
        ),
        title: str = typer.Option("Fictional knowledge leaderboard", "--title", help="Page and table title."),
    ) -> None:
        """Rank models from `fkgen eval` (or lm-eval) results: writes leaderboard.json, leaderboard.md and a static index.html."""
        from fictional_knowledge.atomic import atomic_folder, check_out_path, check_replace
        from fictional_knowledge.evaluate.leaderboard import LeaderboardError, parse_sort, write_leaderboard

        try:
            parse_sort(sort_by)
        except LeaderboardError as exc:
            raise typer.BadParameter(str(exc), param_hint="--sort-by") from None
        check_replace(check_out_path(out), overwrite=True, names=LEADERBOARD_FILES)  # before reading anything
        with atomic_folder(out, overwrite=True, names=LEADERBOARD_FILES) as tmp:
            files = write_leaderboard(results, tmp, sort_by=sort_by, allow_mixed=allow_mixed, title=title)
        for path in files.values():
            typer.echo(str(out / path.name))

    @app.command("hub-eval-yaml")
    def hub_eval_yaml(
        folder: Path = typer.Argument(..., help="Build or release folder; eval.yaml is written at its root."),
        name: str = typer.Option("Fictional Knowledge", "--name", help="Benchmark display name."),
        split: str = typer.Option("train", "--split", help="Split the tasks point at."),
        framework: str = typer.Option("inspect-ai", "--framework", help="evaluation_framework (a value the Hub accepts)."),
        print_only: bool = typer.Option(False, "--print", help="Print the YAML instead of writing it."),
        version: Optional[str] = typer.Option(None, "--version", help="Release tag mentioned in the description."),
    ) -> None:
        """Write the Hugging Face Hub eval.yaml that makes the dataset repo a benchmark with leaderboards."""
        from fictional_knowledge.atomic import write_text
        from fictional_knowledge.evaluate.hub_eval import HubEvalError, eval_config, render_eval_yaml

        if not folder.is_dir():
            raise HubEvalError(f"{folder}: not a folder")
        text = render_eval_yaml(eval_config(name=name, split=split, framework=framework, version=version,
                                            folder=folder))
        if print_only:
            typer.echo(text, nl=False)
        else:
            typer.echo(str(write_text(folder / "eval.yaml", text, flag="FOLDER")))
