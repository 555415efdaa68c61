"""Writing a regime folder: parquet per config and split, a README whose YAML front matter
``datasets`` reads, and ``regime_manifest.json``.

Layout: ``data/<config>/<split>-<digest>-NNNNN.parquet`` (the digest: see :func:`_write_split`).
``datasets.load_dataset(folder, config, split=split)`` loads a split with no loading script. The
manifest records, per config and split, the row count, the order-free fingerprint of
:mod:`fictional_knowledge.dataset.fingerprint` (the build's own), and ``sequence``: a SHA-256 over the rows
in file order, since a regime's order (a shuffled mixed set, a background stream) is part of what
it is.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Sequence, Union

from pydantic import BaseModel

from fictional_knowledge import __version__
from fictional_knowledge.dataset.fingerprint import MOD, Accumulator, canonical_json
from fictional_knowledge.models import BuildConfig, ConfigSummary
from fictional_knowledge.regimes.common import Dumped, RegimeError, Row, Source

FILE_ROWS = 50_000
MANIFEST = "regime_manifest.json"


class SplitSummary(Row):
    rows: int
    fingerprint: str
    sequence: str


class SourceBuild(Row):
    """What a regime was made from: enough to rebuild the build and to check it is the same."""

    package_version: str
    config: BuildConfig
    template_hashes: dict[str, str]
    configs: dict[str, ConfigSummary]


class RegimeManifest(Row):
    format_version: Literal[1] = 1
    package: str = "fictional-knowledge"
    package_version: str
    regime: str
    seed: int
    options: dict[str, Any]
    source: SourceBuild
    configs: dict[str, dict[str, SplitSummary]]
    notes: dict[str, Any]


@lru_cache(maxsize=None)
def arrow_schema(model: type[BaseModel]):
    """The arrow schema of a row model (same mapping as the build's ``arrow.schema_of``)."""
    import pyarrow as pa

    from fictional_knowledge.dataset.arrow import arrow_type

    return pa.schema([pa.field(n, arrow_type(f.annotation), nullable=not f.is_required())
                      for n, f in model.model_fields.items()])


def cli_options(options: BaseModel) -> str:
    """The ``fkgen regime`` flags that reproduce ``options`` (lists comma-separated)."""
    parts = []
    for name, value in options.model_dump(mode="json").items():
        if value is None:
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            parts.append(flag if value else "--no-" + name.replace("_", "-"))
        elif isinstance(value, list):
            parts.append(f"{flag} {','.join(str(v) for v in value)}")
        else:
            parts.append(f"{flag} {value}")
    return " ".join(parts)


def _write_split(folder: Path, split: str, rows: Iterable[Row], empty: str) -> SplitSummary:
    """Write one split as ``<split>-<sequence[:12]>-NNNNN.parquet``, ``FILE_ROWS`` rows a file,
    as the rows stream by (only one file's rows are held). The digest in the name makes the
    README's ``data_files`` pattern change with the content: ``datasets`` keys its cache on the
    README's YAML (patterns, not file contents), so a folder remade in place with other data would
    otherwise load stale cached rows. ``empty`` is the error message of a split with no row."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    model = None
    acc, seq = Accumulator(), hashlib.sha256()
    buffer: list[dict] = []
    parts: list[Path] = []

    def flush() -> None:
        table = pa.Table.from_pylist(buffer, schema=arrow_schema(model))
        part = folder / f".{split}-part-{len(parts):05d}.parquet"
        pq.write_table(table, part, compression="zstd")
        parts.append(part)
        buffer.clear()

    for r in rows:
        rtype, d = (r.model, r.data) if type(r) is Dumped else (type(r), None)
        if model is None:
            model = rtype
        elif rtype is not model:
            raise TypeError(f"rows of {folder.name}/{split} mix several models")
        if d is None:
            d = r.model_dump()
        digest = hashlib.sha256(canonical_json(d).encode()).digest()  # Accumulator.add's row digest, once
        acc.rows += 1
        acc.total = (acc.total + int.from_bytes(digest, "big")) % MOD
        seq.update(digest)
        buffer.append(d)
        if len(buffer) == FILE_ROWS:
            flush()
    if model is None:
        raise RegimeError(empty)
    if buffer:
        flush()
    summary = SplitSummary(rows=acc.rows, fingerprint=acc.fingerprint, sequence=seq.hexdigest())
    for i, part in enumerate(parts):
        part.rename(folder / f"{split}-{summary.sequence[:12]}-{i:05d}.parquet")
    return summary


#: a split's rows: a list, or a function that returns an iterable of them (called once, while
#: the split is written, so a regime can stream rows it never holds all at once)
Rows = Union[Sequence[Row], Callable[[], Iterable[Row]]]


def write_regime(out: str | Path, *, regime: str, seed: int, options: BaseModel, source: Source,
                 configs: dict[str, dict[str, Rows]], notes: dict[str, Any] | Callable[[], dict[str, Any]],
                 summary: str, descriptions: dict[str, str], overwrite: bool = False) -> RegimeManifest:
    """Write ``configs`` (config -> split -> rows) into the folder ``out``, through a temporary
    folder beside it that is renamed into place only when complete. A split given as a function
    is streamed; ``notes`` may be a function, called after every split is written."""
    from fictional_knowledge.atomic import atomic_folder
    from fictional_knowledge.dataset.builder import BuildError, check_output_folder

    try:
        check_output_folder(out, overwrite)
    except BuildError as exc:
        raise RegimeError(str(exc)) from None

    def empty(config: str, split: str) -> str:
        return f"{regime}: {config}/{split} would be empty with these options"

    for config, splits in configs.items():
        for split, rows in splits.items():
            if not callable(rows) and not rows:
                raise RegimeError(empty(config, split))
    with atomic_folder(out, overwrite=overwrite) as tmp:
        summaries: dict[str, dict[str, SplitSummary]] = {}
        for config, splits in configs.items():
            folder = tmp / "data" / config
            folder.mkdir(parents=True)
            summaries[config] = {split: _write_split(folder, split, rows() if callable(rows) else rows,
                                                     empty(config, split))
                                 for split, rows in splits.items()}
        m = source.manifest
        manifest = RegimeManifest(
            package_version=__version__, regime=regime, seed=seed, options=options.model_dump(mode="json"),
            source=SourceBuild(package_version=m.package_version, config=m.config,
                               template_hashes=m.template_hashes, configs=m.configs),
            configs=summaries, notes=notes() if callable(notes) else notes)
        (tmp / MANIFEST).write_text(json.dumps(manifest.model_dump(mode="json"), indent=2) + "\n")
        (tmp / "README.md").write_text(card(manifest, summary, descriptions, cli_options(options)))
    return manifest


def card(manifest: RegimeManifest, summary: str, descriptions: dict[str, str], flags: str) -> str:
    """README.md of a regime folder: YAML ``configs:`` front matter and a short card."""
    import yaml

    front = {
        "license": "cc-by-4.0", "language": ["en"],
        "pretty_name": f"Fictional Knowledge: {manifest.regime} regime",
        "tags": ["synthetic", "fictional-knowledge", f"regime-{manifest.regime}"],
        "configs": [{"config_name": c, "data_files": [{"split": s, "path": f"data/{c}/{s}-{v.sequence[:12]}-*.parquet"}
                                                    for s, v in splits.items()]}
                    for c, splits in manifest.configs.items()],
    }
    b = manifest.source.config
    lines = ["---", yaml.safe_dump(front, sort_keys=False).rstrip(), "---", "",
             f"# Fictional Knowledge: the `{manifest.regime}` regime", "", summary, "",
             f"Made by `fictional-knowledge` {manifest.package_version} from a build of seed {b.seed} "
             f"({b.entities} focal entities, {b.paraphrases} paraphrases), with regime seed {manifest.seed}. "
             "Remake it with:", "", "```bash",
             f"fkgen build --seed {b.seed} --entities {b.entities} --paraphrases {b.paraphrases} --out BUILD",
             f"fkgen regime {manifest.regime} BUILD --out DIR --seed {manifest.seed} {flags}".rstrip(), "```", "",
             "| config | split | rows | one row is | fingerprint |", "|---|---|---|---|---|"]
    for config, splits in manifest.configs.items():
        for split, s in splits.items():
            lines.append(f"| `{config}` | `{split}` | {s.rows:,} | {descriptions.get(config, '')} | `{s.fingerprint[:16]}` |")
    lines += ["", 'Load a split with `datasets.load_dataset(FOLDER, CONFIG, split=SPLIT)`; '
              f"`{MANIFEST}` has the options, the source build's fingerprints and every split's fingerprint.", ""]
    return "\n".join(lines)
