"""Data in the schema of ``kaist-ai/fictional-knowledge`` (Chang et al. 2024), from anywhere.

A row has ``train_context`` and three pairs of parallel lists: ``mem_input``/``mem_target``
(memorization), ``gen_input``/``gen_target`` (semantic) and ``hard_gen_input``/``hard_gen_target``
(compositional); FK has 5 of each, we accept any equal lengths. Every (input, target) pair becomes
a probe scored by the probe rule: the text is ``input + " " + target`` and only ``" " + target``
is scored.

Sources: a JSON file (a list of rows, or ``{"data": [...]}``), a JSON Lines file, a parquet file,
a folder of such files, or a Hugging Face dataset (Hub id, optional ``revision``) loaded with
``datasets.load_dataset``. The ``fictional_knowledge`` config of a build is one such source.

Nothing is dropped: a row whose input and target lists differ in length is refused with its
position. Pairs that are scored as given but break the probe rule are counted and reported:
an input that ends with an opening quote or bracket (12 of FK's 650 memorization probes: the join
puts a space after the quote, which the passage does not have) and targets with leading or
trailing whitespace.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

from fictional_knowledge.dataset.io import read_records
from fictional_knowledge.errors import InputError

#: probe kind -> (input field, target field) of the FK schema
FK_FIELDS: dict[str, tuple[str, str]] = {
    "memorization": ("mem_input", "mem_target"),
    "semantic": ("gen_input", "gen_target"),
    "compositional": ("hard_gen_input", "hard_gen_target"),
}
FILE_SUFFIXES = (".json", ".jsonl", ".parquet")
OPENING = ('"', "'", "\u201c", "\u2018", "\u00ab", "(", "[")


class FKSchemaError(InputError, ValueError):
    """Data that is not in the FK schema (one-line message)."""


@dataclass(frozen=True)
class FKSource:
    """Where FK-schema rows came from: ``kind`` is ``file``, ``folder`` or ``hub``; ``sha256``
    covers the bytes of the file(s) read (None for Hub data read through ``datasets``)."""

    kind: str
    path: str
    revision: Optional[str] = None
    config: Optional[str] = None
    split: Optional[str] = None
    sha256: Optional[str] = None
    files: tuple[str, ...] = ()


@dataclass
class FKProbes:
    """FK rows turned into probe dicts (``id``, ``kind``, ``input``, ``target``, ``entity_id``)."""

    probes: list[dict]
    rows: int
    opening_quote: list[str] = field(default_factory=list)  # probe ids whose input ends with an opening quote
    untrimmed_target: list[str] = field(default_factory=list)

    def report_lines(self) -> list[str]:
        lines = []
        if self.opening_quote:
            lines.append(f"{len(self.opening_quote)} probe(s) whose input ends with an opening quote or bracket are "
                         f"scored by the rule (input + ' ' + target), which puts a space after the quote: "
                         + ", ".join(self.opening_quote[:5]) + (" ..." if len(self.opening_quote) > 5 else ""))
        if self.untrimmed_target:
            lines.append(f"{len(self.untrimmed_target)} target(s) with leading/trailing whitespace are scored as given: "
                         + ", ".join(self.untrimmed_target[:5]) + (" ..." if len(self.untrimmed_target) > 5 else ""))
        return lines


def _sha256_files(files: Iterable[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _read_file(path: Path) -> list[dict]:
    data = read_records(path, FKSchemaError)
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise FKSchemaError(f"{path}: expected a JSON list of FK rows (or {{\"data\": [...]}})")
    return data


def is_build(path: str | Path) -> bool:
    """A build folder of this package (it has ``manifest.json``)."""
    return (Path(path) / "manifest.json").is_file()


def load_fk_rows(data: str | Path, *, revision: Optional[str] = None, config: Optional[str] = None,
                 split: Optional[str] = None) -> tuple[list[dict], FKSource]:
    """Read FK-schema rows from a file, a folder of files, a build (its ``fictional_knowledge``
    config) or a Hugging Face dataset id (through ``datasets.load_dataset``)."""
    p = Path(data)
    if p.is_file():
        if p.suffix not in FILE_SUFFIXES:
            raise FKSchemaError(f"{p}: unsupported file type {p.suffix!r}; expected {', '.join(FILE_SUFFIXES)}")
        rows = _read_file(p)
        return rows, FKSource("file", str(p), sha256=_sha256_files([p]), files=(p.name,))
    if p.is_dir():
        root = p / "data" / "fictional_knowledge" if is_build(p) else p
        files = sorted(f for f in root.rglob("*") if f.is_file() and f.suffix in FILE_SUFFIXES
                       and not f.name.startswith("."))
        if not files:
            raise FKSchemaError(f"{p}: no {', '.join(FILE_SUFFIXES)} files with FK-schema rows")
        rows = [r for f in files for r in _read_file(f)]
        return rows, FKSource("folder", str(p), config="fictional_knowledge" if root != p else None,
                              sha256=_sha256_files(files), files=tuple(str(f.relative_to(p)) for f in files))
    if str(data).startswith((".", "/", "~")) or str(data).count("/") != 1:
        raise FKSchemaError(f"{data}: no such build folder (with manifest.json), FK-schema file or folder, "
                            "and not a Hub id like org/name")
    return _load_hub(str(data), revision=revision, config=config, split=split)


def _load_hub(repo_id: str, *, revision: Optional[str], config: Optional[str], split: Optional[str]):
    import datasets

    try:
        ds = datasets.load_dataset(repo_id, config, revision=revision, split=split)
    except Exception as exc:  # noqa: BLE001 - one line for the user, whatever datasets raised
        raise FKSchemaError(f"cannot load {repo_id!r}" + (f" at revision {revision!r}" if revision else "")
                            + f": {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if isinstance(ds, datasets.DatasetDict):
        if len(ds) != 1:
            raise FKSchemaError(f"{repo_id} has splits {', '.join(ds)}; choose one with a split")
        split, ds = next(iter(ds.items()))
    return ds.to_list(), FKSource("hub", repo_id, revision=revision, config=config, split=split)


def fk_probes(rows: list[dict], kinds: Iterable[str] = tuple(FK_FIELDS)) -> FKProbes:
    """Probes (dicts with ``id``, ``kind``, ``input``, ``target``, ``entity_id``) of FK rows, in
    row order and by kind. Ids are ``fk-R-KIND-I`` (row R, pair I), or use the row's
    ``passage_id`` where it has one."""
    kinds = list(kinds)
    unknown = [k for k in kinds if k not in FK_FIELDS]
    if unknown:
        raise FKSchemaError(f"unknown kind(s) {', '.join(unknown)}; FK-schema data has {', '.join(FK_FIELDS)}")
    out = FKProbes(probes=[], rows=len(rows))
    for r, row in enumerate(rows):
        if not isinstance(row, dict):
            raise FKSchemaError(f"row {r}: not an object")
        missing = [f for k in kinds for f in FK_FIELDS[k] if f not in row]
        if missing:
            raise FKSchemaError(f"row {r}: missing FK-schema field(s) {', '.join(missing)}")
        base = row.get("passage_id") or f"fk-{r}"
        for kind in kinds:
            fin, ftg = FK_FIELDS[kind]
            inputs, targets = row[fin], row[ftg]
            if not isinstance(inputs, list) or not isinstance(targets, list):
                raise FKSchemaError(f"row {r}: {fin} and {ftg} must be lists")
            if len(inputs) != len(targets):
                raise FKSchemaError(f"row {r}: {fin} has {len(inputs)} item(s) but {ftg} has {len(targets)}")
            for i, (inp, tgt) in enumerate(zip(inputs, targets)):
                if not isinstance(inp, str) or not isinstance(tgt, str) or not tgt.strip():
                    raise FKSchemaError(f"row {r}: {fin}[{i}]/{ftg}[{i}] must be strings with a non-empty target")
                pid = f"{base}-{kind}-{i}"
                if inp.rstrip().endswith(OPENING):
                    out.opening_quote.append(pid)
                if tgt != tgt.strip():
                    out.untrimmed_target.append(pid)
                out.probes.append({"id": pid, "kind": kind, "input": inp, "target": tgt,
                                   "entity_id": row.get("entity_id") or base})
    return out


def fingerprint_fk_rows(rows: list[dict]) -> str:
    """The content fingerprint of FK rows (the one ``manifest.json`` uses: order-free, canonical JSON)."""
    from fictional_knowledge.dataset.fingerprint import fingerprint_rows

    return fingerprint_rows(rows).fingerprint


def evaluate_fk(model: Any, tokenizer: Any, data: str | Path, *, model_name: str, kinds: Iterable[str] = tuple(FK_FIELDS),
                limit: int | None = None, batch_size: int = 16, revision: Optional[str] = None,
                config: Optional[str] = None, split: Optional[str] = None, progress: bool = False,
                settings: dict | None = None, threads: int | None = None):
    """Score FK-schema data as memorization / semantic / compositional probes. Returns
    ``(Evaluation, FKProbes)``; the results' ``dataset`` records the source (path or Hub id,
    revision, file SHA-256, row fingerprint) and ``settings`` the rule-breaking counts."""
    from datetime import datetime, timezone

    from fictional_knowledge import __version__
    from fictional_knowledge.evaluate.results import DatasetRef, Results
    from fictional_knowledge.evaluate.scoring import ProbeScorer, resolve_max_length, torch_threads
    from fictional_knowledge.evaluate.scoring_qa import Evaluation, score_probes

    rows, source = load_fk_rows(data, revision=revision, config=config, split=split)
    if not rows:
        raise FKSchemaError(f"{data}: no rows")
    fk = fk_probes(rows, kinds)
    kinds = [k for k in FK_FIELDS if k in set(kinds)]
    probes = [p for k in kinds for p in [q for q in fk.probes if q["kind"] == k][:limit]]
    with torch_threads(threads) as n:
        scorer = ProbeScorer(tokenizer, probes, batch_size=batch_size, threads=n)
        out_rows, scores = score_probes(scorer, model, probes, kinds, progress=progress)
    all_settings = {"batch_size": batch_size, "kinds": ",".join(kinds), "limit": limit, "threads": n,
                    "max_length": resolve_max_length(model, tokenizer), "data_format": "fk-schema",
                    "fk_rows": len(rows), "fk_opening_quote_probes": len(fk.opening_quote),
                    "fk_untrimmed_targets": len(fk.untrimmed_target),
                    "tokenization": "lm-eval 0.4 loglikelihood (_encode_pair)", **(settings or {})}
    dataset = DatasetRef(path=source.path, source=source.kind, revision=source.revision, config=source.config,
                         split=source.split, sha256=source.sha256,
                         fingerprints={"fictional_knowledge": fingerprint_fk_rows(rows)})
    results = Results(package_version=__version__, model=model_name,
                      model_revision=getattr(getattr(model, "config", None), "_commit_hash", None),
                      dataset=dataset, settings=all_settings, scores=scores,
                      created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    return Evaluation(results=results, rows=out_rows), fk
