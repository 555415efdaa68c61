"""One entity's bundle: every row the build writes for it.

Rows are plain dicts with their keys in sorted order (``models.sorted_fields``), nested ones
included, and every field present: exactly ``Model.model_dump()`` of their record model, which
is what lets the build validate them a chunk at a time (``models.validate_rows``) and fingerprint
them without re-sorting. A test checks that each row equals its validated model's
dump.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from fictional_knowledge.generate.facts import facts_of
from fictional_knowledge.models import QA, Attributes, BuildConfig, Entity, Fact, FKRow, Passage, Probe, Statement, sorted_fields
from fictional_knowledge.kinds import PROBE_KIND_TABLE
from fictional_knowledge.generate.probes import ProbeContext, generate_probes
from fictional_knowledge.generate.render import (Sentence, SentenceBank, distractors, join, paraphrases, plan_passage,
                                                 question_pair, realize, statement, with_spans)
from fictional_knowledge.generate import planner
from fictional_knowledge.generate.seeding import item_rng, make_id
from fictional_knowledge.generate.qa_rules import value_bounds, value_kind
from fictional_knowledge.generate.templates import TypeTemplates
from fictional_knowledge.generate.world import entity_at, pronoun_of
from fictional_knowledge.errors import InputError


_KEYS = {m: sorted_fields(m) for m in (Entity, Fact, Passage, Probe, Statement, QA, FKRow)}
_ATTRIBUTE_KEYS = sorted_fields(Attributes)


def _row(model, **fields) -> dict:
    """A row of ``model`` with its keys in sorted order; a missing or unknown field is an error."""
    keys = _KEYS[model]
    try:
        if len(fields) == len(keys):
            return {k: fields[k] for k in keys}
    except KeyError:
        pass
    raise ValueError(f"{model.__name__} row: missing fields {sorted(set(keys) - set(fields))}, "
                     f"unknown fields {sorted(set(fields) - set(keys))}")


def _attributes(seed: int, entity) -> dict:
    attrs = dict(entity.values)
    for relation, pos in entity.links.items():
        attrs[relation] = entity_at(seed, pos).id
    unknown = attrs.keys() - set(_ATTRIBUTE_KEYS)
    if unknown:
        raise ValueError(f"{entity.type} has attributes the Attributes model lacks: {sorted(unknown)}")
    return {k: attrs.get(k) for k in _ATTRIBUTE_KEYS}


def _world_attrs(seed: int, position: int) -> dict:
    """An entity's attributes with links as positions (for ``qa_rules.value_bounds``)."""
    e = entity_at(seed, position)
    return {**e.values, **e.links}


def _qa_constraints(seed: int, entity, stated: tuple) -> tuple[dict, Callable]:
    """The values of each kind that the entity's passage states (``stated`` facts), and the
    bounds of each relation's possible values (see ``qa_rules.value_bounds``)."""
    by_kind: dict[tuple, list[str]] = {}
    for f in stated:
        by_kind.setdefault(value_kind(f.subject.type, f.relation), []).append(f.object)
    attrs = {**entity.values, **entity.links}

    def bounds(relation: str):
        return value_bounds(entity.type, relation, attrs, lambda pos: _world_attrs(seed, pos))
    return by_kind, bounds


def world_records(seed: int, position: int, config: BuildConfig,
                  templates: dict[str, TypeTemplates]) -> dict[str, list]:
    """Entity, facts, statements and QA rows of the entity at ``position``. Its QA distractors
    include a value of the right kind from its own passage when that states one (the passage the
    entity has as a focal entity, so that its rows do not depend on whether it is focal)."""
    entity = entity_at(seed, position)
    stated = _passage(seed, position, config, templates)[0].facts
    by_kind, bounds = _qa_constraints(seed, entity, stated)
    out = {"entities": [_row(Entity, id=entity.id, type=entity.type, name=entity.name,
                             attributes=_attributes(seed, entity),
                             pronoun=pronoun_of(seed, position) if entity.type == "person" else None)],
           "facts": [], "statements": [], "qa": []}
    for f in facts_of(seed, position):
        obj_id = entity_at(seed, f.object_position).id if f.object_position is not None else None
        out["facts"].append(_row(Fact, id=f.id, subject_id=entity.id, relation=f.relation, object=f.object, object_id=obj_id))
        text = statement(seed, f, templates)
        out["statements"].append(_row(Statement, id=make_id("statement", seed, f.id, text), fact_id=f.id,
                                         entity_id=entity.id, text=text))
        qa_rng = item_rng(seed, "qa", f.id)
        question, question_para = question_pair(f, templates, qa_rng)
        wrong = distractors(seed, f, config.distractors, qa_rng,
                            tuple(dict.fromkeys(by_kind.get(value_kind(entity.type, f.relation), ()))),
                            bounds(f.relation))
        index = qa_rng.randrange(len(wrong) + 1)
        choices = wrong[:index] + [f.object] + wrong[index:]
        out["qa"].append(_row(QA, id=make_id("qa", seed, f.id, question), fact_id=f.id, entity_id=entity.id,
                               question=question, question_paraphrase=question_para, answer=f.object,
                               choices=choices, answer_index=index))
    return out


_LAST_PASSAGE: list = [None, None]  # (key, value): world_records and passage_records share it


