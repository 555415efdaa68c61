"""Reading a build folder without going through ``datasets`` (fast, no cache), and reading the
rows of a single JSON, JSONL or parquet file (:func:`read_records`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Iterator

import pyarrow.parquet as pq

from fictional_knowledge.errors import InputError
from fictional_knowledge.models import CONFIG_NAMES, Manifest


def config_files(build_dir: str | Path, config: str) -> list[Path]:
    """The parquet shards of one config of a build, in order."""
    if config not in CONFIG_NAMES:
        raise ValueError(f"unknown config {config!r}; expected one of {', '.join(CONFIG_NAMES)}")
    return sorted((Path(build_dir) / "data" / config).glob("*.parquet"))


def iter_rows(build_dir: str | Path, config: str, batch_size: int = 4096) -> Iterator[dict]:
    """Stream the rows of one config as plain dicts."""
    for path in config_files(build_dir, config):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
            yield from batch.to_pylist()


def read_rows(build_dir: str | Path, config: str) -> list[dict]:
    return list(iter_rows(build_dir, config))


def read_manifest(build_dir: str | Path) -> Manifest:
    path = Path(build_dir) / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"{build_dir} has no manifest.json: is it a fictional-knowledge build?")
    return Manifest.model_validate(json.loads(path.read_text()))


def check_files(build_dir: str | Path, configs: Iterable[str]) -> None:
    """Before any work: every parquet file of ``configs`` opens (its footer and schema read) and
    has the columns of the config's schema; ``InputError`` names the file otherwise."""
    import pyarrow as pa

    from fictional_knowledge.dataset.arrow import schema_of
    from fictional_knowledge.errors import InputError

    for config in configs:
        files = config_files(build_dir, config)
        if not files:
            raise InputError(f"{build_dir} has no data/{config}/*.parquet files")
        want = schema_of(config).names
        for path in files:
            try:
                have = pq.read_schema(path).names
            except (pa.ArrowException, OSError) as exc:
                raise InputError(f"{path}: unreadable parquet file: {str(exc).splitlines()[0]}") from None
            missing = [c for c in want if c not in have]
            if missing:
                raise InputError(f"{path}: missing column(s) {', '.join(missing)}")


def read_records(path: str | Path, error: type[Exception] = InputError):
    """The content of one data file: a list of row dicts for ``.parquet`` and ``.jsonl`` (one JSON
    value per non-empty line), the parsed JSON value for ``.json``. Anything unreadable (not
    UTF-8, not JSON with the line that is not, damaged parquet, an OS error) raises ``error``
    with one line naming the file; so does another suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            import pyarrow as pa

            try:
                return pq.read_table(path).to_pylist()
            except (pa.ArrowException, OSError) as err:
                raise error(f"{path}: unreadable parquet: {str(err).splitlines()[0]}") from None
        if suffix not in (".json", ".jsonl"):
            raise error(f"{path}: expected a .json, .jsonl or .parquet file")
        text = path.read_text(encoding="utf-8")
        if suffix == ".jsonl":
            records = []
            for i, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError as err:
                        raise error(f"{path}:{i}: not JSON: {err.msg}") from None
            return records
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise error(f"{path}: not JSON: {err.msg} (line {err.lineno})") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text") from None
    except OSError as err:
        raise error(f"cannot read {path}: {err.strerror}") from None


def iter_columns(build_dir: str | Path, config: str, columns: Iterable[str] | None = None,
                 batch_size: int = 4096) -> Iterator[dict]:
    """Stream the rows of one config as plain dicts holding only ``columns`` (all when None),
    one parquet batch at a time: memory stays flat in the size of the build."""
    columns = None if columns is None else list(columns)
    for path in config_files(build_dir, config):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size, columns=columns):
            yield from batch.to_pylist()
