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
   No two clauses of a sentence, nor a participial opener and a clause, lead with the same verb
   (``lead_verb``: not "had been born in X ... and was born in 1951"). Dated facts (``YEARLY``) read
   forward in time: within a paragraph, and so within each sentence, the places that hold dated
   facts take them in the order of their years (``_Writer._in_time_order``). Connectives follow the
   relation between sentences: a sentence whose first date comes after the previous sentence's last
   gets a time connective that fits the gap ("A few years later," at most ``SOON_YEARS``, "Many
   years later," more, "Decades afterwards," at least ``DECADES_YEARS``), the same year "In the same
   year,", others at times an additive one. No two consecutive sentences open with the same two words.

Every sentence records all the facts it states, and its sentence-final fact (the memorization
cloze target, always a fact whose subject the sentence names or refers to). Paraphrases re-plan the
same facts: other sentence groupings and order, other clauses, other referring expressions.
Clauses and openers are compiled templates (``templates.py``); the planner only joins strings.
"""

from __future__ import annotations

import random
from operator import is_
from dataclasses import dataclass, field
from typing import Optional

from fictional_knowledge.generate.facts import WorldFact, facts_of, fact
from fictional_knowledge.generate.render import Sentence, shuffle
from fictional_knowledge.generate.templates import TypeTemplates, a_an, expand
from fictional_knowledge.generate.world import (COUNT_RELATIONS, ENTITY_SPECS, ROLE_RELATIONS, WorldEntity, entity_at,
                                                 pointing_at, pronoun_of)

POSSESSIVE = {"he": "his", "she": "her", "they": "their", "it": "its"}
#: First words of a clause that change after the pronoun "they".
AGREE = {"was": "were", "is": "are", "has": "have"}
#: Facts per sentence, drawn uniformly from this tuple.
SIZES = (1, 2, 2, 3, 3, 3)
BACKGROUND_SIZES = (2, 3, 3)
OPENER_RATE = 0.35


def _readings(*sources: str) -> tuple[str, ...]:
    """Every reading of word-alternation sources (``templates.expand``): the connective lists."""
    return tuple(x for src in sources for x in expand(src))


ADDITIVE = _readings(
    "(In addition|Besides this|Apart from that|Beyond this|On top of that|Alongside this|What is more"
    "|Furthermore|Moreover|As well as this|Further|Added to this|Next to this|Additionally),",
    "(Besides|Beyond|Apart from|Aside from|In addition to) (this|that|these facts),",
    "(Among other things|Of further note|Also of note),")
ADDITIVE_RATE = 0.12
LATER = _readings(
    "(Later|Afterwards|Subsequently|Thereafter|After that|Later on|In time|Eventually|Still later|Some time later),",
    "In later years,")
#: added to ``LATER`` by the gap since the previous sentence's year: "A few years later" bridges
#: at most ``SOON_YEARS``, "Many years later" more, "Decades afterwards" at least ``DECADES_YEARS``
LATER_SOON = LATER + _readings(
    "(Some|A few|Several) years (later|afterwards|on),", "In the (years|period) that followed,",
    "In (subsequent|the following) years,")
LATER_LONG = LATER + _readings("(Many|A great many) years (later|afterwards|on),")
LATER_DECADES = LATER_LONG + _readings("In the decades that followed,", "(Decades|Long) (later|afterwards),")
SOON_YEARS, DECADES_YEARS = 10, 30
SAME_YEAR = _readings("(In|During|Within) (the same|that same) year,", "That (same |)year,",
                      "(Also|Likewise) in that (same |)year,", "The same year,", "(In|During) that year,")
ATTRIBUTION = _readings(
    "According to (local|official|surviving|regional|published|contemporary) (records|sources|accounts|registers|archives),",
    "(Records|Sources|Archives|Registers|Accounts) (show|state|confirm|record|indicate|note) that",
    "(Local|Official|Surviving|Published|Contemporary) (records|sources|accounts|registers) (show|state|indicate|note) that",
    "As (local|official|surviving|published) (records|sources|accounts) (show|note|attest|record),",
    "By (local|official|contemporary) accounts,")
ATTRIBUTION_RATE = 0.1
#: year relations whose years order the events of a life or a history ("Later, ..."); the years
#: inside a story (its setting, its hero's birth, a flood its characters remember) are not
STORY_YEARS = frozenset({"story_year", "protagonist_born_year", "remembered_flood_year"})
YEARLY = frozenset(name for spec in ENTITY_SPECS.values() for name, rel in spec.relations.items()
                   if rel.target is None and rel.value is int and name not in COUNT_RELATIONS and name not in STORY_YEARS)
#: Words a clause's lead verb is looked for after (``lead_verb``): auxiliaries and the adverbs
#: that open some clauses ("was first employed", "proudly flies")
AUXILIARIES = frozenset({"was", "were", "is", "are", "has", "have", "had", "been", "be", "can", "could", "does"})
LEAD_ADVERBS = frozenset({"first", "later", "eventually", "still", "now", "long", "once", "also", "then", "soon"})
#: past participles that do not end in -ed or -en ("was born", "had been made")
PARTICIPLES = frozenset({"born", "made", "built", "held", "set", "led", "kept", "won", "struck", "hit", "put", "sent",
                         "spent", "brought", "found", "laid", "paid", "told", "sold", "bought", "taught", "run", "begun",
                         "drawn", "grown", "shown", "thrown", "known", "chosen", "seen", "fed", "read", "met", "left",
                         "lost", "shut", "spread", "split", "hung", "sunk", "sworn", "worn"})
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
    #: closing paragraphs about linked entities: (position, their context facts)
    background: list[tuple[int, list[WorldFact]]] = field(default_factory=list)
    #: ids of the units a memorization probe may end on (``_Writer._probeable_ids``), computed once for
    #: the passage and its paraphrases, which hold the same unit objects
    probeable_ids: Optional[frozenset[int]] = field(default=None, repr=False, compare=False)
    #: the year of each dated unit (a fact of the entity of a ``YEARLY`` relation) by the unit's id,
    #: computed once like ``probeable_ids``
    years: Optional[dict[int, int]] = field(default=None, repr=False, compare=False)

    @property
    def facts(self) -> tuple[WorldFact, ...]:
        return (tuple(f for para in self.paragraphs for u in para for f in _unit(u)) + tuple(self.context.values())
                + tuple(f for _, group in self.background for f in group))


def _unit(u) -> tuple[WorldFact, ...]:
    return u if isinstance(u, tuple) else (u,)


def _years(units) -> list[int]:
    """The years that the facts of ``units`` state (``YEARLY`` relations), in order (a role tuple
    states none: its relations are not ``YEARLY``)."""
    return [int(u.object) for u in units if not isinstance(u, tuple) and u.relation in YEARLY and u.object.isdigit()]


def lead_verb(clause: str) -> str:
    """The verb a clause leads with, as written: the participle after its auxiliaries ("had been
    born in" -> "born", "is located on" -> "located"), else the auxiliary itself as the verb ("has an
    area of" -> "has", "was a native of" -> "was"), else its first word ("lies on" -> "lies"), past
    leading adverbs ("first saw", "in time moved to"). Two coordinated clauses of one sentence, or
    a participial opener and a clause, never share it ("had been born in X ... and was born in 1951")."""
    words = clause.lower().replace(",", "").split(None, 7)[:7]  # the lead lies in the first few words
    aux, i, n = "", 0, len(words)
    while i < n and (words[i] in AUXILIARIES or words[i] in LEAD_ADVERBS or words[i].endswith("ly")):
        if not aux and words[i] in AUXILIARIES:
            aux = words[i]
        i += 1
    if not aux and i < n and words[i] == "in":  # "in time moved to", "in later years moved to"
        for w in words[i + 1:i + 4]:
            if _verb_form(w):
                return w
    w = words[i] if i < n else ""
    return w if not aux or _verb_form(w) else aux


_LEADS: dict[int, tuple] = {}  # id of a tuple of clause templates -> (the tuple, the lead verb of each)


def _leads(options: tuple) -> tuple[str, ...]:
    """``lead_verb`` of each compiled clause or opener template of ``options``: that of its source,
    as the words up to the lead are fixed text in every clause template (a slot never comes first)."""
    cached = _LEADS.get(id(options))
    if cached is None or cached[0] is not options:
        cached = _LEADS[id(options)] = (options, tuple(lead_verb(o.source) for o in options))
    return cached[1]


def _verb_form(word: str) -> bool:
    """Whether ``word`` (lower case) is a participle: "located", "given", "living", "rebuilt"."""
    return word.endswith(("ed", "en", "ing")) or word in PARTICIPLES or (
        word.startswith(("re", "over", "un")) and word.removeprefix("re").removeprefix("over").removeprefix("un") in PARTICIPLES)


def _series(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def role_facts(seed: int, entity: WorldEntity) -> tuple[WorldFact, ...]:
    """The role facts pointing at ``entity`` (``world.pointing_at``), as facts of their subjects."""
    return tuple(fact(seed, pos, rel) for pos, rel in pointing_at(seed, entity.position))


WORDS_PER_FACT = 7.5  # about what the planner writes per fact: what the word target is counted in


def plan_content(seed: int, entity: WorldEntity, templates: dict[str, TypeTemplates], rng: random.Random,
                 max_context: Optional[int] = None, target_words: int = 0) -> Content:
    """The facts of ``entity``'s prose passage, by paragraph (see the module docstring). Context
    facts of linked entities (their type's ``context`` relations, which memorization probes
    avoid) go into relative clauses and, while the passage is below ``target_words``, into closing
    paragraphs about those entities; never as many as the focal entity's own facts and roles."""
    t = templates[entity.type]
    own = {f.relation: f for f in facts_of(seed, entity.position)}
    paragraphs = [[own[r] for r in relations] for _, relations in t.topics]
    by_relation: dict[str, list[WorldFact]] = {}
    for f in role_facts(seed, entity):  # several roles of one relation make one clause
        by_relation.setdefault(f.relation, []).append(f)
    roles = [g[0] if len(g) == 1 else tuple(g) for g in by_relation.values()]
    if len(roles) == 1 and len(paragraphs) > 1:  # one role opens the second topic
        paragraphs[1] = roles + paragraphs[1]
    elif roles:  # several get a paragraph of their own, second
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
    background: list[tuple[int, list[WorldFact]]] = []
    room = min(budget - len(context), int(target_words / WORDS_PER_FACT) - n_focal - len(context))
    for pos in linked:
        if room <= 0:
            break
        if any(pos == b for b, _ in background):
            continue
        used = context.get(pos)
        options = [g for g in facts_of(seed, pos) if g.relation in templates[entity_at(seed, pos).type].context
                   and g.object_position != entity.position and g is not used]
        if len(options) >= 2:  # a paragraph of one fact reads oddly
            take = options[:room]
            background.append((pos, take))
            room -= len(take)
    return Content(entity, merged, context, background)


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
                 avoid: Optional[dict[str, int]] = None, need: int = 0, final_context: bool = False,
                 background: str = ""):
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
        self.their = POSSESSIVE[self.pronoun]
        self.context_left = dict(content.context)
        # a closing paragraph about a linked entity ("named": never a pronoun, which stands for the
        # passage's own entity; "it": also "it", in a person's passage), with no probe-able sentences
        self.background = background
        self._probeable = self._probeable_ids()
        if content.years is None:
            content.years = {id(u): int(u.object) for para in content.paragraphs for u in para
                             if not isinstance(u, tuple) and u.relation in YEARLY
                             and u.subject.position == e.position and u.object.isdigit()}

    # --- pieces -------------------------------------------------------------------------------
    def _pick(self, options: tuple, key: str) -> int:
        n = len(options)
        avoid = self.avoid.get(key)
        if avoid is None or n == 1:
            return int(self.rand() * n)
        return (avoid + 1 + int(self.rand() * (n - 1))) % n

    def clause(self, f, leads: Optional[set] = None, word: str = "", more: bool = False) -> str:
        """The predicate stating ``f`` (a fact, or a tuple of role facts of one relation) with the
        focal entity as subject; the template index it used is kept in ``used``. Its lead verb is
        none of ``leads`` (those of the sentence's other clauses and opener) and it does not hold
        ``word`` (a participial opener's verb: "Born in 1934, she was born in ..."): the drawn
        template if it fits, else the next one that does (the one ``avoid`` names last). With
        ``more`` (another clause follows), its lead verb joins ``leads``."""
        if isinstance(f, tuple):
            options = self.templates[f[0].subject.type].inverse[f[0].relation]
            key, ctx = f[0].id, {"subject": _series([g.subject.ref for g in f])}
        elif f.subject.position == self.entity.position:
            options = self.t.clauses[f.relation]
            key, ctx = f.id, {"object": f.object, "their": self.their}
        else:  # a role fact, seen from its object
            options = self.templates[f.subject.type].inverse[f.relation]
            key, ctx = f.id, {"subject": f.subject.ref}
        v = self._pick(options, key)
        text = options[v].render(ctx)
        if leads is not None:
            of = _leads(options)
            if leads and (of[v] in leads or word and word in text.split()):
                n, avoid = len(options), self.avoid.get(key)
                for w in [x % n for x in range(v + 1, v + n) if x % n != avoid] + ([avoid] if avoid is not None and avoid != v else []):
                    if of[w] not in leads:
                        other = options[w].render(ctx)
                        if not (word and word in other.split()):
                            v, text = w, other
                            break
            if more:
                leads.add(of[v])
        if not isinstance(f, tuple):
            self.used[key] = v
        return text

    def _has_context(self, u) -> bool:
        return not isinstance(u, tuple) and u.object_position in self.context_left

    def relative(self, f: WorldFact, named: list[WorldFact]) -> str:
        """``, which lies on the Napubez River`` for the linked entity of ``f``, if it has context."""
        g = self.context_left.pop(f.object_position, None)
        if g is None:
            return ""
        options = self.templates[g.subject.type].clauses[g.relation]
        v = self._pick(options, g.id)
        self.used[g.id] = v
        named.append(g)
        their = POSSESSIVE[pronoun_of(self.seed, g.subject.position) if g.subject.type == "person" else "it"]
        clause = options[v].render({"object": g.object, "their": their})
        if g.subject.type == "person":
            return f", who {clause}"
        nouns = self.templates[g.subject.type].descriptions
        r = self.rand()
        # ", a riverside town that lies on the Napubez River"; not before a clause that names the
        # kind itself (", a town that is a town in ...")
        if nouns and r < 0.5 and not clause.startswith(("is a ", "is an ", "ranks as ")):
            noun = nouns[int(self.rand() * len(nouns))].split(" ", 1)[1]
            return f", {a_an(noun)} {'that' if r < 0.25 else 'which'} {clause}"
        return f", which {clause}"

    def _named(self) -> tuple[str, str]:
        """The entity's short name or its full reference, even odds."""
        e = self.entity
        return (_short_name(e), "short") if self.rand() < 0.5 else (e.ref, "name")

    def subject(self, first_in_para: bool, first: bool, para_types: set, must_name: bool = False) -> tuple[str, str]:
        """A reference to the focal entity and its kind (name, short, pronoun, description)."""
        e = self.entity
        if first:
            return e.ref, "name"
        if self.background:
            if self.background == "it" and not first_in_para and self.rand() < PRONOUN_RATE:
                return "it", "pronoun"
            return self._named()
        if first_in_para or must_name:
            return self._named()
        r = self.rand()
        if r < PRONOUN_RATE:
            return self.pronoun, "pronoun"
        if r < PRONOUN_RATE + SHORT_RATE or not self.t.descriptions or e.type in para_types:
            return _short_name(e), "short"
        return self.t.descriptions[int(self.rand() * len(self.t.descriptions))], "description"

    # --- sentences ----------------------------------------------------------------------------
    def sentence(self, facts: list[WorldFact], first_in_para: bool, first: bool, prev: Optional[Sentence],
                 prev_year: Optional[int], para_types: set, must_name: bool = False,
                 connect: bool = False, years: Optional[list[int]] = None) -> Sentence:
        """The sentence stating ``facts``; ``years`` is ``_years(facts)`` when the caller has it."""
        rand = self.rand
        ref, kind = self.subject(first_in_para, first, para_types, must_name)
        pronoun = self.pronoun if kind == "pronoun" else ""
        stated: list[WorldFact] = []
        opener = word = ""
        rest = facts
        f0 = facts[0]
        if (len(facts) >= 2 and not isinstance(f0, tuple) and f0.subject.position == self.entity.position
                and self.t.openers.get(f0.relation) and rand() < OPENER_RATE):
            options = self.t.openers[f0.relation]
            v = int(rand() * len(options))
            opener = options[v].render({"object": f0.object, "their": self.their})
            word = _leads(options)[v]  # a participial opener's verb: "Born in ...": "born"; "A native of ...": none
            word = word if _verb_form(word) else ""
            stated.append(f0)
            if f0.object_position is not None:
                opener += self.relative(f0, stated)
            rest = facts[1:]
        parts = []
        rest = list(rest)
        if len(rest) == 3 and self._has_context(rest[0]) and not self._has_context(rest[1]):
            rest[0], rest[1] = rest[1], rest[0]
        n = len(rest)
        # no two clauses, nor the opener and a clause, lead alike
        leads = ({word} if word else set()) if n > 1 or word else None
        for i, f in enumerate(rest):
            text = self.clause(f, leads, word if i == 0 else "", i < n - 1)  # "Born in 1934, she was born in ..."
            if pronoun == "they":  # the subject of every coordinated clause: "they held ... and were given"
                text = _agree(text, pronoun)
            if isinstance(f, tuple):
                stated.extend(f)
            else:
                stated.append(f)
            last = i == n - 1
            # a relative clause goes on the clause before "and" ("X c1, c2, which ..., and c3"), where
            # it cannot be read as attached to what follows; a paraphrase, which must state every
            # context fact, may put it anywhere
            if not isinstance(f, tuple) and f.object_position is not None and f.subject.position == self.entity.position and (
                    i == n - 2 or self.final_context):
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
            if prev_year is None:
                years = ()
            elif years is None:
                years = _years(facts)
            if prev is not None and prev_year is not None and years and years[0] > prev_year:
                gap = years[0] - prev_year
                # a retry (``connect``) takes the plain readings, no two of which open alike
                later = (LATER if connect else LATER_SOON if gap <= SOON_YEARS
                         else LATER_LONG if gap < DECADES_YEARS else LATER_DECADES)
                text = f"{later[int(rand() * len(later))]} {text}"
            elif prev is not None and prev_year is not None and years and years[0] == prev_year:
                text = f"{SAME_YEAR[int(rand() * len(SAME_YEAR))]} {text}"
            elif prev is not None and (connect or not first_in_para and rand() < ADDITIVE_RATE):
                text = f"{ADDITIVE[int(rand() * len(ADDITIVE))]} {text}"
            elif prev is not None and rand() < ATTRIBUTION_RATE:
                text = f"{ATTRIBUTION[int(rand() * len(ATTRIBUTION))]} {text}"
        text = _cap(text)
        if self.final_context:  # a paraphrase: only its text is kept
            return Sentence(text, None, tuple(stated), 0, False, "prose")
        final = stated[-1]
        # the sentence-final value is the last stated fact's object (a focal or context fact), or
        # the role fact's subject name (no cloze target)
        final_fact = final if text.endswith(f" {final.object}.") and final.object_position != self.entity.position else None
        head = text[: -len(final.object) - 2] if final_fact is not None else text
        subject = final.subject
        named = final_fact is not None and (subject.name in head or _short_name(subject) in head)
        return Sentence(text, final_fact, tuple(stated), self.used.get(final.id, 0), named, "prose")

    def _probeable_ids(self) -> frozenset[int]:
        """The ids of the content's units that a sentence may end on for a sound memorization
        probe: facts of the focal entity that no other passage states (not a role, not a context
        relation); none in a closing paragraph about a linked entity."""
        content = self.content
        if self.background:
            return frozenset()
        if content.probeable_ids is None:
            content.probeable_ids = frozenset(
                id(u) for para in content.paragraphs for u in para
                if not isinstance(u, tuple) and u.subject.position == self.entity.position
                and (u.subject.type, u.relation) not in ROLE_SET and u.relation not in self.t.context)
        return content.probeable_ids

    def chunks(self, paragraphs: list[list]) -> list[list[list]]:
        """Sentence groupings of 1-3 facts, leaving at least ``need`` sentences that end with a
        probe-able fact: one group per probe-able fact (two share a group, ``SIZES`` permitting,
        while more than ``need`` remain), the other facts spread over the groups in front of them,
        the rest grouped by ``SIZES``."""
        rand = self.rand
        ok = self._probeable  # ids of the probe-able units
        spare = sum(id(u) in ok for p in paragraphs for u in p) - self.need  # endings we may lose
        sizes = BACKGROUND_SIZES if self.background else SIZES
        out = []
        for para in paragraphs:
            probe_able = [u for u in para if id(u) in ok]
            others = [u for u in para if id(u) not in ok]
            groups: list[list] = []
            for u in probe_able:
                if groups and spare > 0 and len(groups[-1]) < 2 and sizes[int(rand() * len(sizes))] >= 2:
                    groups[-1].append(u)
                    spare -= 1
                else:
                    groups.append([u])
            rest = []
            for u in others:  # in front of the shortest group with room, the earliest among equals
                room = [g for g in groups if len(g) < 3]
                if room and rand() < 0.85:
                    g = min(room, key=len)
                    g.insert(sum(id(x) not in ok for x in g), u)
                else:
                    rest.append(u)
            i = 0
            while i < len(rest):
                k = min(sizes[int(rand() * len(sizes))], len(rest) - i)
                groups.insert(min(len(groups), int(rand() * (len(groups) + 1))), rest[i:i + k])
                i += k
            out.append(groups)
        if len(self.content.years) < 2:  # nothing to order (a closing paragraph has at most one date)
            return out
        timed = [self._in_time_order(groups) for groups in out]
        if self.need:  # the time order must not cost a sentence ending with a probe-able fact that ``need`` wants
            def finals(groups):
                return sum(id(g[-1]) in ok for g in groups)
            if sum(map(finals, timed)) < min(self.need, sum(map(finals, out))):
                timed = [t if finals(t) >= finals(o) else self._each_in_time_order(o) for t, o in zip(timed, out)]
        return timed

    def _in_time_order(self, groups: list[list]) -> list[list]:
        """A paragraph's sentence groups with its dated units in the order of their years: the same
        places hold dated units, taken in time order, so the paragraph (and each sentence) reads
        forward in time and the others stay where they were."""
        years = self.content.years
        dated = [u for g in groups for u in g if id(u) in years]
        if len(dated) < 2:
            return groups
        ordered = sorted(dated, key=lambda u: years[id(u)])
        if all(map(is_, dated, ordered)):
            return groups
        it = iter(ordered)
        return [[next(it) if id(u) in years else u for u in g] for g in groups]

    def _each_in_time_order(self, groups: list[list]) -> list[list]:
        """Each group's dated units in the order of their years, no group losing a probe-able
        final unit: the dated units later than its last probe-able one (facts that no memorization
        probe may end on) go to a group of their own, after it."""
        ok, years = self._probeable, self.content.years
        out = []
        for g in groups:
            dated = [i for i, u in enumerate(g) if id(u) in years]
            if len(dated) < 2:
                out.append(g)
                continue
            ordered = sorted((g[i] for i in dated), key=lambda u: years[id(u)])
            later: list = []
            if dated[-1] == len(g) - 1 and id(g[-1]) in ok and id(ordered[-1]) not in ok:
                k = max(j for j, u in enumerate(ordered) if id(u) in ok)
                ordered, later = ordered[:k + 1], ordered[k + 1:]
                kept = {id(u) for u in ordered}
                g = [u for u in g if id(u) not in years or id(u) in kept]
                dated = [i for i, u in enumerate(g) if id(u) in years]
            g = list(g)
            for i, u in zip(dated, ordered):
                g[i] = u
            out.append(g)
            if later:
                out.append(later)
        return out

    def write(self, order: Optional[list[list[WorldFact]]] = None) -> list[list[Sentence]]:
        out: list[list[Sentence]] = []
        prev: Optional[Sentence] = None
        prev_year: Optional[int] = None
        first = True
        grouped = self.chunks(order or self.content.paragraphs)
        ok = self._probeable  # ids of the probe-able units
        finals = sum(id(g[-1]) in ok for p in grouped for g in p)
        named_left = self.need
        prev_opening: list[str] = []  # the first two words of ``prev``
        for groups in grouped:
            sentences: list[Sentence] = []
            para_types: set = set()
            for chunk in groups:
                final_ok = id(chunk[-1]) in ok
                must_name = final_ok and named_left > 0 and named_left >= finals
                years = _years(chunk)
                s = None
                # the state a retry starts from (the first sentence is never retried)
                saved = None if prev is None else (dict(self.context_left), dict(self.used))
                for attempt in range(4):  # no two consecutive sentences open with the same two words
                    if attempt:
                        self.context_left, self.used = dict(saved[0]), dict(saved[1])
                    s = self.sentence(chunk, not sentences, first, prev, prev_year, para_types, must_name,
                                      connect=attempt >= 2, years=years)
                    opening = s.text.split(None, 2)[:2]
                    if prev is None or opening != prev_opening:
                        break
                if final_ok:
                    finals -= 1
                    named_left -= s.named
                sentences.append(s)
                if self.t.descriptions:  # a description is used while no other entity of its type was named
                    for f in s.facts:
                        if f.object_position is not None:
                            para_types.add(entity_at(self.seed, f.object_position).type)
                        if f.subject.position != self.entity.position:
                            para_types.add(f.subject.type)
                prev, prev_opening, prev_year, first = s, opening, (years[-1] if years else None), False
            out.append(sentences)
        background = list(self.content.background)
        if self.final_context:  # a paraphrase: another order
            shuffle(background, self.rand)
        for pos, facts in background:
            facts = list(facts)
            if self.final_context:
                shuffle(facts, self.rand)
            linked = entity_at(self.seed, pos)
            # "it" may stand for a linked place or thing in a person's passage (the person is
            # he, she or they), never in a passage whose own entity is "it"
            mode = "it" if self.pronoun != "it" and linked.type != "person" else "named"
            sub = _Writer(self.seed, Content(linked, [facts]), self.templates, self.rng,
                          avoid=self.avoid, background=mode)
            out += sub.write()
            self.used.update(sub.used)
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


def paraphrase_sentences(seed: int, content: Content, templates: dict[str, TypeTemplates], rng: random.Random,
                         used: dict[str, int], k: int) -> list[list[list[Sentence]]]:
    """``k`` paraphrases, as sentences with the facts each states: the same facts re-planned, with
    other groupings, order, clauses and references; each fact avoids the clause the original used
    (``used``) where it has another."""
    out = []
    for _ in range(k):
        order = []
        for para in content.paragraphs:
            p = list(para)
            shuffle(p, rng.random)
            order.append(p)
        if len(order) > 2:
            middle = order[1:]
            shuffle(middle, rng.random)
            order = [order[0]] + middle
        out.append(_Writer(seed, content, templates, rng, avoid=used, final_context=True).write(order))
    return out


def join(paragraphs: list[list[Sentence]]) -> str:
    return "\n\n".join(" ".join(s.text for s in para) for para in paragraphs)
