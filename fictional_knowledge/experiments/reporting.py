"""Findings and the report writer of the experiments: ``report.md`` and ``metrics.json``, each
written atomically by ``atomic.write_text``."""

from __future__ import annotations

import json
import math
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fictional_knowledge.atomic import write_text

Verdict = Literal["reproduced", "not reproduced", "inconclusive"]


class Finding(BaseModel):
    """One finding of a paper and what this run says about it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    claim: str = Field(description="The paper's finding in one sentence.")
    verdict: Verdict
    evidence: str = Field(description="One line with the numbers and intervals that decide the verdict.")
    numbers: dict[str, Any] = Field(default_factory=dict)


def _jsonable(x: Any) -> Any:
    if isinstance(x, BaseModel):
        return x.model_dump(mode="json")
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, Path):
        return str(x)
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _versions() -> dict[str, str]:
    from fictional_knowledge import __version__

    out = {"fictional-knowledge": __version__, "python": platform.python_version()}
    for mod in ("torch", "transformers", "tokenizers", "numpy", "scipy"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception:  # pragma: no cover - optional
            pass
    return out


METRICS_FILE = "metrics.json"
REPORT_FILE = "report.md"


def write_report(out_dir: str | Path, *, name: str, title: str, command: str, settings: dict,
                 findings: Sequence[Finding], metrics: dict, figures: Sequence[Path], notes: Sequence[str],
                 elapsed_s: float) -> Path:
    """Write ``report.md`` and ``metrics.json`` into ``out_dir`` (each atomically, by
    ``atomic.write_text``: the umask's mode, synced, renamed into place). ``settings`` must hold every seed and setting; ``command`` reruns the
    experiment. Returns the report's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    versions = _versions()
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    payload = {"experiment": name, "title": title, "command": command, "package_version": versions["fictional-knowledge"],
               "versions": versions, "created_at": created, "elapsed_s": round(float(elapsed_s), 1),
               "settings": settings, "findings": [f.model_dump(mode="json") for f in findings],
               "metrics": metrics, "figures": [Path(f).name for f in figures], "notes": list(notes)}
    write_text(out / METRICS_FILE, json.dumps(_jsonable(payload), indent=2, allow_nan=False) + "\n")
    lines = [f"# {title}", "",
             f"Experiment `{name}`, fictional-knowledge {versions['fictional-knowledge']}, {created}; "
             f"measured wall time **{elapsed_s / 60:.1f} min** ({elapsed_s:.0f} s).", "",
             "Rerun with:", "", f"<!-- docs-test: skip — trains models from scratch; {elapsed_s / 60:.0f} min of wall time here -->",
             "```bash", command, "```", "", "## Findings", "",
             "| finding | paper's claim | verdict | evidence |", "|---|---|---|---|"]
    for f in findings:
        lines.append(f"| {f.name} | {f.claim} | **{f.verdict}** | {f.evidence} |")
    lines += [""]
    for fig in figures:
        lines += [f"![{Path(fig).stem}]({Path(fig).name})", ""]
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    lines += ["## Settings", "", "```json", json.dumps(_jsonable(settings), indent=2), "```", "",
              "## Versions", "", ", ".join(f"{k} {v}" for k, v in versions.items()), ""]
    write_text(out / REPORT_FILE, "\n".join(lines))
    return out / REPORT_FILE


def is_experiment_output(folder: Path) -> bool:
    """True when ``folder`` holds a ``metrics.json`` written by :func:`write_report`."""
    try:
        return "experiment" in json.loads((folder / METRICS_FILE).read_text())
    except (OSError, ValueError, TypeError):
        return False
