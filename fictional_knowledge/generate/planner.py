"""The prose style: a sentence planner between facts and text (micro-planning, as classic NLG
systems have it).

A passage is planned in three steps, all drawn from one seeded RNG:

1. **Content**: every fact of the focal entity, every role fact that points at it
   (``world.pointing_at``: "head of state of", "founded", "the capital of"), and, as context, facts of
   the entities it links to, used as relative clauses, never more of them than of its own facts.
2. **Discourse**: one paragraph per topic of the type's template file (``topics``: origins, career,
   ...), the roles in a paragraph of their own; each sentence has the focal entity as its subject.
3. **Sentences**: 1-3 facts per sentence, through coordination ("S c1, c2 and c3"), participial
   openers ("Born in the city of X, S c2"), and relative clauses on a linked entity ("..., which
   lies on the Napubez River, ..."). The subject is referred to by its full name at first mention,
   then by pronoun, short name or definite description ("the city"); a pronoun always stands for the
   subject of the previous sentence, which in a passage is always the focal entity, and a
   description is used only while no other entity of the same type was named in the paragraph.
   Connectives follow the relation between sentences: a later year gets a time connective
   ("Later,"), the same year "In the same year,", others at times an additive one. No two
   consecutive sentences open with the same two words.

Every sentence records all the facts it states, and its sentence-final fact (the memorization
cloze target, always a fact whose subject the sentence names or refers to). Paraphrases re-plan the
same facts: other sentence groupings and order, other clauses, other referring expressions.
Clauses and openers are compiled templates (``templates.py``); the planner only joins strings.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Optional

from fictional_knowledge.generate.facts import WorldFact, facts_of, fact
from fictional_knowledge.generate.render import Sentence
from fictional_knowledge.generate.templates import TypeTemplates
from fictional_knowledge.generate.world import ROLE_RELATIONS, WorldEntity, entity_at, pointing_at, pronoun_of

#: First words of a clause that change after the pronoun "they".
AGREE = {"was": "were", "is": "are", "has": "have"}
#: Facts per sentence, drawn uniformly from this tuple.
SIZES = (1, 2, 2, 2, 3, 3)
OPENER_RATE = 0.35
ADDITIVE = ("In addition,", "Besides this,", "Apart from that,", "Beyond this,", "On top of that,",
            "Alongside this,", "What is more,")
ADDITIVE_RATE = 0.2
LATER = ("Later,", "Afterwards,", "Some years later,", "In the years that followed,", "In later years,",
         "After that,")
SAME_YEAR = ("In the same year,", "That same year,")
YEARLY = frozenset(("birth_year", "founded_year", "established_year", "published_year", "year"))
PRONOUN_RATE = 0.55
SHORT_RATE = 0.25
ROLE_SET = frozenset(ROLE_RELATIONS)


@dataclass
class Content:
    """What a prose passage states, by paragraph: each item a focal fact (subject = the focal
    entity) or a role fact (object = the focal entity); ``context`` maps a linked entity's position
    to one of its facts, stated as a relative clause where that entity is named."""

    entity: WorldEntity
    paragraphs: list[list]  # of facts, or tuples of role facts of one relation (one clause)
    context: dict[int, WorldFact] = field(default_factory=dict)

    @property
    def facts(self) -> tuple[WorldFact, ...]:
        return tuple(f for para in self.paragraphs for u in para for f in _unit(u)) + tuple(self.context.values())


def _unit(u) -> tuple[WorldFact, ...]:
    return u if isinstance(u, tuple) else (u,)


def _series(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def role_facts(seed: int, entity: WorldEntity) -> tuple[WorldFact, ...]:
    """The role facts pointing at ``entity`` (``world.pointing_at``), as facts of their subjects."""
    return tuple(fact(seed, pos, rel) for pos, rel in pointing_at(seed, entity.position))


def plan_content(seed: int, entity: WorldEntity, templates: dict[str, TypeTemplates], rng: random.Random,
                 max_context: Optional[int] = None) -> Content:
    """The facts of ``entity``'s prose passage, by paragraph (see the module docstring)."""
    t = templates[entity.type]
    own = {f.relation: f for f in facts_of(seed, entity.position)}
    paragraphs = [[own[r] for r in relations] for _, relations in t.topics]
    by_relation: dict[str, list[WorldFact]] = {}
    for f in role_facts(seed, entity):  # several roles of one relation make one clause
        by_relation.setdefault(f.relation, []).append(f)
    roles = [g[0] if len(g) == 1 else tuple(g) for g in by_relation.values()]
    if roles:
        paragraphs.insert(1, roles)
    paragraphs = [p for p in paragraphs if p]
    merged: list[list[WorldFact]] = []
    for p in paragraphs:  # a one-fact paragraph joins the one before
        if merged and (len(p) == 1 or len(merged[-1]) == 1):
            merged[-1].extend(p)
        else:
            merged.append(list(p))
    n_focal = sum(len(_unit(u)) for p in merged for u in p)
    budget = n_focal - 1 if max_context is None else min(max_context, n_focal - 1)
    context: dict[int, WorldFact] = {}
    linked = [f.object_position for f in own.values() if f.object_position is not None]
    rng.shuffle(linked)
    for pos in linked:
        if len(context) >= budget:
            break
        if pos in context:
            continue
        context_relations = templates[entity_at(seed, pos).type].context
        options = [g for g in facts_of(seed, pos)
                   if g.relation in context_relations and g.object_position != entity.position]
        if options:
            context[pos] = options[int(rng.random() * len(options))]
    return Content(entity, merged, context)


