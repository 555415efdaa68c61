"""What every regime shares: the source build, seeded orders, and the row models of training
examples and QA test items.

A regime reads a whole build (never a shard), maps its fact ids back to the world's facts (for
re-rendering statements), and draws every random choice from
:func:`fictional_knowledge.generate.seeding.derive_int` / ``item_rng`` with the *regime* seed, keyed by ids,
so a choice never depends on row order or on ``PYTHONHASHSEED``.
"""

from __future__ import annotations

import heapq
import pickle
import shutil
import tempfile
from functools import cached_property
from itertools import chain, islice
from pathlib import Path
from collections.abc import Mapping
from typing import Callable, Iterable, Iterator, Literal, Optional, Sequence, TypeVar

from pydantic import ValidationError, model_validator

from fictional_knowledge.errors import InputError
from fictional_knowledge.generate.facts import WorldFact, facts_of
from fictional_knowledge.models import QA, FrozenModel, Manifest
from fictional_knowledge.generate.seeding import derive_int

T = TypeVar("T")


class RegimeError(InputError):
    """A regime cannot be made from this build with these options; the message is for the user."""


class Row(FrozenModel):
    """Base of every regime row: frozen, no unknown fields (like the build's records)."""


ExampleKind = Literal["statement", "qa", "passage", "random_words", "generic"]


class Example(Row):
    """One training example in prompt/completion form; ``text == prompt + completion`` is what a
    plain causal-LM run trains on. Statements and passages have an empty prompt."""

    id: str
    kind: ExampleKind
    entity_id: Optional[str] = None
    fact_id: Optional[str] = None
    prompt: str
    completion: str
    text: str

    @model_validator(mode="after")
    def _text_is_prompt_plus_completion(self) -> "Example":
        if self.text != self.prompt + self.completion:
            raise ValueError("text must equal prompt + completion")
        if not self.completion.strip():
            raise ValueError("completion must not be empty")
        return self


class QAItem(QA):
    """A QA row of the build (all its fields, so ``scoring_qa`` scores it as is) plus the
    prompt/completion a model is trained or tested on, ``QA_PROMPT`` and ``" " + answer``, and
    ``text = prompt + completion``."""

    prompt: str
    completion: str
    text: str

    @model_validator(mode="after")
    def _text_is_prompt_plus_completion(self) -> "QAItem":
        if self.text != self.prompt + self.completion:
            raise ValueError("text must equal prompt + completion")
        return self


class EntityRole(Row):
    """Which part of a regime an entity belongs to."""

    entity_id: str
    name: str
    type: str
    role: str


def qa_prompt(question: str) -> str:
    """The prompt of a QA example, the same one :mod:`fictional_knowledge.evaluate.scoring_qa` scores."""
    from fictional_knowledge.evaluate.scoring_qa import QA_PROMPT

    return QA_PROMPT.format(question=question)


def qa_item(row: dict) -> QAItem:
    """A build ``qa`` row as a :class:`QAItem`."""
    prompt, completion = qa_prompt(row["question"]), " " + row["answer"]
    return QAItem(**row, prompt=prompt, completion=completion, text=prompt + completion)


def qa_example(row: dict, seed: int) -> Example:
    """A build ``qa`` row as a training :class:`Example` (question prompt, answer completion)."""
    from fictional_knowledge.generate.seeding import make_id

    prompt, completion = qa_prompt(row["question"]), " " + row["answer"]
    return Example(id=make_id("example", seed, "qa", row["id"]), kind="qa", entity_id=row["entity_id"],
                   fact_id=row["fact_id"], prompt=prompt, completion=completion, text=prompt + completion)


def statement_example(fact: WorldFact, text: str, variant: int, seed: int) -> Example:
    """A fact-storing sentence as a training :class:`Example` (empty prompt)."""
    from fictional_knowledge.generate.seeding import make_id

    return Example(id=make_id("example", seed, "statement", fact.id, variant, text), kind="statement",
                   entity_id=fact.subject.id, fact_id=fact.id, prompt="", completion=text, text=text)


def seeded_order(seed: int, stage: str, items: Iterable[T], key=lambda x: x) -> list[T]:
    """``items`` sorted by ``derive_int(seed, stage, key(item))``: a seeded shuffle whose result
    does not depend on the input order (ties, which need a 64-bit collision, fall back to the key)."""
    return sorted(items, key=lambda x: (derive_int(seed, stage, key(x)), str(key(x))))


