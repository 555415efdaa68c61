"""The README.md of a build folder: YAML front matter that ``datasets`` reads, and a short card."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml

from fictional_knowledge.models import CONFIG_NAMES, Manifest, build_command

DESCRIPTIONS = {
    "entities": "one fictional entity: id, type, unique name, typed attributes",
    "facts": "one (subject, relation, object) triple; object_id set when the object is an entity",
    "passages": "a Wikipedia-style passage about one focal entity, with its paraphrases and fact ids",
    "probes": "a cloze probe (memorization, semantic or compositional): input + ' ' + target",
    "statements": "a fact-storing sentence, one per fact",
    "qa": "a fact-recalling question with its answer, a paraphrased question and multiple choices",
    "fictional_knowledge": "a row in the schema of kaist-ai/fictional-knowledge (Chang et al. 2024)",
}


def recipe_tag(manifest: Manifest) -> str:
    """12 hex digits that identify what a build's content depends on: package version, full
    configuration and template files (not the shard). Parquet file names and the README's
    ``data_files`` patterns carry it, because ``datasets`` keys its cache on those patterns: a
    folder rebuilt in place with another seed must not load the old rows from the cache."""
    recipe = {"package_version": manifest.package_version, "config": manifest.config.model_dump(mode="json"),
              "template_hashes": manifest.template_hashes}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def front_matter(manifest: Manifest) -> dict:
    tag = recipe_tag(manifest)
    return {
        "license": "cc-by-4.0",
        "language": ["en"],
        "pretty_name": "Fictional Knowledge (generated)",
        "task_categories": ["text-generation", "question-answering"],
        "tags": ["synthetic", "fictional-knowledge", "knowledge-acquisition", "memorization"],
        "configs": [
            {"config_name": name, "data_files": [{"split": "train", "path": f"data/{name}/{tag}-*.parquet"}]}
            for name in CONFIG_NAMES
        ],
    }


def write_card(folder: Path, manifest: Manifest) -> None:
    c = manifest.config
    lines = [
        "---",
        yaml.safe_dump(front_matter(manifest), sort_keys=False).rstrip(),
        "---",
        "",
        "# Fictional Knowledge (generated build)",
        "",
        f"Built by `fictional-knowledge` {manifest.package_version} with seed {c.seed} "
        f"({c.entities} focal entities, {c.paraphrases} paraphrases per passage"
        + (f", shard {manifest.shard}" if manifest.shard else "") + ").",
        f"Rebuild it with `{build_command(c)}`.",
        "Every entity, fact and sentence is invented; names are generated and unique.",
        "",
        "| config | rows | one row is | fingerprint |",
        "|---|---|---|---|",
    ]
    for name in CONFIG_NAMES:
        s = manifest.configs[name]
        lines.append(f"| `{name}` | {s.rows:,} | {DESCRIPTIONS[name]} | `{s.fingerprint[:16]}` |")
    lines += ["", "Load a config with `datasets.load_dataset(FOLDER, CONFIG, split=\"train\")`.", ""]
    (folder / "README.md").write_text("\n".join(lines))
