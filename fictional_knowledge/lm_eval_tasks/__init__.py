"""lm-evaluation-harness (0.4.x) tasks for fictional-knowledge builds.

The YAML files in this folder are lm-eval task and group configs. As shipped they read the Hub
dataset named in ``_probes_source.yaml`` / ``_qa_source.yaml``; :func:`write_tasks` copies them
to a folder of your choice with the data source replaced by a local build (or another Hub repo),
for ``lm-eval run --include_path DIR --tasks fictional_knowledge``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

from fictional_knowledge.kinds import PROBE_KIND_TABLE

TASKS_DIR = Path(__file__).resolve().parent
"""The folder of the shipped task YAMLs (what ``fkgen lm-eval-tasks`` prints)."""

GROUP = "fictional_knowledge"
CLOZE_GROUP = "fictional_knowledge_cloze"
#: probe kind -> its cloze task, from ``kinds.PROBE_KIND_TABLE`` (a test checks that each has its
#: YAML file and ``utils`` function and that the cloze group lists it)
CLOZE_TASKS: dict[str, str] = {k.name: k.lm_eval_task for k in PROBE_KIND_TABLE}
QA_MC_TASK = "fictional_knowledge_qa_mc"
QA_GEN_TASK = "fictional_knowledge_qa_gen"
TASK_NAMES: tuple[str, ...] = (*CLOZE_TASKS.values(), QA_MC_TASK, QA_GEN_TASK)
ALL_NAMES: tuple[str, ...] = (GROUP, CLOZE_GROUP, *TASK_NAMES)

# config of the build -> the source file that names where lm-eval reads it from
_SOURCE_FILES = {"probes": "_probes_source.yaml", "qa": "_qa_source.yaml"}


def _source_yaml(config: str, data: str, revision: Optional[str]) -> dict:
    """The dataset keys of one source file: a local build folder is read as parquet shards,
    anything else is taken as a Hub dataset repo id with ``config`` as its config name."""
    folder = Path(data).expanduser()
    if folder.is_dir():
        shards = folder.resolve() / "data" / config
        if not any(shards.glob("*.parquet")):
            raise FileNotFoundError(
                f"{folder} has no data/{config}/*.parquet: is it a fictional-knowledge build?"
            )
        return {
            "dataset_path": "parquet",
            "dataset_kwargs": {"data_files": {"train": str(shards / "*.parquet")}},
            "test_split": "train",
        }
    if data.count("/") != 1 or data.startswith(("/", ".", "~")) or folder.parent.is_dir():
        # 'builds/seed-0' with a local 'builds/' folder is a mistyped path, not a Hub repo
        raise ValueError(f"{data!r} is neither a build folder nor a Hub repo id like 'org/name'")
    out: dict = {"dataset_path": data, "dataset_name": config, "test_split": "train"}
    if revision:
        out["dataset_kwargs"] = {"revision": revision}
    return out


def write_tasks(
    out: str | Path, data: Optional[str | Path] = None, *, revision: Optional[str] = None
) -> Path:
    """Copy the shipped task folder to ``out`` with its data source set to ``data`` (a build
    folder, or a Hub repo id; ``revision`` pins a Hub tag or commit; ``None`` keeps the shipped
    source) and return ``out``.

    Files already in ``out`` with the same names are overwritten; nothing else there is touched.
    """
    import yaml

    out = Path(out).expanduser().resolve()
    if out == TASKS_DIR:
        raise ValueError("refusing to overwrite the shipped task folder; choose another --out")
    # resolve (and check) the data source before writing anything
    sources = {} if data is None else {
        name: _source_yaml(config, str(data), revision) for config, name in _SOURCE_FILES.items()
    }
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(TASKS_DIR.iterdir()):
        if path.suffix in (".yaml", ".py") and path.name != "__init__.py":
            shutil.copyfile(path, out / path.name)
    for name, keys in sources.items():
        body = yaml.safe_dump(keys, sort_keys=False)
        (out / name).write_text(f"# Written by `fkgen lm-eval-tasks --data {data}`.\n{body}")
    return out