def _short_name(entity: WorldEntity) -> str:
    """A person's surname; any other entity's reference ("the Napubez River")."""
    return entity.name.split(" ", 1)[1] if entity.type == "person" and " " in entity.name else entity.ref


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _agree(clause: str, pronoun: str) -> str:
    if pronoun == "they":
        head, _, rest = clause.partition(" ")
        if head in AGREE:
            return f"{AGREE[head]} {rest}"
    return clause


class _Writer:
    """Writes one passage (or paraphrase) from its content."""

    def __init__(self, seed: int, content: Content, templates: dict[str, TypeTemplates], rng: random.Random,
                 avoid: Optional[dict[str, int]] = None, need: int = 0, final_context: bool = False):
        self.seed, self.content, self.templates, self.rng = seed, content, templates, rng
        self.rand = rng.random
        self.avoid = avoid or {}
        self.need = need  # sentences that must end with a probe-able fact and name its subject
        # a relative clause may follow the sentence-final value (paraphrases: they state every
        # context fact the passage states, wherever its linked entity falls)
        self.final_context = final_context
        self.used: dict[str, int] = {}
        e = content.entity
        self.entity = e
        self.t = templates[e.type]
        self.pronoun = pronoun_of(self.seed, e.position) if e.type == "person" else "it"
        self.context_left = dict(content.context)

    # --- pieces -------------------------------------------------------------------------------
    def _pick(self, options: tuple, key: str) -> int:
        n = len(options)
        avoid = self.avoid.get(key)
        if avoid is None or n == 1:
            return int(self.rand() * n)
        return (avoid + 1 + int(self.rand() * (n - 1))) % n

    def clause(self, f) -> tuple[str, int]:
        """The predicate stating ``f`` (a fact, or a tuple of role facts of one relation) with the
        focal entity as subject, and its template index."""
        if isinstance(f, tuple):
            options = self.templates[f[0].subject.type].inverse[f[0].relation]
            v = self._pick(options, f[0].id)
            return options[v].render({"subject": _series([g.subject.ref for g in f])}), v
        if f.subject.position == self.entity.position:
            options = self.t.clauses[f.relation]
            ctx = {"object": f.object}
        else:  # a role fact, seen from its object
            options = self.templates[f.subject.type].inverse[f.relation]
            ctx = {"subject": f.subject.ref}
        v = self._pick(options, f.id)
        self.used[f.id] = v
        return options[v].render(ctx), v

    def relative(self, f: WorldFact, named: list[WorldFact]) -> str:
        """``, which lies on the Napubez River`` for the linked entity of ``f``, if it has context."""
        g = self.context_left.pop(f.object_position, None)
        if g is None:
            return ""
        options = self.templates[g.subject.type].clauses[g.relation]
        v = self._pick(options, g.id)
        self.used[g.id] = v
        named.append(g)
        who = "who" if g.subject.type == "person" else "which"
        return f", {who} {options[v].render({'object': g.object})}"

    def subject(self, first_in_para: bool, first: bool, para_types: set, must_name: bool = False) -> tuple[str, str]:
        """A reference to the focal entity and its kind (name, short, pronoun, description)."""
        e = self.entity
        if first:
            return e.ref, "name"
        if first_in_para or must_name:
            return (_short_name(e), "short") if self.rand() < 0.5 else (e.ref, "name")
        r = self.rand()
        if r < PRONOUN_RATE:
            return self.pronoun, "pronoun"
        if r < PRONOUN_RATE + SHORT_RATE or not self.t.descriptions or e.type in para_types:
            return _short_name(e), "short"
        return self.t.descriptions[int(self.rand() * len(self.t.descriptions))], "description"

    # --- sentences ----------------------------------------------------------------------------
    def sentence(self, facts: list[WorldFact], first_in_para: bool, first: bool, prev: Optional[Sentence],
                 prev_year: Optional[int], para_types: set, must_name: bool = False,
                 connect: bool = False) -> Sentence:
        rand = self.rand
        ref, kind = self.subject(first_in_para, first, para_types, must_name)
        pronoun = self.pronoun if kind == "pronoun" else ""
        stated: list[WorldFact] = []
        opener = ""
        rest = facts
        f0 = facts[0]
        if (len(facts) >= 2 and not isinstance(f0, tuple) and f0.subject.position == self.entity.position
                and self.t.openers.get(f0.relation) and rand() < OPENER_RATE):
            options = self.t.openers[f0.relation]
            v = int(rand() * len(options))
            opener = options[v].render({"object": f0.object})
            stated.append(f0)
            if f0.object_position is not None:
                opener += self.relative(f0, stated)
            rest = facts[1:]
        parts = []
        for i, f in enumerate(rest):
            text, _ = self.clause(f)
            if i == 0:
                text = _agree(text, pronoun)
            stated.extend(_unit(f))
            last = i == len(rest) - 1
            if not isinstance(f, tuple) and f.object_position is not None and f.subject.position == self.entity.position and (
                    not last or self.final_context):
                rel = self.relative(f, stated)
                if rel and not last:
                    rel += ","
                text += rel
            parts.append(text)
        if len(parts) == 1:
            body = parts[0]
        elif len(parts) == 2:
            body = f"{parts[0]} and {parts[1]}"
        else:
            body = f"{parts[0]}, {parts[1]} and {parts[2]}"
        body = body.replace(",,", ",")
        if opener:
            text = f"{opener}, {ref} {body}."
        else:
            text = f"{ref} {body}."
            years = [int(f.object) for u in facts for f in _unit(u) if f.relation in YEARLY and f.object.isdigit()]
            if prev is not None and prev_year is not None and years and years[0] > prev_year:
                text = f"{LATER[int(rand() * len(LATER))]} {text}"
            elif prev is not None and prev_year is not None and years and years[0] == prev_year:
                text = f"{SAME_YEAR[int(rand() * len(SAME_YEAR))]} {text}"
            elif prev is not None and (connect or not first_in_para and rand() < ADDITIVE_RATE):
                text = f"{ADDITIVE[int(rand() * len(ADDITIVE))]} {text}"
        text = _cap(text)
        final = stated[-1]
        # the sentence-final value is the last stated fact's object (a focal or context fact), or
        # the role fact's subject name (no cloze target)
        final_fact = final if text.endswith(f" {final.object}.") and final.object_position != self.entity.position else None
        head = text[: -len(final.object) - 2] if final_fact is not None else text
        subject = final.subject
        named = final_fact is not None and (subject.name in head or _short_name(subject) in head)
        return Sentence(text, final_fact, tuple(stated), self.used.get(final.id, 0), named, "prose")

    def probeable(self, f) -> bool:
        """Whether a sentence ending with ``f`` can give a sound memorization probe: a fact of the
        focal entity that no other passage states (not a role, not a context relation)."""
        return (not isinstance(f, tuple) and f.subject.position == self.entity.position
                and (f.subject.type, f.relation) not in ROLE_SET and f.relation not in self.t.context)

    def chunks(self, paragraphs: list[list]) -> list[list[list]]:
        """Sentence groupings: 1-3 facts each (``SIZES``), leaving at least ``need`` sentences that
        end with a probe-able fact (in a sentence, the probe-able facts go last, so a sentence
        with ``j`` of them costs ``j - 1`` probe-able endings)."""
        rand = self.rand
        spare = sum(self.probeable(u) for p in paragraphs for u in p) - self.need  # endings we may lose
        out = []
        for para in paragraphs:
            para = [u for u in para if not self.probeable(u)] + [u for u in para if self.probeable(u)]
            groups, i = [], 0
            while i < len(para):
                k = min(SIZES[int(rand() * len(SIZES))], len(para) - i)
                while k > 1 and sum(self.probeable(u) for u in para[i:i + k]) - 1 > max(spare, 0):
                    k -= 1
                group = para[i:i + k]
                spare -= max(sum(self.probeable(u) for u in group) - 1, 0)
                groups.append(group)
                i += k
            out.append(groups)
        return out

    def write(self, order: Optional[list[list[WorldFact]]] = None) -> list[list[Sentence]]:
        out: list[list[Sentence]] = []
        prev: Optional[Sentence] = None
        prev_year: Optional[int] = None
        first = True
        grouped = self.chunks(order or self.content.paragraphs)
        finals = sum(self.probeable(g[-1]) for p in grouped for g in p)
        named_left = self.need
        for groups in grouped:
            sentences: list[Sentence] = []
            para_types: set = set()
            for chunk in groups:
                final_ok = self.probeable(chunk[-1])
                must_name = final_ok and named_left > 0 and named_left >= finals
                s = None
                saved = (dict(self.context_left), dict(self.used))
                for attempt in range(4):  # no two consecutive sentences open with the same two words
                    self.context_left, self.used = dict(saved[0]), dict(saved[1])
                    s = self.sentence(chunk, not sentences, first, prev, prev_year, para_types, must_name,
                                      connect=attempt >= 2)
                    if prev is None or s.text.split()[:2] != prev.text.split()[:2]:
                        break
                if final_ok:
                    finals -= 1
                    named_left -= s.named
                sentences.append(s)
                for f in s.facts:
                    if f.object_position is not None:
                        para_types.add(entity_at(self.seed, f.object_position).type)
                    if f.subject.position != self.entity.position:
                        para_types.add(f.subject.type)
                years = [int(f.object) for u in chunk for f in _unit(u) if f.relation in YEARLY and f.object.isdigit()]
                prev, prev_year, first = s, (years[-1] if years else None), False
            out.append(sentences)
        return out


