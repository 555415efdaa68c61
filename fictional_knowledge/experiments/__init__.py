"""Experiments that reproduce the seed papers' findings (``fkgen experiment NAME``).

Each experiment is a module of this package with ``TITLE`` (one line) and ``run(ctx)``, where
``ctx`` is a :class:`.common.RunContext`: it builds its own data with the package's build and
regime APIs, trains GPT-2-style models from scratch (tokenizer trained on its own corpus) and
writes ``report.md``, ``metrics.json`` and plots into ``ctx.out`` with
:func:`.common.write_report`. Adding an experiment is one module plus one entry in
:data:`EXPERIMENTS`. Importing this package is cheap.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: experiment name (the CLI's NAME) -> module of this package that runs it
EXPERIMENTS: dict[str, str] = {
    "frequency": "frequency",
    "two-stage": "two_stage",
    "continual": "continual",
    "injection": "injection",
}


def experiment_module(name: str) -> ModuleType:
    """The module of experiment ``name`` (``ExperimentError`` if unknown)."""
    from fictional_knowledge.experiments.common import ExperimentError

    if name not in EXPERIMENTS:
        raise ExperimentError(f"unknown experiment {name!r}; expected one of {', '.join(EXPERIMENTS)}")
    return importlib.import_module(f"{__name__}.{EXPERIMENTS[name]}")


__all__ = ["EXPERIMENTS", "experiment_module"]
