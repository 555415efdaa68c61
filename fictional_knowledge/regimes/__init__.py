"""Training regimes: a build's facts arranged into the training data of a specific experiment.

Each regime is a deterministic function of (build folder, seed, options) that writes a folder
``datasets.load_dataset(folder, CONFIG, split=SPLIT)`` loads with no script, plus
``regime_manifest.json``:

- ``injection``  knowledge injection schedules (Chang et al. 2024), :mod:`.injection`;
- ``two-stage``  two-stage vs mixed training (Zhang et al. 2025), :mod:`.two_stage`;
- ``continual``  continual memorization with REMIX mixing (Chen et al. 2024), :mod:`.continual`;
- ``frequency``  a frequency-controlled corpus (Wang et al. 2024), :mod:`.frequency`;
- ``forget``     nested forget/retain splits, TOFU-style, :mod:`.forget`.

:func:`inject` merges an injection schedule into a training stream. Importing this package is
cheap; the generator is loaded when a regime is made.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from fictional_knowledge.regimes.options import OPTIONS

#: regime name -> module that makes it (``make(source, options, seed)``, ``SUMMARY``, descriptions)
REGIMES: dict[str, str] = {"injection": "injection", "two-stage": "two_stage", "continual": "continual",
                           "frequency": "frequency", "forget": "forget"}

__all__ = ["REGIMES", "RegimeError", "RegimeManifest", "inject", "load_injections", "load_schedule", "make_regime",
           "pack", "plan_injections", "regime_options"]

_LAZY = {"inject": "merge", "load_schedule": "merge", "load_injections": "merge", "plan_injections": "merge",
         "pack": "merge", "RegimeError": "common",
         "Source": "common", "RegimeManifest": "writer"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def regime_options(name: str, **options: Any):
    """The validated options model of regime ``name`` (pydantic ``ValidationError`` if bad)."""
    from fictional_knowledge.regimes.common import RegimeError

    if name not in OPTIONS:
        raise RegimeError(f"unknown regime {name!r}; expected one of {', '.join(OPTIONS)}")
    return OPTIONS[name](**options)


def make_regime(name: str, build_dir: str | Path, out: str | Path, *, seed: int = 0, overwrite: bool = False,
                progress: bool = True, **options: Any):
    """Make regime ``name`` from the build at ``build_dir`` into the folder ``out`` and return its
    :class:`~.writer.RegimeManifest`.

    ``options`` are the fields of the regime's options model in :mod:`.options` (e.g.
    ``steps=[0, 50]`` for injection). Raises :class:`RegimeError` with a one-line message for bad
    input, pydantic's ``ValidationError`` for bad options. ``progress=False`` hides the progress
    bar that long work shows on stderr (``fkgen regime ... --quiet``); the data is the same."""
    from fictional_knowledge.regimes.common import Source
    from fictional_knowledge.regimes.writer import write_regime

    opts = regime_options(name, **options)
    module = importlib.import_module(f"{__name__}.{REGIMES[name]}")
    source = Source(build_dir, progress=progress)
    configs, notes = module.make(source, opts, seed)
    return write_regime(out, regime=name, seed=seed, options=opts, source=source, configs=configs, notes=notes,
                        summary=module.SUMMARY, descriptions=module.describe(opts), overwrite=overwrite)
