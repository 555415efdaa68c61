"""``fkgen validate``: check a build against the JSON Schemas and the data contract's invariants.

Validation is a list of named checks (:data:`CHECKS`), each a function of one batch of rows of one
config, some with a final step. The build is streamed file by file in small pyarrow batches; what
is kept between batches is compact: 64-bit hashes of ids in numpy arrays, and, for the joins, the
entity names and fact values in arrow string arrays indexed by those hashes. Peak memory therefore
grows by tens of bytes per row, not with the rows themselves.

A shard of a build (``fkgen build --shard i/n``) holds the passages of some chunks only, so its
rows point at entities and facts that other shards hold. A shard is validated with the joins
checked within what it holds: references to ids it does not hold are counted
(:attr:`Report.outside`), not failed.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np
import pyarrow as pa

from fictional_knowledge.dataset.fingerprint import Accumulator
from fictional_knowledge.generate.render import span_problem
from fictional_knowledge.models import CONFIG_NAMES
from fictional_knowledge.errors import InputError

MAX_EXAMPLES = 3
BATCH_ROWS = 256  # passages carry up to 9 paraphrases: keep batches small


class ValidateError(InputError):
    """The build cannot be validated at all (not a folder); the message is one line."""


@dataclass
class Report:
    """Failures by check name, each with a count and a few examples."""

    failures: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    shard: Optional[str] = None
    outside: int = 0  # references not checked: to rows of other shards, or into an unreadable config
    rows: dict[str, int] = field(default_factory=dict)

    def fail(self, check: str, example: str, n: int = 1) -> None:
        self.counts[check] += n
        if len(self.failures[check]) < MAX_EXAMPLES:
            self.failures[check].append(_one_line(example))

    @property
    def ok(self) -> bool:
        return not self.counts

    def lines(self) -> list[str]:
        out = []
        for check, n in sorted(self.counts.items()):
            out.append(f"FAIL {check}: {n} row(s)")
            out.extend(f"    {e}" for e in self.failures[check])
        return out


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _h(value: str) -> int:
    """A 64-bit hash of a string, for in-memory sets only (salted per process, never stored)."""
    return hash(value)


class HashSet:
    """Append-only multiset of 64-bit hashes kept as numpy arrays."""

    def __init__(self) -> None:
        self._parts: list[np.ndarray] = []
        self._buf: list[int] = []
        self._sorted: Optional[np.ndarray] = None

    def add(self, value: str) -> None:
        self._buf.append(_h(value))
        if len(self._buf) >= 65536:
            self._flush()

    def _flush(self) -> None:
        if self._buf:
            self._parts.append(np.array(self._buf, dtype=np.int64))
            self._buf = []
            self._sorted = None

    def array(self) -> np.ndarray:
        self._flush()
        if self._sorted is None:
            self._sorted = np.sort(np.concatenate(self._parts)) if self._parts else np.zeros(0, np.int64)
            self._parts = [self._sorted]
        return self._sorted

    def __contains__(self, value: str) -> bool:
        arr = self.array()
        i = np.searchsorted(arr, _h(value))
        return bool(i < len(arr) and arr[i] == _h(value))

    def duplicates(self) -> tuple[int, set[int]]:
        """(rows beyond the first of each repeated hash, the repeated hashes)."""
        arr = self.array()
        if len(arr) < 2:
            return 0, set()
        same = arr[1:] == arr[:-1]
        return int(same.sum()), set(arr[1:][same].tolist())


class IntRows:
    """Append-only table of ``width`` 64-bit integers per row, kept as numpy blocks (a Python
    list of ints would cost ~36 bytes per value instead of 8)."""

    def __init__(self, width: int) -> None:
        self.width = width
        self._blocks: list[np.ndarray] = []
        self._buf: list[int] = []

    def add(self, *values: int) -> None:
        self._buf.extend(values)
        if len(self._buf) >= 65536 * self.width:
            self._flush()

    def _flush(self) -> None:
        if self._buf:
            self._blocks.append(np.array(self._buf, dtype=np.int64).reshape(-1, self.width))
            self._buf = []

    def array(self) -> np.ndarray:
        self._flush()
        if len(self._blocks) != 1:
            self._blocks = [np.concatenate(self._blocks) if self._blocks else np.zeros((0, self.width), np.int64)]
        return self._blocks[0]

    def __len__(self) -> int:
        return sum(len(b) for b in self._blocks) + len(self._buf) // self.width


class Lookup:
    """id -> string value (an entity's name, a fact's object), built once and then frozen."""

    def __init__(self) -> None:
        self._keys: list[int] = []
        self._values: list[str] = []
        self._key_parts: list[np.ndarray] = []
        self._value_parts: list[pa.Array] = []
        self.keys: Optional[np.ndarray] = None
        self.values: Optional[pa.Array] = None

    def add(self, key: str, value: str) -> None:
        self._keys.append(_h(key))
        self._values.append(value)
        if len(self._keys) >= 65536:
            self._flush()

    def _flush(self) -> None:
        if self._keys:
            self._key_parts.append(np.array(self._keys, dtype=np.int64))
            self._value_parts.append(pa.array(self._values, pa.string()))
            self._keys, self._values = [], []

    def freeze(self) -> None:
        self._flush()
        keys = np.concatenate(self._key_parts) if self._key_parts else np.zeros(0, np.int64)
        values = pa.concat_arrays(self._value_parts) if self._value_parts else pa.array([], pa.string())
        order = np.argsort(keys, kind="stable")
        self.keys, self.values = keys[order], values.take(pa.array(order))
        self._key_parts, self._value_parts = [], []

    def get_many(self, ids: list[str]) -> list[Optional[str]]:
        """The values of ``ids`` (None for an unknown id)."""
        if self.keys is None:
            self.freeze()
        if not ids:
            return []
        want = np.array([_h(i) for i in ids], dtype=np.int64)
        pos = np.searchsorted(self.keys, want)
        pos_c = np.minimum(pos, max(len(self.keys) - 1, 0))
        found = (pos < len(self.keys)) & (self.keys[pos_c] == want) if len(self.keys) else np.zeros(len(ids), bool)
        values = self.values.take(pa.array(pos_c)).to_pylist() if len(self.keys) else [None] * len(ids)
        return [v if ok else None for v, ok in zip(values, found.tolist())]

    def __len__(self) -> int:
        return 0 if self.keys is None else len(self.keys)


def sentences(text: str) -> set[str]:
    """The sentences of a passage, as the probe rule reads them."""
    return {s for para in text.split("\n\n") for s in re.split(r"(?<=\.) (?=[A-Z])", para)}


@dataclass
class Context:
    """What the checks share while the build streams by: the report, the manifest, and the
    compact indices built from earlier configs (entities before facts before the rest)."""

    build_dir: Path
    report: Report
    manifest: object
    shard: bool
    names: Lookup = field(default_factory=Lookup)        # entity id -> name
    objects: Lookup = field(default_factory=Lookup)      # fact id -> object text
    passage_ids: HashSet = field(default_factory=HashSet)
    sentence_keys: HashSet = field(default_factory=HashSet)  # hash of passage id + sentence
    invalid: set[str] = field(default_factory=set)       # ids of rows that failed the schema
    unreadable: set[str] = field(default_factory=set)    # configs with a file that cannot be read
    state: dict = field(default_factory=dict)            # per-check state, by check name

    def missing(self, check: str, what: str, target: str) -> None:
        """A reference to an id of config ``target`` that is not in the build: a failure, or
        counted (not failed) in a shard or when a file of ``target`` is unreadable (reported)."""
        if self.shard or target in self.unreadable:
            self.report.outside += 1
        else:
            self.report.fail(check, what)


@dataclass(frozen=True)
class Check:
    name: str
    doc: str
    configs: tuple[str, ...]
    rows: Optional[Callable[[Context, str, list[dict]], None]]
    finish: Optional[Callable[[Context], None]] = None


CHECKS: dict[str, Check] = {}


def check(name: str, *configs: str, finish: Optional[Callable[[Context], None]] = None):
    """Register ``fn(ctx, config, rows)`` as the check ``name`` over the rows of ``configs``."""
    def deco(fn):
        CHECKS[name] = Check(name, (fn.__doc__ or "").strip().splitlines()[0], configs, fn, finish)
        return fn
    return deco


def _rid(row: dict) -> str:
    return str(row.get("id", row.get("passage_id")))


# ------------------------------------------------------------------------------------------------
# the checks


@lru_cache(maxsize=None)
def _adapter(config: str):
    from pydantic import TypeAdapter

    from fictional_knowledge.models import RECORD_MODELS

    return TypeAdapter(list[RECORD_MODELS[config]])


@check("schema", *CONFIG_NAMES)
def schema(ctx: Context, config: str, rows: list[dict]) -> None:
    """Every row has its model's fields with their types and patterns (the rules of schemas/).

    Rows are validated in strict mode by the Pydantic models that ``schemas/`` is generated from
    (a test keeps the two identical); whole-row rules such as ``choices[answer_index] == answer``
    are left to their own named checks."""
    from pydantic import ValidationError

    try:
        _adapter(config).validate_python(rows, strict=True)
    except ValidationError as exc:
        for err in exc.errors():
            index, loc = err["loc"][0], err["loc"][1:]
            if not loc and err["type"] == "value_error":
                continue  # a whole-row rule: reported by its own check
            row = rows[index] if isinstance(index, int) and index < len(rows) else {}
            ctx.invalid.add(_rid(row))
            where = ".".join(str(p) for p in loc) or "row"
            ctx.report.fail("schema", f"{config} {_rid(row)}: {where}: {err['msg']}")


def _ids_unique_finish(ctx: Context) -> None:
    for config, ids in ctx.state.pop("ids_unique", {}).items():
        n, dup = ids.duplicates()
        if n:
            examples = [r["id"] for r in _rescan(ctx, config) if _h(r["id"]) in dup][:MAX_EXAMPLES]
            ctx.report.fail("ids_unique", f"{config}: repeated id(s) {', '.join(sorted(set(examples)))}", n)


@check("ids_unique", *(c for c in CONFIG_NAMES if c != "fictional_knowledge"), finish=_ids_unique_finish)
def ids_unique(ctx: Context, config: str, rows: list[dict]) -> None:
    """No id appears twice within a config."""
    ids = ctx.state.setdefault("ids_unique", {}).setdefault(config, HashSet())
    for row in rows:
        ids.add(str(row["id"]))


def _names_finish(ctx: Context) -> None:
    st = ctx.state.get("names")
    if st and st["dups"]:
        ctx.report.fail("names_unique", f"{st['dups']} entity name(s) used twice, e.g. {st['example']!r}", st["dups"])


@check("names_unique", "entities", finish=_names_finish)
def names_unique(ctx: Context, config: str, rows: list[dict]) -> None:
    """No two entities share a name (the names are collected while indexing the entities)."""


def _substring_finish(ctx: Context) -> None:
    names = ctx.state.get("names", {"all": set()})["all"]
    lengths = sorted({len(n) for n in names})
    for name in sorted(names):
        for size in (s for s in lengths if s < len(name)):
            for start in range(len(name) - size + 1):
                if name[start:start + size] in names:
                    ctx.report.fail("names_substring", f"{name[start:start + size]!r} inside {name!r}")


@check("names_substring", "entities", finish=_substring_finish)
def names_substring(ctx: Context, config: str, rows: list[dict]) -> None:
    """No entity name occurs inside another one (a cloze target would then be ambiguous)."""
    # the names are collected while indexing the entities; the comparison runs once all are known


def _world_index(ctx: Context, rows: list[dict]):
    """The entities the world checks read, collected once however many of them run."""
    from fictional_knowledge.generate.soundness import WorldIndex

    index = ctx.state.setdefault("_world", WorldIndex())
    if index.last is not rows:
        index.add_rows(r for r in rows if r["id"] not in ctx.invalid)
        index.last = rows
    return index


def _world_check(name: str) -> None:
    """Register the world constraint ``soundness.WORLD_CHECKS[name]`` as the check ``world_<name>``."""
    from fictional_knowledge.generate.soundness import WORLD_CHECKS

    world = WORLD_CHECKS[name]

    def finish(ctx: Context) -> None:
        index = ctx.state.get("_world")
        if index is None:
            return
        found = world.fn(index)
        for line in found[:MAX_EXAMPLES]:
            ctx.report.fail(f"world_{name}", line, 0)
        if found:
            ctx.report.counts[f"world_{name}"] += len(found)

    def rows(ctx: Context, config: str, batch: list[dict]) -> None:
        _world_index(ctx, batch)

    CHECKS[f"world_{name}"] = Check(f"world_{name}", world.doc, ("entities",), rows, finish)


def _register_world_checks() -> None:
    from fictional_knowledge.generate.soundness import WORLD_CHECKS

    for name in WORLD_CHECKS:
        _world_check(name)


_register_world_checks()


def _names_distance_finish(ctx: Context) -> None:
    from fictional_knowledge.generate.soundness import close_name_pairs

    st = ctx.state.get("names_distance")
    if not st:
        return
    found = close_name_pairs(st)
    for a, b, d in found[:MAX_EXAMPLES]:
        ctx.report.fail("names_distance", f"{a!r} and {b!r} are {d} letter(s) apart", 0)
    if found:
        ctx.report.counts["names_distance"] += len(found)


@check("names_distance", "entities", finish=_names_distance_finish)
def names_distance(ctx: Context, config: str, rows: list[dict]) -> None:
    """Any two entities' invented name words are at least 3 edits apart (names that are equal or
    inside one another are left to names_unique and names_substring)."""
    names = ctx.state.setdefault("names_distance", [])
    names.extend(r["name"] for r in rows if r["id"] not in ctx.invalid and isinstance(r.get("name"), str))


def _facts_maps(ctx: Context, rows: list[dict]) -> dict:
    """Facts by subject and the subject of each fact (for the QA and probe soundness checks),
    collected once however many of them run."""
    from fictional_knowledge.generate.completions import FactSubjects, add_fact

    st = ctx.state.get("_facts")
    if st is None:
        st = ctx.state["_facts"] = {"by_subject": {}, "subject_of": FactSubjects(), "last": None}
    if st["last"] is not rows:
        st["last"] = rows
        for r in rows:
            if r["id"] not in ctx.invalid:
                add_fact(st["by_subject"], st["subject_of"], r)
    return st


def _soundness_indexes(ctx: Context, config: str, rows: list[dict]):
    """The shared part of the QA and probe soundness checks: index ``entities`` and ``facts`` as
    they stream by, then give ``(world index, facts maps)`` for the later configs (None before,
    or when an earlier config was unreadable)."""
    if config == "entities":
        _world_index(ctx, rows)
        return None
    if config == "facts":
        _facts_maps(ctx, rows)
        return None
    index, facts = ctx.state.get("_world"), ctx.state.get("_facts")
    return None if index is None or facts is None else (index, facts)


@check("qa_distractor_possible", "entities", "facts", "qa")
def qa_distractor_possible(ctx: Context, config: str, rows: list[dict]) -> None:
    """No QA choice is ruled out by the subject's other facts (a book dated before its author's
    birth, a city as populous as its country: ``qa_rules.value_bounds``)."""
    from fictional_knowledge.generate.qa_rules import possible, value_bounds

    indexed = _soundness_indexes(ctx, config, rows)
    if indexed is None:
        return
    index, facts = indexed

    def lookup(eid):
        found = index.get(eid)
        return found[2] if found else None

    for r in rows:
        subject, relation = facts["subject_of"].get(r["fact_id"], (None, None))
        entity = index.get(subject)
        if r["id"] in ctx.invalid or entity is None:
            continue
        bounds = value_bounds(entity[0], relation, entity[2], lookup)
        bad = [c for c in r["choices"] if c != r["answer"] and not possible(bounds, c)]
        if bad:
            ctx.report.fail("qa_distractor_possible", f"{r['id']}: {relation} choice(s) {bad} outside "
                            f"{bounds[0]:g}-{bounds[1]:g} given the subject's other facts")


@check("probe_completed_otherwise", "entities", "facts", "probes")
def probe_completed_otherwise(ctx: Context, config: str, rows: list[dict]) -> None:
    """No probe input is continued differently by another true sentence of the world ("... was
    born in" expecting a city while "... was born in the year 1944" is true: ``completions``)."""
    from fictional_knowledge.generate.completions import BuildForms

    indexed = _soundness_indexes(ctx, config, rows)
    if indexed is None:
        return
    index, facts = indexed
    forms = ctx.state.get("_forms")
    if forms is None:
        entities = _NamesView(index.entities)
        forms = ctx.state["_forms"] = BuildForms(maps=(entities, facts["by_subject"], facts["subject_of"]))
    for r in rows:
        if r["id"] not in ctx.invalid and forms.completed_otherwise(r):
            ctx.report.fail("probe_completed_otherwise", f"{r['id']}: {r['input']!r} is continued by another "
                            f"true sentence than with {r['target']!r}")


class _NamesView:
    """``id -> (type, name)`` over a ``WorldIndex``'s entities, without copying them."""

    def __init__(self, entities: dict):
        self._entities = entities

    def get(self, eid, default=None):
        found = self._entities.get(eid)
        return (found[0], found[1]) if found else default


@check("joins", *(c for c in CONFIG_NAMES if c != "entities"))
def joins(ctx: Context, config: str, rows: list[dict]) -> None:
    """Every id a row refers to (subject, object, facts, passage) exists in the build."""
    rows = [r for r in rows if _rid(r) not in ctx.invalid]
    if config == "facts":
        refs = [(r, "subject", r["subject_id"]) for r in rows]
        refs += [(r, "object", r["object_id"]) for r in rows if r["object_id"] is not None]
        for (r, role, ref), name in zip(refs, ctx.names.get_many([ref for _, _, ref in refs])):
            if name is None and ref not in ctx.invalid:
                ctx.missing("joins", f"fact {r['id']}: unknown {role} {ref}", "entities")
            elif role == "object" and name is not None and name != r["object"]:
                ctx.report.fail("joins", f"fact {r['id']}: object {r['object']!r} is not the name of {ref} ({name!r})")
        return
    if config in ("passages", "probes"):
        fact_refs = [(r, f) for r in rows for f in r["fact_ids"]]
    elif config in ("statements", "qa"):
        fact_refs = [(r, r["fact_id"]) for r in rows]
    else:
        fact_refs = []
    for (r, ref), value in zip(fact_refs, ctx.objects.get_many([f for _, f in fact_refs])):
        if value is None and ref not in ctx.invalid:
            ctx.missing("joins", f"{config} {_rid(r)}: unknown fact {ref}", "facts")
    ent_refs = [(r, r["entity_id"]) for r in rows]
    for (r, ref), name in zip(ent_refs, ctx.names.get_many([e for _, e in ent_refs])):
        if name is None and ref not in ctx.invalid:
            ctx.missing("joins", f"{config} {_rid(r)}: unknown entity {ref}", "entities")
    if config in ("probes", "fictional_knowledge"):
        for r in rows:
            if r["passage_id"] not in ctx.passage_ids and r["passage_id"] not in ctx.invalid:
                ctx.missing("joins", f"{config} {_rid(r)}: unknown passage {r['passage_id']}", "passages")


@check("statement_value", "statements")
def statement_value(ctx: Context, config: str, rows: list[dict]) -> None:
    """A statement ends with its fact's value and a full stop."""
    rows = [r for r in rows if r["id"] not in ctx.invalid]
    for r, value in zip(rows, ctx.objects.get_many([r["fact_id"] for r in rows])):
        if value is not None and not r["text"].endswith(f" {value}."):
            ctx.report.fail("statement_value", f"{r['id']}: does not end with its fact's value {value!r}")


@check("qa_answer", "qa")
def qa_answer(ctx: Context, config: str, rows: list[dict]) -> None:
    """A QA row's answer is its fact's value."""
    rows = [r for r in rows if r["id"] not in ctx.invalid]
    for r, value in zip(rows, ctx.objects.get_many([r["fact_id"] for r in rows])):
        if value is not None and r["answer"] != value:
            ctx.report.fail("qa_answer", f"{r['id']}: answer {r['answer']!r} is not its fact's value {value!r}")


@check("qa_choices", "qa")
def qa_choices(ctx: Context, config: str, rows: list[dict]) -> None:
    """choices are distinct, at least ``distractors + 1``, and ``choices[answer_index]`` is the answer."""
    want = ctx.manifest.config.distractors + 1
    for r in rows:
        choices, i = r.get("choices") or [], r.get("answer_index")
        if len(choices) < want:
            ctx.report.fail("qa_choices", f"{r['id']}: {len(choices)} choices, expected at least {want}")
        elif not isinstance(i, int) or not 0 <= i < len(choices):
            ctx.report.fail("qa_choices", f"{r['id']}: answer_index {i} is outside its {len(choices)} choices")
        elif choices[i] != r.get("answer"):
            ctx.report.fail("qa_choices", f"{r['id']}: choices[{i}] is {choices[i]!r}, not the answer {r.get('answer')!r}")
        elif len(set(choices)) != len(choices):
            ctx.report.fail("qa_choices", f"{r['id']}: repeated choices")


def _stated_values(ctx: Context, rows: list[dict]):
    """``(row, the values of its fact_ids that the build knows)`` for the valid passage rows, with
    one lookup per batch."""
    rows = [r for r in rows if r["id"] not in ctx.invalid]
    found = iter(ctx.objects.get_many([f for r in rows for f in r["fact_ids"]]))
    for r in rows:
        yield r, [v for v in (next(found) for _ in r["fact_ids"]) if v is not None]


@check("paraphrase_facts", "passages")
def paraphrase_facts(ctx: Context, config: str, rows: list[dict]) -> None:
    """Every paraphrase states every fact value of its passage."""
    for r, values in _stated_values(ctx, rows):
        for k, para in enumerate(r["paraphrases"]):
            missing = [v for v in values if v not in para]
            if missing:
                ctx.report.fail("paraphrase_facts", f"passage {r['id']} paraphrase {k}: lacks {missing[:3]}")


@check("passage_facts", "passages")
def passage_facts(ctx: Context, config: str, rows: list[dict]) -> None:
    """A passage states every fact it lists: each fact's value is in its text."""
    for r, values in _stated_values(ctx, rows):
        missing = [v for v in values if v not in r["text"]]
        if missing:
            ctx.report.fail("passage_facts", f"passage {r['id']}: lists facts its text does not state: {missing[:3]}")


@check("sentence_facts", "passages")
def sentence_facts(ctx: Context, config: str, rows: list[dict]) -> None:
    """The sentences of a passage and of each paraphrase tile its text, and together state exactly
    its ``fact_ids``; each sentence contains the value of every fact it records (a role fact, whose
    value is the passage's own entity, may refer to it by pronoun)."""
    rows = [r for r in rows if r["id"] not in ctx.invalid]
    names = ctx.names.get_many([r["entity_id"] for r in rows])
    found = iter(ctx.objects.get_many([f for r in rows for f in r["fact_ids"]]))  # one lookup per batch
    for r, own_name in zip(rows, names):
        listed = set(r["fact_ids"])
        values = {f: next(found) for f in r["fact_ids"]}
        texts = [("text", r["text"], r["sentences"])]
        if len(r["paraphrase_sentences"]) != len(r["paraphrases"]):
            ctx.report.fail("sentence_facts", f"passage {r['id']}: {len(r['paraphrase_sentences'])} paraphrase "
                                              f"sentence lists for {len(r['paraphrases'])} paraphrases")
        else:
            texts += [(f"paraphrase {k}", t, sp) for k, (t, sp) in enumerate(zip(r["paraphrases"], r["paraphrase_sentences"]))]
        for where, text, spans in texts:
            problem = span_problem(text, spans)
            if problem:
                ctx.report.fail("sentence_facts", f"passage {r['id']} {where}: {problem}")
                continue
            recorded = [f for sp in spans for f in sp["fact_ids"]]
            if set(recorded) != listed:
                ctx.report.fail("sentence_facts", f"passage {r['id']} {where}: its sentences record "
                                                  f"{sorted(set(recorded) - listed)[:3]} beyond fact_ids and miss "
                                                  f"{sorted(listed - set(recorded))[:3]}")
                continue
            if own_name is None:  # the passage's entity is unknown (``joins``, or an unreadable file)
                continue
            for i, sp in enumerate(spans):
                piece = text[sp["start"]:sp["end"]]
                absent = [v for v in (values[f] for f in sp["fact_ids"])
                          if v is not None and v != own_name and v not in piece]
                if absent:
                    ctx.report.fail("sentence_facts", f"passage {r['id']} {where} sentence {i}: records facts "
                                                      f"whose values it lacks: {absent[:3]}")
                    break


_PERSONAL = re.compile(r"\b(he|she|they|He|She|They)\b")


@check("pronouns", "entities", "passages")
def pronouns(ctx: Context, config: str, rows: list[dict]) -> None:
    """A passage refers to its entity only by the pronoun the entity records (a person's
    ``pronoun``; no he/she/they in the passages of other entities, which are "it"). Possessives are
    not checked: a relative clause about a linked person uses that person's ("..., who made her home in ...")."""
    known = ctx.state.setdefault("pronouns", {})
    if config == "entities":
        for r in rows:
            if r["id"] not in ctx.invalid:
                known[r["id"]] = r.get("pronoun")
        return
    for r in rows:
        if r["id"] in ctx.invalid or r["entity_id"] not in known:
            continue
        own = known[r["entity_id"]]
        for k, text in enumerate([r["text"]] + list(r["paraphrases"] or [])):
            wrong = sorted({w.lower() for w in _PERSONAL.findall(text)} - {own})
            if wrong:
                where = "text" if k == 0 else f"paraphrase {k - 1}"
                ctx.report.fail("pronouns", f"passage {r['id']} {where}: uses {wrong} for an entity whose pronoun is {own!r}")


@check("paraphrase_differs", "passages")
def paraphrase_differs(ctx: Context, config: str, rows: list[dict]) -> None:
    """No paraphrase equals its passage."""
    for r in rows:
        for k, para in enumerate(r.get("paraphrases") or []):
            if para == r.get("text"):
                ctx.report.fail("paraphrase_differs", f"passage {r['id']} paraphrase {k} equals the passage")


@check("probe_rule", "probes")
def probe_rule(ctx: Context, config: str, rows: list[dict]) -> None:
    """input and target carry no leading/trailing whitespace (the text is ``input + " " + target``)."""
    for r in rows:
        inp, tgt = r.get("input"), r.get("target")
        if isinstance(inp, str) and isinstance(tgt, str) and (inp != inp.strip() or tgt != tgt.strip()):
            ctx.report.fail("probe_rule", f"{r['id']}: stray whitespace around input or target")


def _ambiguous_finish(ctx: Context) -> None:
    pairs = ctx.state.get("probe_ambiguous")
    if not pairs or not len(pairs):
        return
    arr = pairs.array()
    arr = arr[np.lexsort((arr[:, 1], arr[:, 0]))]
    bad = (arr[1:, 0] == arr[:-1, 0]) & (arr[1:, 1] != arr[:-1, 1])
    if bad.any():
        keys = set(arr[1:, 0][bad].tolist())
        seen: dict[str, set[str]] = defaultdict(set)
        for r in _rescan(ctx, "probes"):
            if _h(r["input"]) in keys:
                seen[r["input"]].add(r["target"])
        for inp, targets in list(seen.items())[:MAX_EXAMPLES]:
            ctx.report.fail("probe_ambiguous", f"{inp!r} has targets {sorted(targets)}", 0)
        ctx.report.counts["probe_ambiguous"] += int(bad.sum())


@check("probe_ambiguous", "probes", finish=_ambiguous_finish)
def probe_ambiguous(ctx: Context, config: str, rows: list[dict]) -> None:
    """No two probes share an input but expect different targets."""
    pairs = ctx.state.setdefault("probe_ambiguous", IntRows(2))
    for r in rows:
        if r["id"] not in ctx.invalid:
            pairs.add(_h(r["input"]), _h(r["target"]))


@check("probe_target", "probes")
def probe_target(ctx: Context, config: str, rows: list[dict]) -> None:
    """A probe's target is the value of the last fact of its chain."""
    rows = [r for r in rows if r["id"] not in ctx.invalid]
    for r, value in zip(rows, ctx.objects.get_many([r["fact_ids"][-1] for r in rows])):
        if value is not None and value != r["target"]:
            ctx.report.fail("probe_target", f"{r['id']}: target {r['target']!r} is not its fact's value {value!r}")


def _verbatim(ctx: Context, r: dict) -> Optional[bool]:
    if r["passage_id"] not in ctx.passage_ids:
        return None  # unknown passage: the joins check reports it
    return f"{r['passage_id']}\0{r['input']} {r['target']}." in ctx.sentence_keys


@check("memorization_verbatim", "probes")
def memorization_verbatim(ctx: Context, config: str, rows: list[dict]) -> None:
    """A memorization probe's text is a sentence of its passage."""
    for r in rows:
        if r["kind"] == "memorization" and r["id"] not in ctx.invalid and r["passage_id"] not in ctx.invalid:
            if _verbatim(ctx, r) is False:
                ctx.report.fail("memorization_verbatim", f"{r['id']}: {r['input']} {r['target']!r} is not a sentence of its passage")


@check("semantic_not_verbatim", "probes")
def semantic_not_verbatim(ctx: Context, config: str, rows: list[dict]) -> None:
    """A semantic probe's text is not a sentence of its passage (it is a paraphrase)."""
    for r in rows:
        if r["kind"] == "semantic" and r["id"] not in ctx.invalid and _verbatim(ctx, r):
            ctx.report.fail("semantic_not_verbatim", f"{r['id']}: {r['input']} {r['target']!r} is a sentence of its passage")


def _semantic_finish(ctx: Context) -> None:
    st = ctx.state.get("semantic_target")
    if not st or not len(st["sem"]):
        return
    mem = st["mem"].array()
    mem = mem[np.argsort(mem[:, 0], kind="stable")]
    sem = st["sem"].array()
    pos = np.minimum(np.searchsorted(mem[:, 0], sem[:, 0]), max(len(mem) - 1, 0))
    ok = (mem[pos, 0] == sem[:, 0]) & (mem[pos, 1] == sem[:, 1]) if len(mem) else np.zeros(len(sem), bool)
    bad = set(sem[~ok, 2].tolist())
    if bad:
        for r in _rescan(ctx, "probes"):
            if _h(r["id"]) in bad:
                ctx.report.fail("semantic_target", f"{r['id']}: no memorization probe of the same fact with target {r['target']!r}", 0)
        ctx.report.counts["semantic_target"] += len(bad)


@check("semantic_target", "probes", finish=_semantic_finish)
def semantic_target(ctx: Context, config: str, rows: list[dict]) -> None:
    """A semantic probe has a memorization probe of the same passage and fact with the same target."""
    st = ctx.state.setdefault("semantic_target", {"mem": IntRows(2), "sem": IntRows(3)})
    for r in rows:
        if r["id"] in ctx.invalid:
            continue
        key = _h(f"{r['passage_id']}\0{r['fact_ids'][0]}")
        if r["kind"] == "memorization":
            st["mem"].add(key, _h(r["target"]))
        elif r["kind"] == "semantic":
            st["sem"].add(key, _h(r["target"]), _h(r["id"]))


@check("compositional_hops", "probes")
def compositional_hops(ctx: Context, config: str, rows: list[dict]) -> None:
    """A compositional probe follows at least two facts."""
    for r in rows:
        if r.get("kind") == "compositional" and len(r.get("fact_ids") or []) < 2:
            ctx.report.fail("compositional_hops", f"{r['id']}: fewer than 2 facts")


@check("fk_shape", "fictional_knowledge")
def fk_shape(ctx: Context, config: str, rows: list[dict]) -> None:
    """FK-schema rows carry as many probes per kind and paraphrases as the build asked for."""
    c = ctx.manifest.config
    want = {"mem": c.memorization_probes, "gen": c.semantic_probes, "hard_gen": c.compositional_probes}
    for r in rows:
        for prefix, n in want.items():
            inputs, targets = r.get(f"{prefix}_input") or [], r.get(f"{prefix}_target") or []
            if len(inputs) != len(targets) or len(inputs) != n:
                ctx.report.fail("fk_shape", f"{r['passage_id']}: {len(inputs)} {prefix}_input / {len(targets)} "
                                f"{prefix}_target, expected {n}")
        if len(r.get("paraphrases") or []) != c.paraphrases:
            ctx.report.fail("fk_shape", f"{r['passage_id']}: {len(r.get('paraphrases') or [])} paraphrases, expected {c.paraphrases}")


@check("manifest_counts", *CONFIG_NAMES)
def manifest_counts(ctx: Context, config: str, rows: list[dict]) -> None:
    """Each config has as many rows as the manifest says (compared once the config is read)."""


@check("fingerprints", *CONFIG_NAMES)
def fingerprints(ctx: Context, config: str, rows: list[dict]) -> None:
    """Each config's content fingerprint equals the manifest's (compared once the config is read)."""
    acc = ctx.state.setdefault("fingerprints", {}).setdefault(config, Accumulator())
    for row in rows:
        acc.add(row)


def _compare_manifest(ctx: Context, config: str) -> None:
    acc = ctx.state.get("fingerprints", {}).get(config, Accumulator())
    ctx.report.rows[config] = acc.rows
    expected = ctx.manifest.configs.get(config)
    if expected is None:
        ctx.report.fail("manifest_counts", f"{config}: not listed in manifest.json")
    elif expected.rows != acc.rows:
        ctx.report.fail("manifest_counts", f"{config}: manifest says {expected.rows} rows, data has {acc.rows}")
    elif expected.fingerprint != acc.fingerprint:
        ctx.report.fail("fingerprints", f"{config}: manifest says {expected.fingerprint[:12]}, "
                        f"data has {acc.fingerprint[:12]}")


# ------------------------------------------------------------------------------------------------
# reading


def _files(build_dir: Path, config: str) -> list[Path]:
    return sorted((build_dir / "data" / config).glob("*.parquet"))


def _batches(ctx: Context, config: str, *, report: bool) -> Iterator[list[dict]]:
    """The rows of one config in small batches; an unreadable file or one with other columns
    than the schema's is reported (``readable``/``columns``) and skipped."""
    import pyarrow.parquet as pq

    from fictional_knowledge.dataset.arrow import schema_of

    want = schema_of(config)
    for path in _files(ctx.build_dir, config):
        rel = path.relative_to(ctx.build_dir).as_posix()
        try:
            f = pq.ParquetFile(path)
            got = f.schema_arrow
            missing = [n for n in want.names if n not in got.names]
            extra = [n for n in got.names if n not in want.names]
            wrong = [n for n in want.names if n in got.names and not got.field(n).type.equals(want.field(n).type)]
            if missing or extra or wrong:
                if report:
                    ctx.report.fail("columns", f"{rel}: " + "; ".join(
                        part for part in (missing and f"missing column(s) {', '.join(missing)}",
                                          extra and f"unexpected column(s) {', '.join(extra)}",
                                          wrong and f"wrong type for {', '.join(wrong)}") if part))
                continue
            for batch in f.iter_batches(batch_size=BATCH_ROWS):
                yield batch.to_pylist()
        except (OSError, pa.ArrowException, ValueError) as exc:
            if report:
                ctx.report.fail("readable", f"{rel}: {type(exc).__name__}: {exc}")


def _rescan(ctx: Context, config: str) -> Iterator[dict]:
    """The rows of a config again (only to find the examples of a failure found by hashes)."""
    for batch in _batches(ctx, config, report=False):
        yield from batch


def _index(ctx: Context, config: str, rows: list[dict]) -> None:
    """Feed the compact indices that later configs are joined against."""
    for r in rows:
        if _rid(r) in ctx.invalid:
            continue
        if config == "entities":
            ctx.names.add(r["id"], r["name"])
            st = ctx.state.setdefault("names", {"all": set(), "dups": 0})
            if r["name"] in st["all"]:
                st["dups"] += 1
                st.setdefault("example", r["name"])
            st["all"].add(r["name"])
        elif config == "facts":
            ctx.objects.add(r["id"], r["object"])
        elif config == "passages":
            ctx.passage_ids.add(r["id"])
            for s in sentences(r["text"]):
                ctx.sentence_keys.add(f"{r['id']}\0{s}")


def validate_build(build_dir: str | Path, checks: Optional[list[str]] = None, *, progress: bool = False) -> Report:
    """Run the checks (default: all of :data:`CHECKS`) on a build folder or one shard of it.
    An unreadable build is reported (check ``manifest``), never raised. ``progress``: a bar of
    the rows read on stderr (tqdm; none when stderr is not a terminal)."""
    from pydantic import ValidationError

    from fictional_knowledge.dataset.io import read_manifest

    build_dir = Path(build_dir)
    report = Report()
    try:
        manifest = read_manifest(build_dir)
    except FileNotFoundError as exc:
        report.fail("manifest", str(exc))
        return report
    except UnicodeDecodeError:
        report.fail("manifest", f"{build_dir / 'manifest.json'} is not UTF-8 text")
        return report
    except json.JSONDecodeError as exc:
        report.fail("manifest", f"{build_dir / 'manifest.json'} is not valid JSON: {exc}")
        return report
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "manifest"
        report.fail("manifest", f"manifest.json: {where}: {err['msg']} ({exc.error_count()} error(s))")
        return report
    except (OSError, ValueError) as exc:
        report.fail("manifest", f"cannot read {build_dir / 'manifest.json'}: {exc}")
        return report
    selected = [CHECKS[n] for n in (checks or CHECKS)]
    ctx = Context(build_dir, report, manifest, shard=manifest.shard is not None)
    report.shard = manifest.shard
    with _progress_bar(progress, sum(s.rows for s in manifest.configs.values())) as bar:
        _validate_configs(ctx, selected, bar)
    return report


def _progress_bar(enabled: bool, total: int):
    if not enabled:
        return nullcontext(None)
    import sys

    from tqdm import tqdm

    return tqdm(total=total, desc="validating", unit=" rows", unit_scale=True, file=sys.stderr, dynamic_ncols=True,
                disable=None)


def _validate_configs(ctx: Context, selected: list, bar) -> None:
    report = ctx.report
    for config in CONFIG_NAMES:
        active = [c for c in selected if config in c.configs and c.rows is not None]
        before = report.counts.get("readable", 0) + report.counts.get("columns", 0)
        for rows in _batches(ctx, config, report=True):
            if bar is not None:
                bar.update(len(rows))
            if any(c.name == "schema" for c in active):
                _run(ctx, CHECKS["schema"], config, rows)
            _index(ctx, config, rows)
            for c in active:
                if c.name != "schema":
                    _run(ctx, c, config, rows)
        readable = before == report.counts.get("readable", 0) + report.counts.get("columns", 0)
        if not readable:
            ctx.unreadable.add(config)
        if readable and any(c.name in ("fingerprints", "manifest_counts") for c in selected):
            _compare_manifest(ctx, config)  # an unreadable file is reported already
        # finish each check once its last config is read, and free what only it needed, so
        # that the state of the checks of different configs is never held at once
        for c in selected:
            if c.finish is not None and (config == c.configs[-1] or c.name == "ids_unique" and config in c.configs):
                try:
                    c.finish(ctx)
                except Exception as exc:  # a check must never crash the command
                    report.fail(c.name, f"could not complete: {type(exc).__name__}: {exc}")
                ctx.state.pop(c.name, None)
        if config == "entities":
            ctx.state.pop("names", None)
        elif config == "probes":
            ctx.sentence_keys = HashSet()
            ctx.state.pop("_forms", None)
        elif config == "qa":  # the world and facts indices serve the soundness checks up to qa
            ctx.state.pop("_world", None)
            ctx.state.pop("_facts", None)


def _run(ctx: Context, c: Check, config: str, rows: list[dict]) -> None:
    """Run one check on a batch; a row of an unexpected shape that makes a check raise is a
    failure of that check (row by row, to name it), never a traceback."""
    try:
        c.rows(ctx, config, rows)
    except Exception:
        for row in rows:
            try:
                c.rows(ctx, config, [row])
            except Exception as exc:
                ctx.report.fail(c.name, f"{config} {_rid(row)}: cannot be checked ({type(exc).__name__}: {exc})")
