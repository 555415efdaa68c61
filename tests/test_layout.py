"""The package's layout follows the data: each subpackage imports only from the layers below it,
and no module shares a name with a public function or class it defines (a submodule import would
shadow a lazily exported name)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "fictional_knowledge"

# Layers, bottom first. A module may import from its own layer and the layers below it.
LAYERS = [
    {"models", "kinds", "resources", "errors", "atomic", "progress"},  # the contract and shared utilities
    {"generate"},
    {"dataset"},
    {"evaluate"},
    {"regimes", "release", "lm_eval_tasks"},
    {"experiments"},
    {"cli", "__main__", "__init__", "scoring", "callback"},  # top: the CLI, the public re-exports
]


# The one exception, on purpose: the contract derives ``Attributes`` and ``EntityType`` from the
# entity-type specs of generate/world.py (one spec per entity type is the extension point a new
# relation or type edits, docs/extending.md), so models.py reads that table.
EXCEPTIONS = {("models",): {"generate"}}


def layer_of(top: str) -> int:
    for i, names in enumerate(LAYERS):
        if top in names:
            return i
    raise AssertionError(f"fictional_knowledge.{top} is in no layer: add it to LAYERS in {__file__}")


def modules():
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).with_suffix("")
        yield path, rel.parts


def imported_tops(path: Path, parts: tuple[str, ...]) -> set[str]:
    tree = ast.parse(path.read_text())
    tops = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = list(parts[:-1])[: len(parts) - node.level] if node.level > 1 else list(parts[:-1])
                target = base + (node.module.split(".") if node.module else [])
                if target:
                    tops.add(target[0])
                else:
                    tops.update(alias.name for alias in node.names)
            elif node.module and node.module.split(".")[0] == "fictional_knowledge":
                rest = node.module.split(".")[1:]
                if rest:
                    tops.add(rest[0])
                else:
                    tops.update(alias.name for alias in node.names if not alias.name.startswith("__"))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                bits = alias.name.split(".")
                if bits[0] == "fictional_knowledge" and len(bits) > 1:
                    tops.add(bits[1])
    return tops


@pytest.mark.parametrize("path,parts", list(modules()), ids=lambda x: "/".join(x) if isinstance(x, tuple) else "")
def test_imports_only_from_layers_below(path, parts):
    own = layer_of(parts[0] if len(parts) > 1 else parts[0])
    allowed = EXCEPTIONS.get(parts, set())
    bad = sorted(t for t in imported_tops(path, parts) if layer_of(t) > own and t not in allowed)
    assert not bad, f"{'/'.join(parts)}.py (layer {own}) imports from higher layers: {bad}"


@pytest.mark.parametrize("path,parts", list(modules()), ids=lambda x: "/".join(x) if isinstance(x, tuple) else "")
def test_no_module_named_like_a_public_name_it_defines(path, parts):
    tree = ast.parse(path.read_text())
    public = {n.name for n in tree.body
              if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_")}
    assert parts[-1] not in public, f"{'/'.join(parts)}.py defines a public {parts[-1]!r}: rename the module"


def test_old_import_paths_still_work():
    import fictional_knowledge.callback as old_callback
    import fictional_knowledge.scoring as old_scoring
    from fictional_knowledge.evaluate import callback, scoring

    assert old_scoring is scoring and old_callback is callback
    assert callable(old_scoring.score_encoded) and callable(old_callback.score_and_log)


def test_readme_layout_lists_every_module():
    """README.md's "Layout" tree names every subpackage and every module (by file name, under its
    subpackage), so the tree cannot fall behind the code."""
    text = (PKG.parent / "README.md").read_text().split("## Layout", 1)[1].split("```", 2)[1]
    blocks: dict[str, str] = {}
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if line.startswith("  ") and not line.startswith("    ") and stripped.split()[0].endswith("/"):
            current = stripped.split()[0].rstrip("/")
        elif line.startswith("  ") and not line.startswith("    "):
            current = ""
        blocks[current] = blocks.get(current, "") + " " + line
    import re

    names = {where: set(re.findall(r"[\w.]+\.py", block)) for where, block in blocks.items()}
    missing = [("/".join(parts) + ".py") for _, parts in modules()
               if parts[-1] not in ("__init__", "__main__") or parts[0] == "cli"
               if parts != ("__init__",) and f"{parts[-1]}.py" not in names.get(parts[0] if len(parts) > 1 else "", set())]
    assert not missing, f"README.md's Layout tree does not list: {missing}"


def test_pyproject_ships_every_subpackage():
    """A subpackage missing from pyproject's ``packages`` list works from a checkout but is absent
    from the installed package."""
    import tomllib

    listed = set(tomllib.loads((PKG.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(("fictional_knowledge",) + p.parent.relative_to(PKG).parts).rstrip(".")
             for p in PKG.rglob("__init__.py") if "__pycache__" not in p.parts}
    assert found <= listed, f"pyproject.toml's packages lack {sorted(found - listed)}"