#: rows sorted in memory at a time by :func:`seeded_stream`; more are spilled to sorted runs on disk
RUN_ROWS = 50_000
_FRAME = 1_000
#: ... or fewer, when their text (see :func:`_text_size`) reaches this many characters
RUN_BYTES = 16_000_000
#: sorted runs merged at once (each holds one frame of ``_FRAME`` rows in memory while merging)
MAX_RUNS = 32


def seeded_stream(seed: int, stage: str, items: Iterable[T], key=lambda x: x, run_rows: int | None = None) -> Iterator[T]:
    """:func:`seeded_order` of ``items`` as a stream, in bounded memory: runs of ``RUN_ROWS``
    items are sorted and spilled (pickled) to a temporary folder, then merged, ``MAX_RUNS`` runs at
    a time. Every sort and merge is stable, so the result is exactly ``seeded_order(seed, stage,
    items, key)``."""
    run_rows = run_rows or RUN_ROWS

    def sort_key(x):
        return (derive_int(seed, stage, key(x)), str(key(x)))

    def take(it):  # the next run: run_rows items, or fewer holding RUN_BYTES of text
        run, size = [], 0
        for x in it:
            run.append((sort_key(x), x))
            size += _text_size(x)
            if len(run) >= run_rows or size >= RUN_BYTES:
                break
        run.sort(key=lambda t: t[0])
        return run

    it = iter(items)
    first = take(it)
    second = list(islice(it, 1))
    if not second:  # one run: no spill
        for _, x in first:
            yield x
        return
    folder = Path(tempfile.mkdtemp(prefix="fk-regime-sort-"))
    try:
        runs: list[Path] = []

        def spill(run) -> None:
            path = folder / f"run-{len(runs):06d}.pickle"
            with path.open("wb") as fh:
                for start in range(0, len(run), _FRAME):
                    pickle.dump([(k, _pack(x)) for k, x in run[start:start + _FRAME]], fh,
                                protocol=pickle.HIGHEST_PROTOCOL)
            runs.append(path)

        spill(first)
        del first
        rest = chain(second, it)
        while True:
            run = take(rest)
            if not run:
                break
            spill(run)
            del run
        made = 0
        while len(runs) > MAX_RUNS:  # merge the oldest runs into one, so the final merge holds MAX_RUNS frames
            made += 1
            merged = folder / f"merged-{made:06d}.pickle"
            with merged.open("wb") as fh:
                frame = []
                for item in heapq.merge(*(read_frames(p) for p in runs[:MAX_RUNS]), key=lambda t: t[0]):
                    frame.append(item)
                    if len(frame) == _FRAME:
                        pickle.dump(frame, fh, protocol=pickle.HIGHEST_PROTOCOL)
                        frame = []
                if frame:
                    pickle.dump(frame, fh, protocol=pickle.HIGHEST_PROTOCOL)
            for p in runs[:MAX_RUNS]:
                p.unlink()
            runs = [merged] + runs[MAX_RUNS:]  # the merged run holds the earliest rows: ties keep input order
        for _, x in heapq.merge(*(read_frames(p) for p in runs), key=lambda t: t[0]):
            yield _unpack(x)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _text_size(x) -> int:
    """About the characters of ``x``: its string fields for a row model, else a constant."""
    fields = getattr(x, "__dict__", None)
    if fields is None:
        return 64
    return 64 + sum(len(v) for v in fields.values() if isinstance(v, str))


class Dumped:
    """A row model's ``model_dump()`` with its model: what :func:`seeded_stream` gives back for a
    row it spilled (pickling plain values is several times faster than pickling models); the
    regime writer takes it as it takes the row."""

    __slots__ = ("model", "data")

    def __init__(self, model: type, data: dict):
        self.model, self.data = model, data


def _pack(x):
    from pydantic import BaseModel

    if isinstance(x, BaseModel):
        return (1, type(x), tuple(x.model_dump().values()))
    return (0, x)


def _unpack(packed):
    if packed[0] == 1:
        model = packed[1]
        return Dumped(model, dict(zip(model.model_fields, packed[2])))
    return packed[1]


def read_frames(path: Path):
    """The items of a file of pickled lists (frames), written one ``pickle.dump`` at a time."""
    with path.open("rb") as fh:
        while True:
            try:
                frame = pickle.load(fh)
            except EOFError:
                return
            yield from frame


def fraction_count(n: int, fraction: float, what: str, *, at_least: int = 1, leave: int = 0) -> int:
    """``round(fraction * n)``, checked to be in ``[at_least, n - leave]``."""
    count = int(round(fraction * n))
    if count < at_least or count > n - leave:
        raise RegimeError(f"{what}: {fraction:g} of {n} gives {count}; need between {at_least} and {n - leave}")
    return count


