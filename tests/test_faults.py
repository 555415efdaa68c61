"""The fault suite of ``benchmarks/faults.py`` as tests: every case must end with the expected
exit code, exactly one ``error:`` line on stderr, no traceback, no hang, and every file that
existed before unchanged. Cases fixed on another branch are strict xfails (the lead flips them
when merging that branch)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "faults.py"
_spec = importlib.util.spec_from_file_location("fk_faults", _PATH)
faults = importlib.util.module_from_spec(_spec)
sys.modules["fk_faults"] = faults  # dataclasses look their module up
_spec.loader.exec_module(faults)

CASES = faults.cases()


def test_the_table_is_large_and_covers_every_command():
    from fictional_knowledge.cli import app
    from typer.main import get_command

    assert len(CASES) >= 150
    assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"
    group = get_command(app)
    commands = set(group.commands) - {"regime"} | {f"regime {n}" for n in group.commands["regime"].commands}
    tried = {" ".join(c.cmd.split()[:2]) if c.cmd.startswith("regime") else c.cmd.split()[0] for c in CASES}
    assert commands <= tried, f"commands without a fault case: {sorted(commands - tried)}"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    ws = tmp_path_factory.mktemp("faults") / "ws"
    faults.make_workspace(ws)
    (ws / "cases").mkdir()
    yield ws
    if (ws / "ro").exists():
        os.chmod(ws / "ro", 0o755)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.xfail)]
                                               if c.xfail else []) for c in CASES])
def test_fault(case, workspace):
    out = faults.run_case(case, workspace)
    kind, detail = faults.verdict(case, out)
    assert kind == "clean", f"{kind}: {detail}\nstdout: {out.stdout[-500:]}\nstderr: {out.stderr[-1500:]}"


def test_readme_fault_table_lists_every_case():
    """The README's table (README.md, "Reliability") counts the cases of this table per fault class;
    every case is asserted clean above, so its clean column must equal its tried column."""
    import re
    from collections import Counter
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = text.split("fault class", 1)[1].split("```", 1)[0]
    rows = {m.group(1).strip(): (int(m.group(2)), int(m.group(3)))
            for m in re.finditer(r"^([a-z][a-z -]*?) +(\d+) +(\d+) +\d+ +\d+ +\d+ +\d+$", block, flags=re.M)}
    total = rows.pop("total")
    assert rows == {cls: (n, n) for cls, n in Counter(c.cls for c in CASES).items()}
    assert total == (len(CASES), len(CASES))
