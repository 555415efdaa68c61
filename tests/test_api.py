"""The public API (``fictional_knowledge.__all__``) used as the docs use it, and import cost."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import fictional_knowledge as fk

ROOT = Path(__file__).resolve().parents[1]

# Runs in a fresh interpreter. Every submodule of the package is imported FIRST (the order that
# used to make ``fictional_knowledge.dataset.builder`` the module instead of the function), then the public
# names are used exactly as the package docstring and the README use them.
USE_AS_DOCUMENTED = textwrap.dedent('''
    import importlib, pkgutil, sys, types
    from pathlib import Path
    import fictional_knowledge as pkg
    HEAVY = ("callback", "scoring", "scoring_qa", "dynamics", "cli_dynamics", "publish", "leaderboard")
    for info in pkgutil.walk_packages(pkg.__path__, "fictional_knowledge."):
        if info.name.rsplit(".", 1)[-1].startswith(HEAVY) or info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)
    import fictional_knowledge.dataset.builder, fictional_knowledge.dataset.validate, fictional_knowledge.dataset.io

    from fictional_knowledge import (BuildConfig, build, validate_build, read_rows, iter_rows,
        read_manifest, load_templates, fingerprint_build, Manifest, Entity, Fact, Passage, Probe,
        Statement, QA, FKRow, CONFIG_NAMES, BuildError, __version__)
    from pydantic import BaseModel

    # every exported name is the object its module defines, never a module
    for name in pkg.__all__:
        obj = getattr(pkg, name)
        assert not isinstance(obj, types.ModuleType), f"{name} is a module: {obj!r}"
    assert pkg.build is build and callable(build) and build.__module__ == "fictional_knowledge.dataset.builder"
    assert isinstance(importlib.import_module("fictional_knowledge.dataset.builder"), types.ModuleType)
    for cls in (BuildConfig, Manifest, Entity, Fact, Passage, Probe, Statement, QA, FKRow):
        assert isinstance(cls, type) and issubclass(cls, BaseModel), cls
    assert issubclass(BuildError, Exception)
    for fn in (build, validate_build, read_rows, iter_rows, read_manifest, load_templates, fingerprint_build):
        assert callable(fn) and not isinstance(fn, type), fn
    assert isinstance(__version__, str) and __version__.count(".") >= 2
    assert isinstance(CONFIG_NAMES, tuple) and "probes" in CONFIG_NAMES and "fictional_knowledge" in CONFIG_NAMES

    out = Path(sys.argv[1]) / "seed-0"
    manifest = build(BuildConfig(seed=0, entities=20), out)
    assert isinstance(manifest, Manifest) and manifest.config.entities == 20
    assert read_manifest(out) == manifest
    report = validate_build(out)
    assert report.ok, report.lines()
    probes = read_rows(out, "probes")
    assert probes and all(isinstance(Probe.model_validate(r), Probe) for r in probes)
    assert sum(1 for _ in iter_rows(out, "entities")) == manifest.configs["entities"].rows
    for r in read_rows(out, "fictional_knowledge")[:3]:
        FKRow.model_validate(r)
    prints = fingerprint_build(out)
    assert {n: a.fingerprint for n, a in prints.items()} == {n: c.fingerprint for n, c in manifest.configs.items()}
    assert isinstance(load_templates(), dict) and load_templates()
    try:
        build(BuildConfig(seed=0, entities=20), out)
    except BuildError:
        pass
    else:
        raise AssertionError("building into an existing folder must raise BuildError")
    print("OK")
''')


def test_public_names_resolve(tmp_path):
    proc = subprocess.run([sys.executable, "-c", USE_AS_DOCUMENTED, str(tmp_path)], capture_output=True,
                          text=True, cwd=ROOT, env=_env())
    assert proc.returncode == 0 and proc.stdout.strip().endswith("OK"), proc.stdout + proc.stderr


def test_package_docstring_example_runs(tmp_path):
    """The example in the package docstring, run verbatim (with a smaller world)."""
    example = [line.strip() for line in fk.__doc__.splitlines() if line.startswith("    ")]
    assert any("build(" in line for line in example), fk.__doc__
    code = "\n".join(example).replace("entities=1000", "entities=20")
    proc = subprocess.run([sys.executable, "-c", code + "\nprint(manifest.configs['passages'].rows)"],
                          capture_output=True, text=True, cwd=tmp_path, env=_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "20"


def test_exported_name_survives_submodule_import():
    import importlib

    importlib.import_module("fictional_knowledge.dataset.builder")
    from fictional_knowledge import build

    assert callable(build) and build.__name__ == "build"
    assert fk.build is build


def test_unknown_attribute_raises():
    with pytest.raises(AttributeError):
        fk.no_such_thing  # noqa: B018


def test_cli_import_does_not_load_heavy_libraries():
    code = ("import sys, fictional_knowledge.cli; "
            "print(sorted(m for m in ('torch', 'transformers', 'matplotlib', 'lm_eval', 'datasets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_package_import_is_light():
    code = ("import sys, fictional_knowledge as fk; fk.__all__; "
            "print(sorted(m for m in sys.modules if m.startswith(('torch', 'pyarrow', 'pydantic', 'fictional_knowledge.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=_env()).stdout.strip()
    assert out == "[]"


def _env():
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env