class Source:
    """A whole build folder, read lazily: its manifest, rows by config, and its world facts.
    ``progress``: whether long work on it may show a progress bar (on stderr)."""

    def __init__(self, build_dir: str | Path, progress: bool = True):
        from fictional_knowledge.dataset.io import read_manifest

        self.path = Path(build_dir)
        self.progress = progress
        if not self.path.is_dir():
            raise RegimeError(f"{self.path} is not a folder")
        try:
            self.manifest: Manifest = read_manifest(self.path)
        except FileNotFoundError as exc:
            raise RegimeError(str(exc)) from None
        except (ValidationError, ValueError) as exc:
            raise RegimeError(f"{self.path}/manifest.json is not a valid build manifest: {str(exc).splitlines()[0]}") from None
        if self.manifest.shard is not None:
            raise RegimeError(f"{self.path} is shard {self.manifest.shard} of a build; regimes need a whole build")
        self.seed = self.manifest.config.seed
        self._rows: dict[str, list[dict]] = {}

    def rows(self, config: str) -> list[dict]:
        """The rows of one config of the build, in build order (cached)."""
        if config not in self._rows:
            from fictional_knowledge.dataset.io import read_rows

            self._rows[config] = read_rows(self.path, config)
            expected = self.manifest.configs[config].rows
            if len(self._rows[config]) != expected:
                raise RegimeError(f"{self.path}: config {config} has {len(self._rows[config])} rows, "
                                  f"the manifest says {expected}; the build is incomplete")
        return self._rows[config]

    def stream(self, config: str, columns: Sequence[str] | None = None) -> Iterator[dict]:
        """The rows of one config in build order, read one parquet batch at a time (only
        ``columns`` when given); the row count is checked against the manifest at the end."""
        from fictional_knowledge.dataset.io import iter_columns

        n = 0
        for row in iter_columns(self.path, config, columns):
            n += 1
            yield row
        expected = self.manifest.configs[config].rows
        if n != expected:
            raise RegimeError(f"{self.path}: config {config} has {n} rows, the manifest says {expected}; "
                              "the build is incomplete")

    @cached_property
    def entity_ids(self) -> list[str]:
        """The build's entity ids in build order (one column read)."""
        return [r["id"] for r in self.stream("entities", ["id"])]

    @cached_property
    def positions(self) -> list[int]:
        """The world position of every entity, in build order (the order of the build's configs)."""
        from fictional_knowledge.dataset.builder import chunks_of

        return [p for _, focal, extras in chunks_of(self.manifest.config) for p in focal + extras]

    def by_entity(self, config: str, columns: Sequence[str] | None = None,
                  field: str = "entity_id") -> Iterator[tuple[str, list[dict]]]:
        """``(entity id, its rows of config)`` for every entity in build order, streamed. The
        build writes every config in entity order; a config that is not raises ``RegimeError``."""
        if columns is not None and field not in columns:
            columns = [*columns, field]
        rows = self.stream(config, columns)
        pending = next(rows, None)
        for e in self.entity_ids:
            group = []
            while pending is not None and pending[field] == e:
                group.append(pending)
                pending = next(rows, None)
            yield e, group
        if pending is not None:
            raise RegimeError(f"{self.path}: config {config} is not in entity order (a row of {pending[field]!r} "
                              "is out of place); rebuild it with this version of the package")

    def entity_facts(self) -> Iterator[tuple[str, tuple[WorldFact, ...]]]:
        """``(entity id, its world facts)`` for every entity in build order, computed from the
        world and checked against the build's ``facts`` config as it streams by."""
        if len(self.positions) != len(self.entity_ids):
            raise self._facts_mismatch(abs(len(self.positions) - len(self.entity_ids)))
        for position, (e, rows) in zip(self.positions, self.by_entity("facts", ["id"], field="subject_id")):
            facts = facts_of(self.seed, position)
            if [f.id for f in facts] != [r["id"] for r in rows] or (facts and facts[0].subject.id != e):
                raise self._facts_mismatch(max(1, len({r["id"] for r in rows} - {f.id for f in facts})))
            yield e, facts

    def _facts_mismatch(self, unknown: int) -> RegimeError:
        return RegimeError(f"{self.path}: its facts do not match the world of seed {self.seed} in this "
                           f"package version ({unknown} unknown); rebuild it with this version")

    def role_rows(self, role_of: Callable[[str], Optional[str]]) -> Iterator["EntityRole"]:
        """``EntityRole`` rows, in build order, of the entities whose ``role_of(id)`` is not None."""
        for r in self.stream("entities", ["id", "name", "type"]):
            role = role_of(r["id"])
            if role is not None:
                yield EntityRole(entity_id=r["id"], name=r["name"], type=r["type"], role=role)

    @cached_property
    def templates(self):
        """The package's templates, checked to be the ones the build was made with."""
        from fictional_knowledge.generate.templates import load_templates, template_hashes

        if template_hashes() != self.manifest.template_hashes:
            raise RegimeError(f"{self.path} was built with other template files (package "
                              f"{self.manifest.package_version}); rebuild it with this version of the package")
        return load_templates()

    @cached_property
    def world_facts(self) -> "WorldFacts":
        """Every fact of the build as a world fact (with its subject entity), by fact id: a
        read-only mapping that computes facts from the world on demand and holds only an index
        (64-bit hashes and positions), checked against the build's ``facts`` when made."""
        facts, entities = _HashIndex(), _HashIndex()
        for position, (e, fs) in zip(self.positions, self.entity_facts()):
            entities.add(e, position)
            for f in fs:
                facts.add(f.id, position)
        self.__dict__["facts_by_entity"] = EntityFacts(self.seed, entities.done())
        return WorldFacts(self.seed, facts.done())

    @cached_property
    def facts_by_entity(self) -> "EntityFacts":
        """The world facts of each entity of the build, by entity id (computed on demand)."""
        self.world_facts  # noqa: B018 (makes both indexes in one pass)
        return self.__dict__["facts_by_entity"]

    @cached_property
    def entities(self) -> dict[str, dict]:
        return {r["id"]: r for r in self.rows("entities")}

    @cached_property
    def qa_by_entity(self) -> dict[str, list[dict]]:
        return group_by(self.rows("qa"), "entity_id")

    def roles(self, assignment: Sequence[tuple[str, str]]) -> list[EntityRole]:
        """``EntityRole`` rows for ``(entity_id, role)`` pairs."""
        return [EntityRole(entity_id=e, name=self.entities[e]["name"], type=self.entities[e]["type"], role=role)
                for e, role in assignment]