def _passage(seed: int, position: int, config: BuildConfig, templates: dict[str, TypeTemplates]):
    """The plan, sentence bank and sentences of a focal entity's passage (computed once for its
    QA rows and its passage rows, which the build makes one after the other)."""
    key = (seed, position, config, id(templates))
    if _LAST_PASSAGE[0] == key:
        return _LAST_PASSAGE[1]
    entity = entity_at(seed, position)
    rng = item_rng(seed, "passage", entity.id)
    if config.style == "prose":
        target = rng.randint(config.passage_min_words, min(config.passage_max_words, config.passage_min_words + 150))
        content = planner.plan_content(seed, entity, templates, rng, target_words=target)
        sentences, used = planner.write_passage(seed, content, templates, rng, config.memorization_probes)
        words = len(planner.join(sentences).split())
        while words > config.passage_max_words and content.context:
            content = planner.plan_content(seed, entity, templates, item_rng(seed, "passage-retry", entity.id),
                                           max_context=len(content.context) - 1)  # no closing paragraphs
            sentences, used = planner.write_passage(seed, content, templates, rng, config.memorization_probes)
            words = len(planner.join(sentences).split())
        if words > config.passage_max_words:
            raise InputError(f"the passage of {entity.name} needs {words} words, more than --max-words "
                             f"{config.passage_max_words} (BuildConfig.passage_max_words) allows")
        _LAST_PASSAGE[:] = [key, (content, used, sentences)]
        return content, used, sentences
    target = rng.randint(config.passage_min_words, min(config.passage_max_words, config.passage_min_words + 150))
    plan = plan_passage(seed, entity, templates, target, config.passage_max_words)
    bank = SentenceBank(plan, templates)
    sentences = realize(plan, templates, rng, bank)
    while len(join(sentences).split()) > config.passage_max_words and plan.linked:
        plan = replace(plan, linked=plan.linked[:-1])  # the word estimate was low: drop a group
        bank = SentenceBank(plan, templates)
        sentences = realize(plan, templates, item_rng(seed, "passage-retry", (entity.id, len(plan.linked))), bank)
    words = len(join(sentences).split())
    if words > config.passage_max_words:  # its own facts alone: refuse rather than overrun the bound
        raise InputError(f"the passage of {entity.name} needs {words} words, more than --max-words "
                         f"{config.passage_max_words} (BuildConfig.passage_max_words) allows")
    _LAST_PASSAGE[:] = [key, (plan, bank, sentences)]
    return plan, bank, sentences


def prose_sentences(seed: int, position: int, config: BuildConfig, templates: dict[str, TypeTemplates]):
    """The sentences of a prose passage and of each of its paraphrases, with the facts each
    sentence states: what ``passage_records`` writes, for readers that need to know which
    sentence states what (the regimes drop sentences by fact)."""
    content, used, sentences = _passage(seed, position, config, templates)
    prng = item_rng(seed, "paraphrases", entity_at(seed, position).id)
    return sentences, planner.paraphrase_sentences(seed, content, templates, prng, used, config.paraphrases)


def _facts_by_sentence(paragraphs: list[list[Sentence]]) -> list[list[tuple[str, tuple[str, ...]]]]:
    return [[(x.text, tuple(f.id for f in x.facts)) for x in para] for para in paragraphs]


def passage_records(seed: int, position: int, config: BuildConfig,
                    templates: dict[str, TypeTemplates]) -> dict[str, list]:
    """Passage (with paraphrases), probe and FK-schema rows of a focal entity."""
    entity = entity_at(seed, position)
    plan, bank, sentences = _passage(seed, position, config, templates)
    if config.style == "prose":  # plan: the planner's content, bank: the clause each fact used
        para_sentences = [_facts_by_sentence(p) for p in prose_sentences(seed, position, config, templates)[1]]
    else:
        para_sentences = paraphrases(plan, templates, item_rng(seed, "paraphrases", entity.id), sentences, bank,
                                     config.paraphrases)
    paras, para_spans = [], []
    for p in para_sentences:
        para_text, spans = with_spans(p)
        paras.append(para_text)
        para_spans.append(spans)
    text, spans = with_spans(_facts_by_sentence(sentences))
    stated = [f.id for f in plan.facts]
    passage_id = make_id("passage", seed, entity.id)
    passage = _row(Passage, id=passage_id, entity_id=entity.id, text=text, paraphrases=paras, fact_ids=stated,
                   sentences=spans, paraphrase_sentences=para_spans)
    qrng = item_rng(seed, "probes", entity.id)
    ctx = ProbeContext(seed, entity, templates, sentences, set(stated))
    drafts = generate_probes(ctx, {k.name: getattr(config, k.count_field) for k in PROBE_KIND_TABLE}, qrng)
    probes = [_row(Probe, id=make_id("probe", seed, passage_id, d.kind, d.input, d.target), passage_id=passage_id,
                   entity_id=entity.id, kind=d.kind, input=d.input, target=d.target,
                   fact_ids=[f.id for f in d.facts], relation_path=list(d.relation_path),
                   in_passage=d.in_passage)
              for d in drafts]
    fk_lists = {"train_context": text, "paraphrases": paras}
    for kind in PROBE_KIND_TABLE:
        if kind.fk_prefix:
            fk_lists[f"{kind.fk_prefix}_input"] = [d.input for d in ctx.drafts[kind.name]]
            fk_lists[f"{kind.fk_prefix}_target"] = [d.target for d in ctx.drafts[kind.name]]
    fk = _row(FKRow, passage_id=passage_id, entity_id=entity.id, **fk_lists)
    return {"passages": [passage], "probes": probes, "fictional_knowledge": [fk]}

