"""Croissant 1.1 metadata (``croissant.json``) for a build, derived from its parquet files.

Every parquet shard is a ``cr:FileObject`` (relative ``contentUrl``, ``sha256``, size), every
config a ``cr:FileSet`` (``data/<config>/*.parquet``) and a ``cr:RecordSet`` whose fields are read
from the parquet schema itself, so the metadata cannot disagree with the data. The URLs are
relative to the repo root, where ``croissant.json`` sits next to ``data/`` once published: after
``snapshot_download`` at a tag, ``mlcroissant.Dataset("croissant.json").records("probes")`` reads
the rows. mlcroissant is imported only by :func:`validate_croissant`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Optional

from fictional_knowledge.models import CONFIG_NAMES

CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataBiases": "cr:dataBiases",
    "dataCollection": "cr:dataCollection",
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileObject": "cr:fileObject",
    "fileProperty": "cr:fileProperty",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "personalSensitiveInformation": "cr:personalSensitiveInformation",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}
CONFORMS_TO = "http://mlcommons.org/croissant/1.1"
PARQUET = "application/x-parquet"


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _data_type(arrow_type: Any) -> Any:
    """The mlcroissant ``DataType`` for a (non-list, non-struct) arrow type."""
    import mlcroissant as mlc
    import pyarrow as pa

    checks = [(pa.types.is_boolean, mlc.DataType.BOOL), (pa.types.is_int8, mlc.DataType.INT8),
              (pa.types.is_int16, mlc.DataType.INT16), (pa.types.is_int32, mlc.DataType.INT32),
              (pa.types.is_int64, mlc.DataType.INT64), (pa.types.is_float32, mlc.DataType.FLOAT32),
              (pa.types.is_float64, mlc.DataType.FLOAT64), (pa.types.is_integer, mlc.DataType.INTEGER),
              (pa.types.is_floating, mlc.DataType.FLOAT)]
    for check, data_type in checks:
        if check(arrow_type):
            return data_type
    return mlc.DataType.TEXT  # strings, and all-null columns


def _field(ctx: Any, record_id: str, name: str, arrow_type: Any, fileset: str, json_path: Optional[str] = None) -> Any:
    """An ``mlc.Field`` for one parquet column (or one member of a struct column, via ``jsonPath``)."""
    import mlcroissant as mlc
    import pyarrow as pa

    field_id = f"{record_id}/{name}"
    if pa.types.is_struct(arrow_type):
        subs = [_field(ctx, field_id, child.name, child.type, fileset, f"{json_path or name}.{child.name}")
                for child in arrow_type]
        return mlc.Field(ctx=ctx, id=field_id, name=name, sub_fields=subs)
    is_array = pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type)
    if is_array:
        arrow_type = arrow_type.value_type
    column = json_path.split(".")[0] if json_path else name
    transforms = [mlc.Transform(ctx=ctx, json_path=json_path.split(".", 1)[1])] if json_path and "." in json_path else []
    source = mlc.Source(ctx=ctx, file_set=fileset, extract=mlc.Extract(ctx=ctx, column=column), transforms=transforms)
    extra = dict(is_array=True, array_shape="-1") if is_array else {}
    return mlc.Field(ctx=ctx, id=field_id, name=name, data_types=[_data_type(arrow_type)], source=source, **extra)


def croissant_metadata(build_dir: str | Path, *, name: str, description: str, version: str,
                       license_url: str = "https://creativecommons.org/licenses/by/4.0/",
                       cite_as: Optional[str] = None, url: Optional[str] = None,
                       date_published: Optional[str] = None,
                       config_descriptions: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """The Croissant JSON-LD dict describing every config of the build at ``build_dir``, built
    with mlcroissant's own classes (``Metadata``, ``FileObject``, ``FileSet``, ``RecordSet``,
    ``Field``) and serialised by ``Metadata.to_json()``; mlcroissant's issues at construction
    raise ValueError."""
    import datetime as dt

    import pyarrow.parquet as pq
    try:
        import mlcroissant as mlc
        from mlcroissant._src.core.context import CroissantVersion
    except ImportError as exc:
        raise ImportError(f"croissant.json is built with mlcroissant, which is not installed ({exc}); "
                          "install the package's 'bench' extra (pip install 'fictional-knowledge[bench]')") from None

    build_dir = Path(build_dir)
    ctx = mlc.Context(conforms_to=CroissantVersion.V_1_1)
    distribution: list[Any] = []
    record_sets: list[Any] = []
    for config in CONFIG_NAMES:
        shards = sorted((build_dir / "data" / config).glob("*.parquet"))
        if not shards:
            continue
        for shard in shards:
            rel = shard.relative_to(build_dir).as_posix()
            distribution.append(mlc.FileObject(ctx=ctx, id=rel, name=rel, content_url=rel,
                                               content_size=f"{shard.stat().st_size} B",
                                               encoding_formats=[PARQUET], sha256=sha256_file(shard)))
        fileset = f"parquet-files-{config}"
        distribution.append(mlc.FileSet(ctx=ctx, id=fileset, name=fileset, encoding_formats=[PARQUET],
                                        includes=[f"data/{config}/*.parquet"],
                                        description=f"The parquet shards of the '{config}' config (split 'train')."))
        schema = pq.read_schema(shards[0])
        record_sets.append(mlc.RecordSet(
            ctx=ctx, id=config, name=config,
            description=(config_descriptions or {}).get(config, f"The '{config}' config."),
            fields=[_field(ctx, config, column.name, column.type, fileset) for column in schema]))
    if not record_sets:
        raise ValueError(f"{build_dir} has no data/<config>/*.parquet files")
    published = dt.datetime.fromisoformat(date_published) if date_published else None
    metadata = mlc.Metadata(ctx=ctx, name=name, description=description, version=version.lstrip("v"),
                            license=[license_url], cite_as=cite_as, url=url, date_published=published,
                            distribution=distribution, record_sets=record_sets)
    issues = metadata.ctx.issues
    if issues.errors:
        raise ValueError("mlcroissant rejects the metadata: " + "; ".join(sorted(str(e) for e in issues.errors)))
    return metadata.to_json()


def write_croissant(path: str | Path, meta: dict[str, Any]) -> Path:
    path = Path(path)
    path.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def validate_croissant(path: str | Path) -> list[str]:
    """Run mlcroissant's validation (what ``mlcroissant validate --jsonld PATH`` runs); raise
    ValueError with its report on errors, return its warnings."""
    import mlcroissant as mlc

    try:
        dataset = mlc.Dataset(jsonld=str(path))
    except mlc.ValidationError as err:
        raise ValueError(f"{path}: mlcroissant rejects it: {err}") from None
    return [str(w) for w in dataset.metadata.ctx.issues.warnings]