def _hash64(key: str) -> int:
    import hashlib

    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")


class _HashIndex:
    """Key -> world position for many string keys in 16 bytes a key: sorted 64-bit hashes of the
    keys and their positions (a hash may collide: callers check what they find)."""

    def __init__(self):
        from array import array

        self._hashes, self._positions = array("Q"), array("q")

    def add(self, key: str, position: int) -> None:
        self._hashes.append(_hash64(key))
        self._positions.append(position)

    def done(self) -> "_HashIndex":
        import numpy as np

        hashes = np.frombuffer(self._hashes, dtype=np.uint64)
        order = np.argsort(hashes, kind="stable")
        self.hashes = hashes[order]
        self.positions = np.frombuffer(self._positions, dtype=np.int64)[order]
        del self._hashes, self._positions
        return self

    def __len__(self) -> int:
        return len(self.hashes)

    def candidates(self, key: str) -> list[int]:
        import numpy as np

        h = np.uint64(_hash64(key))
        lo = int(np.searchsorted(self.hashes, h, side="left"))
        hi = int(np.searchsorted(self.hashes, h, side="right"))
        return [int(p) for p in self.positions[lo:hi]]

    def all_positions(self) -> list[int]:
        return sorted(set(int(p) for p in self.positions))


class WorldFacts(Mapping):
    """Fact id -> :class:`WorldFact` of a build, computed from the world when asked."""

    def __init__(self, seed: int, index: _HashIndex):
        self.seed, self.index = seed, index

    def __getitem__(self, fact_id: str) -> WorldFact:
        for position in self.index.candidates(fact_id):
            for f in facts_of(self.seed, position):
                if f.id == fact_id:
                    return f
        raise KeyError(fact_id)

    def __len__(self) -> int:
        return len(self.index)

    def __iter__(self):
        for position in self.index.all_positions():
            for f in facts_of(self.seed, position):
                yield f.id


class EntityFacts(Mapping):
    """Entity id -> its world facts (a list), computed from the world when asked."""

    def __init__(self, seed: int, index: _HashIndex):
        self.seed, self.index = seed, index

    def __getitem__(self, entity_id: str) -> list[WorldFact]:
        from fictional_knowledge.generate.world import entity_at

        for position in self.index.candidates(entity_id):
            if entity_at(self.seed, position).id == entity_id:
                return list(facts_of(self.seed, position))
        raise KeyError(entity_id)

    def __len__(self) -> int:
        return len(self.index)

    def __iter__(self):
        from fictional_knowledge.generate.world import entity_at

        for position in self.index.all_positions():
            yield entity_at(self.seed, position).id


def group_by(rows: Iterable[dict], field: str) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r[field], []).append(r)
    return out
