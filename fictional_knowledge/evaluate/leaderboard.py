"""Leaderboards from ``fkgen eval`` results: ``leaderboard.json``, a markdown table and a static page.

Input is one or more results files: ``fkgen eval``'s (:class:`fictional_knowledge.evaluate.results.Results`)
or lm-evaluation-harness 0.4's ``results_*.json`` of this package's tasks (``fictional_knowledge_*``,
see :func:`lm_eval_row`). Each file becomes one row. The default ranking is the mean exact match over the probe kinds a
result has (memorization, semantic, compositional), highest first; ties are broken by the mean
target loss (lower is better), then by model name. Every numeric column declares which direction
is better (``better: "higher" | "lower"``), and ``--sort-by`` sorts in that direction.

The HTML page is a single self-contained file (inline CSS and JS, no external assets, a
Content-Security-Policy that forbids loading anything), so it works offline from ``file://``.
Rows are rendered server-side with autoescaping; the script only reorders existing rows.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Literal, Optional, Sequence

from pydantic import ValidationError

from fictional_knowledge.errors import InputError
from fictional_knowledge import __version__
from fictional_knowledge.models import PROBE_KINDS
from fictional_knowledge.evaluate.results import ProbeKindScore, QAScore, Results

LEADERBOARD_FORMAT_VERSION = 1
DEFAULT_SORT = "mean_exact_match"


class LeaderboardError(InputError, ValueError):
    """Bad input for a leaderboard; the message is one line naming the file and the field."""


@dataclass(frozen=True)
class Column:
    """One leaderboard column. ``better`` is the direction in which values are better (None for
    text columns); ``digits`` is the number of decimals shown for floats."""

    key: str
    label: str
    type: Literal["number", "string"]
    better: Optional[Literal["higher", "lower"]] = None
    digits: int = 3
    description: str = ""

    @property
    def default_descending(self) -> bool:
        """The direction of a first click / ``--sort-by``: best values first."""
        return self.better == "higher"

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "type": self.type, "better": self.better,
                "description": self.description}


_SHORT = {"memorization": "Mem.", "semantic": "Sem.", "compositional": "Comp."}


def _kind_columns() -> list[Column]:
    em = [Column(f"{k}_exact_match", f"{_SHORT.get(k, k)} EM", "number", "higher",
                 description=f"Share of {k} probes whose greedy continuation is the target.")
          for k in PROBE_KINDS]
    loss = [Column(f"{k}_loss", f"{_SHORT.get(k, k)} loss", "number", "lower",
                   description=f"Mean per-token NLL of ' ' + target over {k} probes (Chang et al.).")
            for k in PROBE_KINDS]
    return em + loss


COLUMNS: tuple[Column, ...] = (
    Column("rank", "#", "number", None, 0, "Position in the default ranking."),
    Column("model", "Model", "string", description="Model name or path given to fkgen eval."),
    Column("mean_exact_match", "Mean EM", "number", "higher",
           description="Mean over probe kinds of the exact-match rate (the default ranking)."),
    Column("mean_loss", "Mean loss", "number", "lower",
           description="Mean over probe kinds of the target loss."),
    *_kind_columns(),
    Column("qa_mc_accuracy", "QA MC acc.", "number", "higher",
           description="Multiple-choice accuracy on qa (log-likelihood of each choice)."),
    Column("qa_generation_exact_match", "QA gen. EM", "number", "higher",
           description="Exact match of the greedy answer to qa questions."),
    Column("dataset_version", "Data version", "string",
           description="Release tag of the dataset, when known."),
    Column("dataset_fingerprint", "Data fingerprint", "string",
           description="Short hash of the dataset's per-config content fingerprints."),
    Column("package_version", "fkgen version", "string",
           description="fictional-knowledge version that computed the scores."),
)
COLUMNS_BY_KEY: dict[str, Column] = {c.key: c for c in COLUMNS}


def dataset_fingerprint(fingerprints: dict[str, str]) -> str:
    """A 12-hex-digit hash of a build's per-config fingerprints (order-independent)."""
    payload = json.dumps(sorted(fingerprints.items()), separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "(top level)"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"field '{where}': {err['msg']}{more}"


def load_results(path: str | Path) -> Results:
    """Read and validate one results JSON file; raise LeaderboardError with a one-line message."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LeaderboardError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LeaderboardError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    try:
        res = Results.model_validate(data)
    except ValidationError as exc:
        raise LeaderboardError(f"{path}: invalid results, {_first_error(exc)}") from None
    for key, score in res.scores.items():
        if key in PROBE_KINDS and not isinstance(score, ProbeKindScore):
            raise LeaderboardError(f"{path}: invalid results, field 'scores.{key}': expected probe-kind scores (loss, exact_match)")
        if key == "qa" and not isinstance(score, QAScore):
            raise LeaderboardError(f"{path}: invalid results, field 'scores.qa': expected QA scores (mc_accuracy, generation_exact_match)")
    return res


def _finite(value: Optional[float]) -> Optional[float]:
    """NaN and infinities become missing values (they neither sort nor encode as JSON)."""
    return value if value is not None and math.isfinite(value) else None


def _mean(values: Iterable[Optional[float]]) -> Optional[float]:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


LM_EVAL_TASKS = {kind: f"fictional_knowledge_{kind}" for kind in PROBE_KINDS}
LM_EVAL_QA_MC, LM_EVAL_QA_GEN = "fictional_knowledge_qa_mc", "fictional_knowledge_qa_gen"


def is_lm_eval_results(data: Any) -> bool:
    """True for the JSON lm-eval 0.4 writes as ``results_<date>.json`` (``results``, ``configs``,
    ``versions``, ``n-samples``...), as opposed to ``fkgen eval``'s results."""
    return (isinstance(data, dict) and isinstance(data.get("results"), dict) and "format_version" not in data
            and any(k in data for k in ("configs", "versions", "n-samples", "config")))


def _metric(task: dict, name: str) -> Optional[float]:
    """lm-eval stores metrics as ``"NAME,FILTER"``; the first filter that has one."""
    for key, value in task.items():
        if key.split(",")[0] == name and "_stderr" not in key and isinstance(value, (int, float)):
            return _finite(float(value))
    return None


def _lm_eval_dataset(data: dict, path: Path) -> tuple[dict[str, str], Optional[str], str]:
    """(fingerprints, version, description) of the data an lm-eval run read: a local build's
    manifest fingerprints when the tasks read its parquet shards, else the Hub id and revision."""
    configs = data.get("configs") or {}
    task = next((configs[t] for t in [*LM_EVAL_TASKS.values(), LM_EVAL_QA_MC, LM_EVAL_QA_GEN] if t in configs), {})
    kwargs = task.get("dataset_kwargs") or {}
    files = kwargs.get("data_files")
    if task.get("dataset_path") == "parquet" and files:
        pattern = next(iter(files.values())) if isinstance(files, dict) else files
        pattern = pattern[0] if isinstance(pattern, list) else pattern
        build = Path(str(pattern)).parent.parent.parent  # BUILD/data/CONFIG/*.parquet
        manifest = build / "manifest.json"
        if manifest.is_file():
            m = json.loads(manifest.read_text(encoding="utf-8"))
            return {k: v["fingerprint"] for k, v in m["configs"].items()}, None, str(build)
        raise LeaderboardError(f"{path}: the lm-eval run read {pattern}, but {manifest} is gone: "
                               "cannot tell which data was scored")
    hub, revision = task.get("dataset_path"), kwargs.get("revision")
    if not hub:
        raise LeaderboardError(f"{path}: lm-eval results without the tasks' configs: cannot tell which data was scored")
    ident = f"hub:{hub}@{revision or 'main'}"
    return {"lm-eval-dataset": ident}, revision, ident


def lm_eval_row(data: dict, path: str | Path, source: str = "") -> dict[str, Any]:
    """One leaderboard row from lm-eval's results JSON of this package's tasks.

    Per probe kind, lm-eval's ``acc`` is greedy exact match (the same as ``fkgen eval``'s); its
    ``perplexity`` is ``exp(-mean summed log-likelihood)``, not our per-token mean loss, so the
    loss columns stay empty. QA: ``fictional_knowledge_qa_mc``'s ``acc`` and
    ``fictional_knowledge_qa_gen``'s ``exact_match``. The data is identified by the build's
    manifest when the tasks read a local build, else by Hub id and revision."""
    path = Path(path)
    results = data["results"]
    ours = [t for t in [*LM_EVAL_TASKS.values(), LM_EVAL_QA_MC, LM_EVAL_QA_GEN] if t in results]
    if not ours:
        raise LeaderboardError(f"{path}: lm-eval results without any fictional_knowledge_* task "
                               f"(has {', '.join(sorted(results)[:5]) or 'none'})")
    config = data.get("config") or {}
    model = data.get("model_name") or config.get("model")
    args = config.get("model_args")
    if isinstance(args, str):
        model = next((a.split("=", 1)[1] for a in args.split(",") if a.startswith("pretrained=")), model)
    elif isinstance(args, dict) and args.get("pretrained"):
        model = str(args["pretrained"])
    if not model:
        raise LeaderboardError(f"{path}: lm-eval results without a model name (config.model_args)")
    samples = data.get("n-samples") or {}
    row: dict[str, Any] = {"model": str(model), "model_revision": None}
    for kind, task in LM_EVAL_TASKS.items():
        t = results.get(task)
        row[f"{kind}_exact_match"] = _metric(t, "acc") if t else None
        row[f"{kind}_loss"] = None
        row[f"{kind}_n"] = (samples.get(task) or {}).get("effective") if t else None
    row["mean_exact_match"] = _mean(row[f"{k}_exact_match"] for k in PROBE_KINDS)
    row["mean_loss"] = None
    mc, gen = results.get(LM_EVAL_QA_MC), results.get(LM_EVAL_QA_GEN)
    row["qa_mc_accuracy"] = _metric(mc, "acc") if mc else None
    row["qa_generation_exact_match"] = _metric(gen, "exact_match") if gen else None
    row["qa_n"] = (samples.get(LM_EVAL_QA_MC) or {}).get("effective") if mc else None
    fingerprints, version, described = _lm_eval_dataset(data, path)
    row["dataset_version"] = version
    row["dataset_fingerprint"] = dataset_fingerprint(fingerprints)
    row["dataset_path"] = described
    row["package_version"] = f"lm-eval {data['lm_eval_version']}" if data.get("lm_eval_version") else "lm-eval"
    date = data.get("date")
    row["created_at"] = (datetime.fromtimestamp(date, timezone.utc).isoformat(timespec="seconds")
                         if isinstance(date, (int, float)) else None)
    row["source"] = source
    row["scored_by"] = "lm-eval"
    limited = {t: n for t, n in samples.items() if t in ours and isinstance(n, dict)
               and n.get("effective") is not None and n.get("original") is not None and n["effective"] < n["original"]}
    row["limited"] = bool(limited)
    return row


def load_any(path: str | Path) -> tuple[str, Any]:
    """``("fkgen", Results)`` or ``("lm-eval", row)`` for one results file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LeaderboardError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise LeaderboardError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if is_lm_eval_results(data):
        return "lm-eval", lm_eval_row(data, path, str(path))
    return "fkgen", load_results(path)


def result_row(res: Results, source: str = "") -> dict[str, Any]:
    """One leaderboard row (without ``rank``) computed from one results object."""
    row: dict[str, Any] = {"model": res.model, "model_revision": res.model_revision}
    for kind in PROBE_KINDS:
        score = res.scores.get(kind)
        ok = isinstance(score, ProbeKindScore)
        row[f"{kind}_exact_match"] = _finite(score.exact_match) if ok else None
        row[f"{kind}_loss"] = _finite(score.loss) if ok else None
        row[f"{kind}_n"] = score.n if ok else None
    row["mean_exact_match"] = _mean(row[f"{k}_exact_match"] for k in PROBE_KINDS)
    row["mean_loss"] = _mean(row[f"{k}_loss"] for k in PROBE_KINDS)
    qa = res.scores.get("qa")
    row["qa_mc_accuracy"] = qa.mc_accuracy if isinstance(qa, QAScore) else None
    row["qa_generation_exact_match"] = qa.generation_exact_match if isinstance(qa, QAScore) else None
    row["qa_n"] = qa.n if isinstance(qa, QAScore) else None
    row["dataset_version"] = res.dataset.version
    row["dataset_fingerprint"] = dataset_fingerprint(res.dataset.fingerprints)
    row["dataset_path"] = res.dataset.path
    row["package_version"] = res.package_version
    row["created_at"] = res.created_at
    row["source"] = source
    row["scored_by"] = "fkgen"
    return row


def parse_sort(spec: str) -> tuple[str, bool]:
    """``KEY`` or ``KEY:asc`` / ``KEY:desc`` -> (key, descending). Without a direction, a column
    sorts best-first (descending where higher is better, ascending otherwise)."""
    key, _, direction = spec.partition(":")
    if key not in COLUMNS_BY_KEY:
        raise LeaderboardError(f"unknown sort key {key!r}; expected one of {', '.join(COLUMNS_BY_KEY)}")
    if direction not in ("", "asc", "desc"):
        raise LeaderboardError(f"unknown sort direction {direction!r} in {spec!r}; use KEY, KEY:asc or KEY:desc")
    return key, (COLUMNS_BY_KEY[key].default_descending if not direction else direction == "desc")


def _sort_value(value: Any) -> Any:
    """Text compares case-insensitively; floats at 1e-9 so that means equal up to rounding tie."""
    if isinstance(value, str):
        return value.casefold()
    return round(value, 9) if isinstance(value, float) else value


def sort_rows(rows: Sequence[dict[str, Any]], key: str, descending: bool) -> list[dict[str, Any]]:
    """Rows ordered by ``key`` (missing values last), ties by mean EM (desc), mean loss (asc), model."""

    def tiebreak(r: dict[str, Any]) -> tuple:
        em, loss = r.get("mean_exact_match"), r.get("mean_loss")
        return (em is None, -_sort_value(em or 0.0), loss is None, _sort_value(loss or 0.0),
                r["model"].casefold(), r.get("source", ""))

    ordered = sorted(rows, key=tiebreak)
    present = [r for r in ordered if r.get(key) is not None]
    missing = [r for r in ordered if r.get(key) is None]
    present.sort(key=lambda r: _sort_value(r[key]), reverse=descending)  # stable: ties keep tiebreak order
    return present + missing


def _ranked(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Competition ranks (1, 2, 2, 4) over already sorted rows; equal sort values share a rank."""
    out, prev, rank = [], object(), 0
    for i, row in enumerate(rows, start=1):
        value = None if row.get(key) is None else _sort_value(row[key])
        if value != prev or value is None:
            rank, prev = i, value
        out.append({"rank": rank, **row})
    return out


def build_leaderboard(results: Sequence[tuple[str, Any]], *, sort_by: str = DEFAULT_SORT,
                      allow_mixed: bool = False, title: str = "Fictional knowledge leaderboard") -> dict[str, Any]:
    """The content of ``leaderboard.json`` for (source name, results) pairs; a result is a
    ``Results`` or an already computed row (from :func:`lm_eval_row`)."""
    if not results:
        raise LeaderboardError("no results given")
    key, descending = parse_sort(sort_by)
    rows = [res if isinstance(res, dict) else result_row(res, source) for source, res in results]
    groups: dict[str, list[str]] = {}
    for row in rows:
        groups.setdefault(row["dataset_fingerprint"], []).append(row["source"] or row["model"])
    if len(groups) > 1 and not allow_mixed:
        parts = "; ".join(f"{fp}: {', '.join(srcs)}" for fp, srcs in groups.items())
        raise LeaderboardError(f"results come from builds with different dataset fingerprints ({parts}); "
                               "pass --allow-mixed to rank them together anyway")
    if key == "rank":  # the default ranking, possibly reversed
        ranked = _ranked(sort_rows(rows, DEFAULT_SORT, True), DEFAULT_SORT)
        ranked = ranked[::-1] if descending else ranked
    else:
        ranked = _ranked(sort_rows(rows, key, descending), key)
    versions = sorted({r["dataset_version"] for r in rows if r["dataset_version"]})
    return {
        "format_version": LEADERBOARD_FORMAT_VERSION,
        "title": title,
        "generated_by": f"fictional-knowledge {__version__}",
        "sort_by": key,
        "descending": descending,
        "dataset": {"fingerprints": sorted(groups), "versions": versions, "mixed": len(groups) > 1},
        "columns": [c.to_json() for c in COLUMNS],
        "rows": ranked,
    }


def format_value(column: Column, value: Any) -> str:
    """How a value is shown in the markdown table and the page ("—" when missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if column.type == "number" and isinstance(value, float):
        return f"{value:.{column.digits}f}"
    return str(value)


def _arrow(column: Column) -> str:
    return {"higher": " ↑", "lower": " ↓"}.get(column.better or "", "")


def render_markdown(board: dict[str, Any]) -> str:
    """A GitHub-flavoured markdown table of the leaderboard, with the better direction per column."""
    def cell(text: str) -> str:  # no raw HTML from model names, no broken table rows
        return html.escape(text, quote=False).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    lines = [f"# {cell(board['title'])}", ""]
    ds = board["dataset"]
    lines.append(f"Dataset fingerprint: {', '.join(ds['fingerprints'])}"
                 + (f" (version {', '.join(ds['versions'])})" if ds["versions"] else "")
                 + (" — MIXED BUILDS" if ds["mixed"] else ""))
    lines += ["", "↑ higher is better, ↓ lower is better. EM = exact match.", ""]
    lines.append("| " + " | ".join(c.label + _arrow(c) for c in COLUMNS) + " |")
    lines.append("|" + "|".join("---:" if c.type == "number" else "---" for c in COLUMNS) + "|")
    for row in board["rows"]:
        lines.append("| " + " | ".join(cell(format_value(c, row.get(c.key))) for c in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def _best(rows: list[dict[str, Any]], column: Column) -> Optional[float]:
    vals = [r[column.key] for r in rows if r.get(column.key) is not None]
    if not vals or column.better is None or len(set(vals)) < 2:  # nothing to single out
        return None
    return max(vals) if column.better == "higher" else min(vals)


def render_html(board: dict[str, Any]) -> str:
    """The static, self-contained, sortable HTML page for a leaderboard."""
    import jinja2

    source = resources.files("fictional_knowledge.evaluate").joinpath("leaderboard_page.html.jinja").read_text("utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(source)
    columns = []
    for c in COLUMNS:
        first = "descending" if c.default_descending else "ascending"
        sort = ("descending" if board["descending"] else "ascending") if c.key == board["sort_by"] else "none"
        columns.append({"col": c, "arrow": _arrow(c).strip(), "first": first, "aria_sort": sort,
                        "best": _best(board["rows"], c)})
    rows = []
    for row in board["rows"]:
        cells = []
        for info in columns:
            c, value = info["col"], row.get(info["col"].key)
            data = "" if value is None else (repr(float(value)) if c.type == "number" else str(value))
            cells.append({"key": c.key, "text": format_value(c, value), "data": data,
                          "best": info["best"] is not None and value == info["best"],
                          "revision": row.get("model_revision") if c.key == "model" else None})
        rows.append(cells)
    return template.render(board=board, columns=columns, rows=rows)


def write_leaderboard(paths: Sequence[str | Path], out: str | Path, *, sort_by: str = DEFAULT_SORT,
                      allow_mixed: bool = False, title: str = "Fictional knowledge leaderboard") -> dict[str, Path]:
    """Validate results files and write leaderboard.json, leaderboard.md and index.html to ``out``."""
    loaded = [(str(p), load_any(p)[1]) for p in paths]
    board = build_leaderboard(loaded, sort_by=sort_by, allow_mixed=allow_mixed, title=title)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {"json": out / "leaderboard.json", "markdown": out / "leaderboard.md", "html": out / "index.html"}
    files["json"].write_text(json.dumps(board, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    files["markdown"].write_text(render_markdown(board), encoding="utf-8")
    files["html"].write_text(render_html(board), encoding="utf-8")
    return files
