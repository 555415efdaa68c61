"""``fkgen show``: one entity, readable by a person."""

from __future__ import annotations

import textwrap
from pathlib import Path

from fictional_knowledge.dataset.io import iter_rows as _iter_rows
from fictional_knowledge.errors import InputError


class ShowError(InputError, LookupError):
    """The entity cannot be shown (not found, or an unreadable file); one line for the user."""


def iter_rows(build_dir: Path, config: str):
    """The rows of one config; an unreadable parquet file is a ShowError naming it, not a traceback."""
    import pyarrow as pa

    try:
        yield from _iter_rows(build_dir, config)
    except (pa.ArrowException, OSError) as err:
        raise ShowError(f"cannot read the {config} of {build_dir}: {type(err).__name__}: "
                        f"{str(err).splitlines()[0] if str(err) else ''}") from None


def find_entity(build_dir: Path, key: str) -> dict:
    """The entity row whose id or name is ``key`` (names compared case-insensitively)."""
    matches = [e for e in iter_rows(build_dir, "entities") if e["id"] == key or e["name"].lower() == key.lower()]
    if not matches:
        raise ShowError(f"no entity with id or name {key!r} in {build_dir}")
    return matches[0]


def render_entity(build_dir: Path, entity: dict, *, all_paraphrases: bool = False) -> str:
    eid = entity["id"]
    wrap = lambda t: "\n\n".join(textwrap.fill(p, 100) for p in t.split("\n\n"))  # noqa: E731
    out = [f"{entity['name']}  ({entity['type']}, {eid})", "", "Facts:"]
    for f in iter_rows(build_dir, "facts"):
        if f["subject_id"] == eid:
            linked = f"  -> {f['object_id']}" if f["object_id"] else ""
            out.append(f"  {f['relation']:<18} {f['object']}{linked}")
    passage = next((p for p in iter_rows(build_dir, "passages") if p["entity_id"] == eid), None)
    if passage is None:
        out += ["", "(no passage: this entity is in the build only because a focal entity links to it)"]
        return "\n".join(out)
    out += ["", f"Passage ({len(passage['text'].split())} words, {passage['id']}):", wrap(passage["text"])]
    paras = passage["paraphrases"] if all_paraphrases else passage["paraphrases"][:1]
    for k, para in enumerate(paras):
        out += ["", f"Paraphrase {k + 1} of {len(passage['paraphrases'])}:", wrap(para)]
    out += ["", "Probes (input || target):"]
    for p in iter_rows(build_dir, "probes"):
        if p["passage_id"] == passage["id"]:
            where = "" if p["in_passage"] else "  [needs other passages]"
            out.append(f"  {p['kind']:<13} {p['input']} || {p['target']}{where}")
    out += ["", "Questions:"]
    for q in iter_rows(build_dir, "qa"):
        if q["entity_id"] == eid:
            out.append(f"  {q['question']}  ->  {q['answer']}   choices: {', '.join(q['choices'])}")
    return "\n".join(out)
