"""JSON Schemas generated from the Pydantic models (``fkgen schemas`` writes ``schemas/``)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from fictional_knowledge.models import RECORD_MODELS, BuildConfig, Manifest
from fictional_knowledge.resources import schemas_dir
from fictional_knowledge.generate.templates import TemplateFile

EXTRA_MODELS = {"build_config": BuildConfig, "manifest": Manifest, "template_file": TemplateFile}


def generate() -> dict[str, str]:
    """File name -> JSON text of every schema."""
    out = {}
    for name, model in {**RECORD_MODELS, **EXTRA_MODELS}.items():
        schema = model.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://fictional-knowledge.invalid/schemas/{name}.schema.json"
        out[f"{name}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


def write(folder: str | Path) -> list[Path]:
    """Write every schema into ``folder``, each file atomically (other files there are kept)."""
    from fictional_knowledge.atomic import check_out_path, write_text

    folder = check_out_path(folder)
    texts = generate()
    folder.mkdir(parents=True, exist_ok=True)
    return [write_text(folder / name, text) for name, text in texts.items()]


@lru_cache(maxsize=None)
def validator(config: str):
    """A jsonschema validator for the rows of ``config``, from the shipped schema file."""
    import jsonschema

    schema = json.loads((schemas_dir() / f"{config}.schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)