def write_passage(seed: int, content: Content, templates: dict[str, TypeTemplates],
                  rng: random.Random, need: int = 0) -> tuple[list[list[Sentence]], dict[str, int]]:
    """The sentences of a prose passage, in paragraphs, and the clause index each fact got; at
    least ``need`` sentences (while the facts last) end with a fact of the focal entity that a
    memorization probe may test, after naming its subject."""
    w = _Writer(seed, content, templates, rng, need=need)
    sentences = w.write()
    stated = {f.id for para in sentences for x in para for f in x.facts}
    content.context = {pos: g for pos, g in content.context.items() if g.id in stated}  # paraphrases follow
    return sentences, w.used


def write_paraphrases(seed: int, content: Content, templates: dict[str, TypeTemplates], rng: random.Random,
                      used: dict[str, int], k: int) -> list[str]:
    """``k`` paraphrases: the same facts re-planned, with other groupings, order, clauses and
    references; each fact avoids the clause the original used (``used``) where it has another."""
    out = []
    for _ in range(k):
        order = []
        for para in content.paragraphs:
            p = list(para)
            rng.shuffle(p)
            order.append(p)
        if len(order) > 2:
            middle = order[1:]
            rng.shuffle(middle)
            order = [order[0]] + middle
        out.append(join(_Writer(seed, content, templates, rng, avoid=used, final_context=True).write(order)))
    return out


def join(paragraphs: list[list[Sentence]]) -> str:
    return "\n\n".join(" ".join(s.text for s in para) for para in paragraphs)
