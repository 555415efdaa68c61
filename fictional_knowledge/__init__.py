"""fictional-knowledge: seeded fictional worlds for studying how language models learn facts.

The public API, re-exported here (imported lazily, so ``import fictional_knowledge`` stays fast)::

    from fictional_knowledge import BuildConfig, build, validate_build, read_rows
    manifest = build(BuildConfig(seed=0, entities=1000), "builds/seed-0")
"""

from __future__ import annotations

import importlib
import sys
import types

__version__ = "0.6.0"

# public name -> the module that defines it (full dotted path)
_EXPORTS = {
    "BuildConfig": "fictional_knowledge.models", "Manifest": "fictional_knowledge.models",
    "Entity": "fictional_knowledge.models", "Fact": "fictional_knowledge.models",
    "Passage": "fictional_knowledge.models", "Probe": "fictional_knowledge.models",
    "Statement": "fictional_knowledge.models", "QA": "fictional_knowledge.models",
    "FKRow": "fictional_knowledge.models", "CONFIG_NAMES": "fictional_knowledge.models",
    "build": "fictional_knowledge.dataset.builder", "BuildError": "fictional_knowledge.dataset.builder",
    "validate_build": "fictional_knowledge.dataset.validate",
    "read_rows": "fictional_knowledge.dataset.io", "iter_rows": "fictional_knowledge.dataset.io",
    "read_manifest": "fictional_knowledge.dataset.io",
    "load_templates": "fictional_knowledge.generate.templates",
    "fingerprint_build": "fictional_knowledge.dataset.fingerprint",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # cache; later submodule imports cannot replace it (see _Package)
        return value
    raise AttributeError(f"module 'fictional_knowledge' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """The package's module type: importing a submodule binds it as an attribute of its parent
    package, which would shadow a lazily exported name of the same name (``build`` the function
    vs ``fictional_knowledge.dataset.builder`` the module). Such bindings are refused, so an exported name
    always means the exported object; the submodule itself stays in ``sys.modules`` (reach it with
    ``importlib.import_module("fictional_knowledge.dataset.builder")``)."""

    def __setattr__(self, name: str, value) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
