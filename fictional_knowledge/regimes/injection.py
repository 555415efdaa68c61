"""Knowledge injection (Chang et al., NeurIPS 2024, "How Do Large Language Models Acquire Factual
Knowledge During Pretraining?").

Disjoint groups of passages are injected into a pretraining stream at fixed steps:

- *paraphrase*: the passage at the first injection, then a different paraphrase at each later one
  (paraphrase ``i`` at injection ``i``, as in the released ``create_inject_indices_map.py``);
- *duplicate*: the same passage at every injection;
- *once*: the passage at the first injection only;
- *control*: never injected; its probed facts are kept out of the background too, so its probes
  measure what training on the background alone does to a probe's loss.

The default is the paper's schedule (steps 0, 100, ..., 900) with groups of 40 passages, drawn by a
seeded sample dealt so that every group gets each entity type in proportion (``--select
stratified``; ``first`` takes build order, ``random`` a plain seeded sample). Configs:

- ``injection`` (split ``train``): rows ``(step, injection, scenario, passage_id, entity_id,
  variant, text)``, ordered by step, then scenario, then passage: the order the texts take the
  rows of a batch (see :func:`fictional_knowledge.regimes.merge.inject`);
- ``probes`` (split ``test``): the build's probes of every injected and control passage, plus
  ``scenario``;
- ``background`` (split ``train``): a pretraining stream, one of
  - the build's other passages (seeded order), with every sentence that states a probed fact
    removed (``--background build``, the default);
  - passages of ``--background-entities N`` world entities disjoint from the build's (rendered
    from positions past the build, so they share no entity and no fact with it);
  - a user corpus (``--background PATH_OR_NAME --background-column text``), copied as it is.
"""

from __future__ import annotations


from pydantic import Field

from fictional_knowledge.models import Probe
from fictional_knowledge.generate.seeding import make_id
from fictional_knowledge.regimes.common import RegimeError, Row, Source, seeded_order, seeded_stream
from fictional_knowledge.regimes.options import INJECTED_SCENARIOS, SCENARIOS, InjectionOptions, Scenario
from fictional_knowledge.regimes.sentences import PassageParser

SUMMARY = ("Knowledge injection after Chang et al. (NeurIPS 2024): disjoint groups of passages are "
           "injected into a pretraining stream at fixed steps, as the original and then a new paraphrase "
           "each time (*paraphrase*), the same text each time (*duplicate*), or only at the first step "
           "(*once*); a *control* group is never injected. Their probes are scored at every step. "
           "`background` is a pretraining stream in which no probed fact occurs.")
DESCRIPTIONS = {
    "injection": "a text injected at a step: step, injection index, scenario, passage, variant (0 = original)",
    "probes": "a probe of an injected or control passage (the build's probe fields) with its scenario",
    "background": "a background document (no probed fact)",
}


def describe(opts) -> dict[str, str]:
    """What one row of each config is (for the README)."""
    return DESCRIPTIONS


class Injection(Row):
    id: str
    step: int
    injection: int = Field(description="0 for the first injection step, 1 for the second, ...")
    scenario: Scenario
    passage_id: str
    entity_id: str
    variant: int = Field(description="0: the passage; i >= 1: its paraphrase i (paraphrases[i-1]).")
    text: str


class InjectionProbe(Probe):
    scenario: Scenario


class BackgroundDoc(Row):
    id: str
    passage_id: str
    entity_id: str
    text: str
    removed_sentences: int


class CorpusDoc(Row):
    """A document of a user corpus used as the background, as it was."""

    id: str
    index: int = Field(description="Row number in the source corpus.")
    text: str


def _deal(sizes: list[int]) -> list[int]:
    """Group indices for ``sum(sizes)`` items in turn, each group as evenly spread as its size
    allows (Sainte-Laguë): dealt over a type-sorted list, every group gets each type in proportion."""
    given = [0] * len(sizes)
    out = []
    for _ in range(sum(sizes)):
        g = min((i for i, n in enumerate(sizes) if given[i] < n), key=lambda i: ((2 * given[i] + 1) / sizes[i], i))
        given[g] += 1
        out.append(g)
    return out


