"""The ``fkgen`` console script."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="fkgen",
    help="Generate fictional knowledge from a seed, and benchmark language models on it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click errors: "Error: No such option: --bogus", no boxes
)

# Each module below defines ``register(app)``, which adds its commands. Heavy imports (torch,
# transformers, matplotlib) stay inside the command functions so `fkgen build` starts fast.
_COMMAND_MODULES = [
    "fictional_knowledge.cli_build",
    "fictional_knowledge.cli_lmeval",
    "fictional_knowledge.cli_eval",
    "fictional_knowledge.cli_leaderboard",
    "fictional_knowledge.cli_dynamics",
    "fictional_knowledge.cli_release",
    "fictional_knowledge.cli_regime",
    "fictional_knowledge.cli_stats",
    "fictional_knowledge.cli_experiment",
]

for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:  # pragma: no cover - console entry point
    app()
