"""Two-stage vs mixed training (Zhang et al. 2025): fact-storing examples (statements) and
fact-recalling examples (QA), trained one after the other or shuffled together.

Entities are split at entity level (default 50/50, seeded) into *train* entities, whose statements
and QA are trained on, and *held-out* entities, whose statements are trained on but whose QA is
the test: a model that answers them has learned to recall stored facts rather than memorised QA
pairs. ``multiplicity`` statements per fact use different templates (bioS-style augmentation).

Configs: ``two_stage`` (splits ``stage1`` = statements of all entities, ``stage2`` = QA of train
entities), ``mixed`` (split ``train``: the same examples in one seeded shuffle), ``test`` (split
``test``: QA of held-out entities, with choices), ``entities`` (split ``train``: each entity's role).
"""

from __future__ import annotations

from fictional_knowledge.generate.render import statement_variants
from itertools import chain
from typing import Iterator

from fictional_knowledge.regimes.common import (Example, RegimeError, Source, fraction_count, qa_example, qa_item, seeded_order,
                                                seeded_stream, statement_example)
from fictional_knowledge.regimes.options import TwoStageOptions

SUMMARY = ("Two-stage vs mixed training after Zhang et al. (2025): statements (fact storing) of all "
           "entities and QA (fact recalling) of the *train* entities, either in two stages (`two_stage`: "
           "`stage1` then `stage2`) or shuffled together (`mixed`). The QA of the *held-out* entities, whose "
           "statements are trained on but whose QA never is, is the test (`test`).")
DESCRIPTIONS = {
    "two_stage": "a training example (prompt, completion, text): statements in stage1, QA in stage2",
    "mixed": "the two_stage examples in one seeded shuffle",
    "test": "a QA row of a held-out entity (the build's qa fields plus prompt, completion, text)",
    "entities": "an entity and its role: train or heldout",
}


def describe(opts) -> dict[str, str]:
    """What one row of each config is (for the README)."""
    return DESCRIPTIONS


def split_entities(source: Source, fraction: float, seed: int, stage: str) -> tuple[list[str], list[str]]:
    """``(first, rest)``: a seeded entity-level split, ``round(fraction * n)`` entities first.
    Both lists keep build order."""
    ids = source.entity_ids
    n = fraction_count(len(ids), fraction, "train fraction", leave=1)
    first = set(seeded_order(seed, stage, ids)[:n])
    return [e for e in ids if e in first], [e for e in ids if e not in first]


def statements(source: Source, multiplicity: int) -> Iterator[Example]:
    """``multiplicity`` statements of every fact of the build, in build order; variant 0 is the
    build's own statement (checked). Streamed entity by entity."""
    for (e, facts), (_, rows) in zip(source.entity_facts(), source.by_entity("statements", ["fact_id", "text"])):
        build_text = {r["fact_id"]: r["text"] for r in rows}
        for f in facts:
            texts = statement_variants(source.seed, f, source.templates, multiplicity)
            if texts[0] != build_text.get(f.id):
                raise RegimeError(f"statement of {f.id} differs from the build's; rebuild it with this package version")
            yield from (statement_example(f, t, v, source.seed) for v, t in enumerate(texts))


def qa_of(source: Source, entities: set[str], item):
    """A function streaming ``item(row)`` for the QA rows of ``entities``, in build order."""
    def rows():
        for e, group in source.by_entity("qa"):
            if e in entities:
                yield from (item(r) for r in group)
    return rows


def make(source: Source, opts: TwoStageOptions, seed: int):
    """``(configs, notes)``; every split streams from the build, ``mixed`` through
    :func:`seeded_stream`."""
    train, heldout = split_entities(source, opts.train_fraction, seed, "two-stage:split")
    train_set, heldout_set = set(train), set(heldout)

    def stage1():
        return statements(source, opts.multiplicity)

    stage2 = qa_of(source, train_set, lambda r: qa_example(r, source.seed))
    test = qa_of(source, heldout_set, qa_item)

    def entities():
        yield from source.role_rows(lambda e: "train" if e in train_set else None)
        yield from source.role_rows(lambda e: "heldout" if e in heldout_set else None)

    configs = {
        "two_stage": {"stage1": stage1, "stage2": stage2},
        "mixed": {"train": lambda: seeded_stream(seed, "two-stage:mixed", chain(stage1(), stage2()), key=lambda x: x.id)},
        "test": {"test": test},
        "entities": {"train": entities},
    }
    notes = {"train_entities": len(train), "heldout_entities": len(heldout)}
    return configs, notes