class PassageIndex:
    """The build's passages as compact columns (id, entity id, entity type), in build order: what
    choosing the groups needs, without the passages' text."""

    def __init__(self, source: Source):
        from array import array

        self.ids: list[str] = []
        self.entity_ids: list[str] = []
        self.type_names: list[str] = []
        self.types = array("H")
        codes: dict[str, int] = {}
        for entity, (e, rows) in zip(source.stream("entities", ["id", "type"]), source.by_entity("passages", ["id"])):
            for r in rows:
                self.ids.append(r["id"])
                self.entity_ids.append(e)
                if entity["type"] not in codes:
                    codes[entity["type"]] = len(self.type_names)
                    self.type_names.append(entity["type"])
                self.types.append(codes[entity["type"]])

    def __len__(self) -> int:
        return len(self.ids)

    def type_of(self, i: int) -> str:
        return self.type_names[self.types[i]]


def stratified(index: PassageIndex, sizes: list[int], seed: int) -> list[list[int]]:
    """A seeded sample of ``sum(sizes)`` passages (indices into ``index``), each entity type in
    proportion to the build (largest remainders), dealt so that every group gets each type in
    proportion."""
    total = sum(sizes)
    by_type: dict[str, list[int]] = {}
    for i in range(len(index)):
        by_type.setdefault(index.type_of(i), []).append(i)
    types = sorted(by_type)
    exact = {t: total * len(by_type[t]) / len(index) for t in types}
    quota = {t: int(exact[t]) for t in types}
    for t in sorted(types, key=lambda t: (-(exact[t] - quota[t]), t))[:total - sum(quota.values())]:
        quota[t] += 1
    chosen = [i for t in types
              for i in seeded_order(seed, f"injection:stratified:{t}", by_type[t], key=lambda i: index.ids[i])[:quota[t]]]
    groups: list[list[int]] = [[] for _ in sizes]
    for i, g in zip(chosen, _deal(sizes)):
        groups[g].append(i)
    return groups


def choose_groups(source: Source, opts: InjectionOptions, seed: int) -> dict[str, list[dict]]:
    """The passage rows of each scenario (paraphrase, duplicate, once, control). Only the chosen
    passages are read in full."""
    index = PassageIndex(source)
    total = sum(opts.group_sizes)
    if opts.passages is not None:
        position = {p: i for i, p in enumerate(index.ids)}
        unknown = [p for p in opts.passages if p not in position]
        if unknown:
            raise RegimeError(f"injection: unknown passage id {unknown[0]!r}")
        if len(set(opts.passages)) != len(opts.passages) or len(opts.passages) != total:
            raise RegimeError(f"injection: --passages needs {total} distinct ids (sum of --group-sizes)")
        chosen = [position[p] for p in opts.passages]
        del position
    else:
        if total > len(index):
            raise RegimeError(f"injection: the groups need {total} passages, the build has {len(index)}; "
                              "lower --group-sizes or build more entities")
        if opts.select == "stratified":
            return _rows_of(source, dict(zip(SCENARIOS, stratified(index, opts.group_sizes, seed))), index)
        pool = range(len(index)) if opts.select == "first" else \
            seeded_order(seed, "injection:select", range(len(index)), key=lambda i: index.ids[i])
        chosen = list(pool[:total])
    groups, start = {}, 0
    for scenario, size in zip(SCENARIOS, opts.group_sizes):
        groups[scenario] = chosen[start:start + size]
        start += size
    return _rows_of(source, groups, index)


def _rows_of(source: Source, groups: dict[str, list[int]], index: PassageIndex) -> dict[str, list[dict]]:
    """The full passage rows of the chosen indices (one streaming pass)."""
    wanted = {index.ids[i] for ids in groups.values() for i in ids}
    rows = {r["id"]: r for r in source.stream("passages") if r["id"] in wanted}
    return {s: [rows[index.ids[i]] for i in ids] for s, ids in groups.items()}


def schedule_of(opts: InjectionOptions) -> dict[str, list[int]]:
    """The injection steps of each scenario that has passages (control: none)."""
    steps = {"paraphrase": list(opts.steps), "duplicate": list(opts.steps), "once": opts.steps[:1], "control": []}
    return {s: steps[s] for s, n in zip(SCENARIOS, opts.group_sizes) if n}


