"""Forget/retain splits for unlearning, TOFU-style (Maini et al. 2024): forget 1%, 5% and 10% of
the entities, at entity level, with the matching retain sets.

The sets are nested: entities are put in one seeded order and ``forgetNN`` is its first
``round(NN% * n)`` entities (at least one), so ``forget01`` is inside ``forget05``, inside
``forget10``. ``retainMM`` (``MM = 100 - NN``) is every other entity. Each config holds the QA of its
entities (the build's qa fields plus prompt, completion and text; ``choices`` give the perturbed
answers); ``full`` has every entity's QA and ``entities`` gives each entity the smallest forget
level that contains it (null: never forgotten). All splits are named ``train``, as in TOFU.
"""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from fictional_knowledge.regimes.common import RegimeError, Row, Source, qa_item, seeded_order
from fictional_knowledge.regimes.options import ForgetOptions

SUMMARY = ("Forget/retain splits for unlearning, TOFU-style: `forgetNN` holds the QA of NN% of the entities "
           "and `retainMM` the QA of all the others; the forget sets are nested (1% inside 5% inside 10% by "
           "default), at entity level. `full` is every entity's QA.")


class ForgetEntity(Row):
    entity_id: str
    name: str
    type: str
    forget_percent: Optional[int] = Field(None, description="Smallest forget set holding the entity; null: none.")


def names(percent: int) -> tuple[str, str]:
    """Config names of a level: ``("forget05", "retain95")``."""
    return f"forget{percent:02d}", f"retain{100 - percent:02d}"


def describe(opts: ForgetOptions) -> dict[str, str]:
    """What one row of each config is (for the README)."""
    out = {"full": "a QA row of any entity", "entities": "an entity and the smallest forget level holding it"}
    for p in opts.percents:
        forget, retain = names(p)
        out[forget] = f"a QA row of an entity in the {p}% forget set"
        out[retain] = f"a QA row of an entity outside the {p}% forget set"
    return out


def make(source: Source, opts: ForgetOptions, seed: int):
    """``(configs, notes)``; the QA of each config streams from the build (only entity ids and
    forget levels are held)."""
    ids = source.entity_ids
    order = seeded_order(seed, "forget:order", ids)
    sizes = {p: max(1, int(round(p * len(ids) / 100))) for p in opts.percents}
    if sizes[opts.percents[-1]] >= len(ids):
        raise RegimeError(f"forget: {opts.percents[-1]}% of {len(ids)} entities leaves nothing to retain")
    level: dict[str, int] = {}
    for p in reversed(opts.percents):
        for e in order[:sizes[p]]:
            level[e] = p
    del order

    def qa_of(keep):
        def rows():
            for e, group in source.by_entity("qa"):
                if keep(e):
                    yield from (qa_item(r) for r in group)
        return rows

    def entities():
        for r in source.stream("entities", ["id", "name", "type"]):
            yield ForgetEntity(entity_id=r["id"], name=r["name"], type=r["type"], forget_percent=level.get(r["id"]))

    configs: dict[str, dict] = {}
    for p in opts.percents:
        forget, retain = names(p)
        configs[forget] = {"train": qa_of(lambda e, p=p: level.get(e, 100) <= p)}
        configs[retain] = {"train": qa_of(lambda e, p=p: level.get(e, 100) > p)}
    configs["full"] = {"train": qa_of(lambda e: True)}
    configs["entities"] = {"train": entities}
    notes = {"entities": len(ids), "forget_entities": {names(p)[0]: sizes[p] for p in opts.percents}}
    return configs, notes