def make(source: Source, opts: InjectionOptions, seed: int):
    """``(configs, notes)`` of the injection regime."""
    groups = choose_groups(source, opts, seed)
    later = len(opts.steps) - 1
    if groups["paraphrase"] and later > source.manifest.config.paraphrases:
        raise RegimeError(f"injection: the paraphrase scenario needs {later} paraphrases per passage for "
                          f"{len(opts.steps)} steps; the build has {source.manifest.config.paraphrases}")
    rows: list[Injection] = []
    for i, step in enumerate(opts.steps):
        for scenario in INJECTED_SCENARIOS:
            if scenario == "once" and i > 0:
                continue
            for p in groups[scenario]:
                variant = i if scenario == "paraphrase" else 0
                text = p["text"] if variant == 0 else p["paraphrases"][variant - 1]
                rows.append(Injection(id=make_id("injection", source.seed, p["id"], step, scenario), step=step,
                                      injection=i, scenario=scenario, passage_id=p["id"], entity_id=p["entity_id"],
                                      variant=variant, text=text))
    scenario_of = {p["id"]: s for s, ps in groups.items() for p in ps}
    probes = [InjectionProbe(**r, scenario=scenario_of[r["passage_id"]])
              for r in source.stream("probes") if r["passage_id"] in scenario_of]
    configs = {"injection": {"train": rows}, "probes": {"test": probes}}
    types = {s: _type_counts(source, ps) for s, ps in groups.items() if ps}
    notes = {"groups": {s: [p["id"] for p in ps] for s, ps in groups.items() if ps},
             "schedule": schedule_of(opts), "entity_types": types,
             "injections_per_step": {str(step): sum(r.step == step for r in rows) for step in opts.steps}}
    if opts.background != "none":
        banned = {f for p in probes for f in p.fact_ids}
        totals = {"docs": 0, "words": 0, "characters": 0}

        def counted(docs):
            for d in docs:
                totals["docs"] += 1
                totals["words"] += len(d.text.split())
                totals["characters"] += len(d.text)
                yield d
            if not totals["docs"]:
                raise RegimeError("injection: the background stream would be empty; use --background none")

        if opts.background == "build" and opts.background_entities is None:
            info = {"source": "build", "removed_sentences": 0}
            docs = background_stream(source, set(scenario_of), banned, info)
            stage_docs = lambda: seeded_stream(seed, "injection:background", counted(docs), key=lambda d: d.id)  # noqa: E731
        elif opts.background == "build":
            info = {}
            docs = world_background_stream(source, opts.background_entities, info)
            stage_docs = lambda: seeded_stream(seed, "injection:background", counted(docs), key=lambda d: d.id)  # noqa: E731
        else:
            listed, info = corpus_background(opts.background, opts.background_column, seed)
            if not listed:
                raise RegimeError("injection: the background stream would be empty; use --background none")
            stage_docs = lambda: counted(listed)  # noqa: E731
        configs["background"] = {"train": stage_docs}

        def final_notes() -> dict:
            return {**notes, "background": {**info, **totals}}
        return configs, final_notes
    return configs, notes


def _type_counts(source: Source, passages: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in passages:
        t = source.facts_by_entity[p["entity_id"]][0].subject.type
        out[t] = out.get(t, 0) + 1
    return dict(sorted(out.items()))


def background_stream(source: Source, injected: set[str], banned_facts: set[str], info: dict):
    """The passages not in ``injected``, without the sentences stating ``banned_facts``, in build
    order (streamed); ``info["removed_sentences"]`` counts the sentences removed."""
    parser = PassageParser(source.world_facts, source.facts_by_entity, source.templates, source.manifest.config)
    for p in source.stream("passages"):
        if p["id"] in injected:
            continue
        text, n = parser.parse_text(p).text(banned_facts)
        info["removed_sentences"] += n
        if text:
            yield BackgroundDoc(id=make_id("background", source.seed, p["id"], text), passage_id=p["id"],
                                entity_id=p["entity_id"], text=text, removed_sentences=n)


def background(source: Source, injected: set[str], banned_facts: set[str], seed: int) -> tuple[list[BackgroundDoc], int]:
    """The passages not in ``injected``, without the sentences stating ``banned_facts``, in a
    seeded order; also the number of sentences removed (in memory: see :func:`background_stream`)."""
    info = {"removed_sentences": 0}
    docs = seeded_order(seed, "injection:background", background_stream(source, injected, banned_facts, info),
                        key=lambda d: d.id)
    return docs, info["removed_sentences"]


def background_start(entities: int) -> int:
    """The first world position of a ``--background-entities`` background: past the build's last
    block by 3 link windows, so no link chain of a background passage (an entity, its linked
    entities and theirs) reaches an entity of the build."""
    from fictional_knowledge.generate.world import BLOCK, WINDOW

    return ((entities + BLOCK - 1) // BLOCK + 3 * WINDOW) * BLOCK


def world_background_stream(source: Source, count: int, info: dict):
    """Passages of ``count`` world entities after :func:`background_start` (same world seed and
    build settings as the source), in world order (streamed; ``info`` is filled as they go). A
    passage that shares a fact or an entity id with the build (two entities whose names coincide)
    is left out and counted."""
    from fictional_knowledge.generate.bundle import passage_records
    from fictional_knowledge.models import Passage

    config = source.manifest.config
    start = background_start(config.entities)
    render = config.model_copy(update={"paraphrases": 0})  # the passage text does not depend on them
    build_facts = source.world_facts  # membership through the compact index
    build_entities = source.facts_by_entity
    templates = source.templates
    info.update({"source": "world", "first_position": start, "entities": count, "skipped_overlapping": 0})
    for position in _progress(range(start, start + count), "background entities", source.progress):
        (row,) = passage_records(source.seed, position, render, templates)["passages"]
        passage = Passage.model_validate(row) if isinstance(row, dict) else row
        if passage.entity_id in build_entities or any(f in build_facts for f in passage.fact_ids):
            info["skipped_overlapping"] += 1
            continue
        yield BackgroundDoc(id=make_id("background", source.seed, passage.id, passage.text),
                            passage_id=passage.id, entity_id=passage.entity_id, text=passage.text,
                            removed_sentences=0)


def world_background(source: Source, count: int, seed: int) -> tuple[list[BackgroundDoc], dict]:
    """:func:`world_background_stream` in a seeded order, in memory."""
    info: dict = {}
    docs = seeded_order(seed, "injection:background", world_background_stream(source, count, info), key=lambda d: d.id)
    return docs, info


def _progress(items, description: str, enabled: bool = True):
    """A progress bar over ``items`` on stderr (tqdm, the package's one progress library; none
    when not ``enabled`` (``--quiet``), for short work, or when stderr is not a terminal)."""
    import sys

    if not enabled or len(items) < 2000:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=description, file=sys.stderr, leave=False, dynamic_ncols=True, disable=None)


def corpus_background(spec: str, column: str, seed: int) -> tuple[list[CorpusDoc], dict]:
    """The rows of a user corpus, in their order: a local folder or file (.txt, .json, .jsonl,
    .csv, .parquet) or a name ``datasets.load_dataset`` resolves. Rows whose text is empty are
    left out and counted."""
    from pathlib import Path

    import datasets

    path = Path(spec)
    builders = {".txt": "text", ".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet"}
    try:
        if path.is_file():
            if path.suffix not in builders:
                raise RegimeError(f"injection: --background {spec}: a file must be one of {', '.join(builders)}")
            ds = datasets.load_dataset(builders[path.suffix], data_files=str(path), split="train")
        else:
            ds = datasets.load_dataset(spec)
            if isinstance(ds, datasets.DatasetDict):
                if "train" not in ds and len(ds) != 1:
                    raise RegimeError(f"injection: --background {spec} has splits {', '.join(ds)} and none is train")
                ds = ds["train"] if "train" in ds else next(iter(ds.values()))
    except RegimeError:
        raise
    except Exception as exc:  # datasets raises many kinds; the user needs the first line
        raise RegimeError(f"injection: cannot load --background {spec}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if column not in ds.column_names:
        raise RegimeError(f"injection: --background {spec} has no column {column!r} (columns: "
                          f"{', '.join(ds.column_names)}); pass --background-column")
    docs, empty = [], 0
    for i, text in enumerate(ds[column]):
        if not isinstance(text, str) or not text.strip():
            empty += 1
            continue
        docs.append(CorpusDoc(id=make_id("corpus", seed, i, text), index=i, text=text))
    return docs, {"source": "corpus", "corpus": spec, "column": column, "rows": len(ds), "empty_rows_left_out": empty}
