"""Probe inputs that the world completes in more than one way.

A cloze probe is sound only if its input fixes its answer: no other true sentence of the world may
start with the input and go on differently ("Hayden Fefubak was born in" expecting a city, while
"Hayden Fefubak was born in the year 1944" is true too). The true sentences an input could
begin are those about the entity it names: every passage and semantic rendering of its facts (also
after a connective), its intro sentences, and its compositional sentences (input + target). Names
are unique and never inside one another, so no sentence about another entity starts the same way.

``forms`` collects those sentences for an entity, from the world (``world_forms``) or from the
rows of a build (``BuildForms``); ``ambiguous`` tells whether an input is completed otherwise.
"""

from __future__ import annotations

import bisect
import sys
from array import array
from typing import Iterable, Optional

from fictional_knowledge.generate.facts import fact, facts_of, follow
from fictional_knowledge.generate.templates import TypeTemplates, load_templates
from fictional_knowledge.generate.world import entity_at

#: Connectives a passage sentence may open with (``render.CONNECTIVES``); an input starting with
#: one is compared without it.
_CONNECTIVES: Optional[tuple[str, ...]] = None


def _connectives() -> tuple[str, ...]:
    global _CONNECTIVES
    if _CONNECTIVES is None:
        from fictional_knowledge.generate.render import CONNECTIVES

        _CONNECTIVES = tuple(c + " " for c in CONNECTIVES)
    return _CONNECTIVES


def ref_of(etype: str, name: str) -> str:
    """How sentences refer to an entity mid-sentence (``WorldEntity.ref``), from its type and name."""
    return f"the {name}" if etype in ("river", "event") else name


def forms(templates: dict[str, TypeTemplates], etype: str, ref: str, values: dict[str, str],
          composed: dict[tuple[str, ...], str]) -> frozenset[str]:
    """Every true sentence about one entity that a probe input could begin: ``values`` maps its
    relations to their text values, ``composed`` its composition paths to their targets."""
    t = templates[etype]
    plain = {"subject": ref, "Subject": ref[:1].upper() + ref[1:]}
    low = {"subject": ref, "Subject": ref}
    out = set()
    for relation, obj in values.items():
        for c in t.passage.get(relation, ()) + t.semantic.get(relation, ()):
            out.add(c.render({**plain, "object": obj}))
            out.add(c.render({**low, "object": obj}))
    if all(r in values for r in t.intro_facts):
        extra = {r: values[r] for r in t.intro_facts}
        for c in t.intro:
            out.add(c.render({**plain, **extra}))
            out.add(c.render({**low, **extra}))
    for path, inputs in t.compositions:
        if path in composed:
            for c in inputs:
                out.add(f"{c.render(plain)} {composed[path]}.")
                out.add(f"{c.render(low)} {composed[path]}.")
    return frozenset(out)


def strip_connective(text: str) -> str:
    for c in _connectives():
        if text.startswith(c):
            return text[len(c):]
    return text


def ambiguous(input: str, target: str, sentences) -> bool:
    """Whether a true sentence starts with ``input`` and goes on other than with ``target``
    (``sentences``: any iterable, or a sorted tuple, which is searched by bisection)."""
    head = strip_connective(input) + " "
    full = head + target
    if isinstance(sentences, tuple):  # sorted: only the run that starts with head
        for i in range(bisect.bisect_left(sentences, head), len(sentences)):
            s = sentences[i]
            if not s.startswith(head):
                return False
            if not s.startswith(full):
                return True
        return False
    return any(s.startswith(head) and not s.startswith(full) for s in sentences)


_SUBJECT, _VALUE = "\x00", "\x01"
_PARTNERS: dict[int, dict[tuple[str, str], tuple]] = {}


def _symbolic(t: TypeTemplates, ref: str):
    """Every sentence form of type ``t`` with placeholder subject ``ref`` and values, as
    ``(tag, kind, template, low, sentence)``: tag is the relation, path or "intro"; ``low``
    renders ``Subject`` like ``subject`` (after a connective)."""
    for low in (False, True):
        ctx = {"subject": ref, "Subject": ref if low else ref[:1].upper() + ref[1:]}
        for rel in t.passage:
            for c in t.passage[rel] + t.semantic[rel]:
                yield rel, "fact", c, low, c.render({**ctx, "object": _VALUE})
        for path, inputs in t.compositions:
            for c in inputs:
                yield path, "comp", c, low, f"{c.render(ctx)} {_VALUE}."
        for c in t.intro:
            yield "intro", "intro", c, low, c.render({**ctx, **{r: _VALUE for r in t.intro_facts}})


def collision_partners(templates: dict[str, TypeTemplates]) -> dict[tuple[str, str], tuple]:
    """For each ``(entity type, template source)`` whose probe input another sentence form of the
    type could continue differently, the forms that could (``(kind, tag, template, low)``).
    Found once on the templates with placeholder subjects and values (two relations' sentences
    that differ only in their values count as different); only probes from these templates need
    checking against the world, and only against these forms."""
    key = id(templates)
    if key not in _PARTNERS:
        found: dict[tuple[str, str], dict] = {}
        for etype, t in templates.items():
            for ref in (_SUBJECT, f"the {_SUBJECT}"):
                plain = {"subject": ref, "Subject": ref[:1].upper() + ref[1:]}
                tagged = list(_symbolic(t, ref))
                candidates = [(rel, c.source, c.render({**plain, "object": _VALUE}).rsplit(" " + _VALUE, 1)[0])
                              for rel in t.passage for c in t.passage[rel] + t.semantic[rel]]
                candidates += [(path, c.source, c.render(plain)) for path, inputs in t.compositions for c in inputs]
                for tag, source, head in candidates:
                    own = head + " " + _VALUE + "."
                    for other, kind, c, low, x in tagged:
                        if x.startswith(head + " ") and (x != own or other != tag):
                            found.setdefault((etype, source), {})[(kind, other, c.source, low)] = (kind, other, c, low)
        _PARTNERS[key] = {k: tuple(v.values()) for k, v in found.items()}
    return _PARTNERS[key]


def may_collide(templates: dict[str, TypeTemplates]) -> frozenset[str]:
    """The template sources of ``collision_partners``."""
    return frozenset(source for _, source in collision_partners(templates))


def world_completes_otherwise(seed: int, position: int, source: str, input: str, target: str,
                              templates: dict[str, TypeTemplates]) -> bool:
    """Whether a true sentence about the world entity at ``position`` continues ``input`` (made
    from the template ``source``) other than with ``target``: only the forms that
    ``collision_partners`` names are rendered."""
    entity = entity_at(seed, position)
    partners = collision_partners(templates).get((entity.type, source))
    if not partners:
        return False
    ref = entity.ref
    sentences = []
    for kind, tag, c, low in partners:
        ctx = {"subject": ref, "Subject": ref if low else ref[:1].upper() + ref[1:]}
        if kind == "fact":
            sentences.append(c.render({**ctx, "object": fact(seed, position, tag).object}))
        elif kind == "comp":
            sentences.append(f"{c.render(ctx)} {follow(seed, position, tag)[-1].object}.")
        else:
            sentences.append(c.render({**ctx, **{r: fact(seed, position, r).object for r in templates[entity.type].intro_facts}}))
    return ambiguous(input, target, sentences)


_WORLD_FORMS: dict[tuple, tuple[str, ...]] = {}


def world_forms(seed: int, position: int, templates: Optional[dict[str, TypeTemplates]] = None) -> tuple[str, ...]:
    """``forms`` of the world entity at ``position``, sorted (default: the package's templates)."""
    templates = templates or load_templates()
    key = (seed, position, id(templates))
    found = _WORLD_FORMS.get(key)
    if found is None:
        entity = entity_at(seed, position)
        values = {f.relation: f.object for f in facts_of(seed, position)}
        composed = {path: follow(seed, position, path)[-1].object for path, _ in templates[entity.type].compositions}
        found = tuple(sorted(forms(templates, entity.type, entity.ref, values, composed)))
        if len(_WORLD_FORMS) >= 4096:
            _WORLD_FORMS.clear()  # links stay within a window: a small cache suffices
        _WORLD_FORMS[key] = found
    return found


class BuildForms:
    """``forms`` of the entities of a build, from its ``entities`` and ``facts`` rows (or from
    maps built from them: ``entities`` id -> (type, name), ``by_subject`` subject id -> relation
    -> (object, object id), ``subject_of`` fact id -> (subject id, relation)). Forms are cached for the
    last few hundred entities only (probes come grouped by passage)."""

    def __init__(self, entities: Iterable[dict] = (), facts: Iterable[dict] = (),
                 templates: Optional[dict[str, TypeTemplates]] = None, *,
                 maps: Optional[tuple[dict, dict, dict]] = None):
        self.templates = templates or load_templates()
        if maps is not None:
            self.entities, self.facts, self.fact_subject = maps
        else:
            self.entities = {e["id"]: (e["type"], e["name"]) for e in entities}
            self.facts, self.fact_subject = {}, {}
            for f in facts:
                add_fact(self.facts, self.fact_subject, f)
        self._cache: dict[str, tuple[str, ...]] = {}

    def _follow(self, eid: str, path: tuple[str, ...]) -> Optional[str]:
        value = None
        for relation in path:
            if eid is None or relation not in self.facts.get(eid, {}):
                return None
            value, eid = self.facts[eid][relation]
        return value

    def of(self, eid: str) -> tuple[str, ...]:
        found = self._cache.get(eid)
        if found is None:
            etype, name = self.entities.get(eid, (None, None))
            if etype is None or etype not in self.templates:
                found = ()
            else:
                values = {r: v for r, (v, _) in self.facts.get(eid, {}).items()}
                composed = {}
                for path, _ in self.templates[etype].compositions:
                    target = self._follow(eid, path)
                    if target is not None:
                        composed[path] = target
                found = tuple(sorted(forms(self.templates, etype, ref_of(etype, name), values, composed)))
            if len(self._cache) >= 512:
                self._cache.clear()
            self._cache[eid] = found
        return found

    def probe_subject(self, probe: dict) -> Optional[str]:
        """The entity a probe's input names: its first fact's subject (memorization, semantic) or
        its focal entity (compositional)."""
        if probe["kind"] == "compositional":
            return probe["entity_id"]
        found = self.fact_subject.get(probe["fact_ids"][0]) if probe["fact_ids"] else None
        return found[0] if found else None

    def completed_otherwise(self, probe: dict) -> bool:
        """Whether another true sentence continues the probe's input other than with the value of
        its last fact (a wrong target is ``probe_target``'s business, not this one's). For a
        memorization probe this includes a prose sentence: the input ends with words that begin a
        predicate of another relation of its subject (see ``predicates``)."""
        subject = self.probe_subject(probe)
        if subject is None:
            return False
        last = self.fact_subject.get(probe["fact_ids"][-1]) if probe["fact_ids"] else None
        value = self.facts.get(last[0], {}).get(last[1], (probe["target"],))[0] if last else probe["target"]
        if ambiguous(probe["input"], value, self.of(subject)):
            return True
        if probe["kind"] != "memorization" or last is None:
            return False
        words = probe["input"].split()
        refs = self.references(last[0])
        for predicate in self.predicates(last[0], last[1]):
            p = predicate.split()
            for k in range(1, min(len(p), len(words)) + 1):
                if words[-k:] == p[:k] and not " ".join(p[k:]).startswith(value) and _predicate_may_start(
                        words[:-k], refs):
                    return True
        return False

    def references(self, eid: str) -> tuple[str, ...]:
        """How a prose sentence may refer to entity ``eid`` as its subject: its name and reference,
        a person's surname and pronouns, the type's descriptions (capitalised too)."""
        etype, name = self.entities.get(eid, (None, None))
        if etype is None or etype not in self.templates:
            return ()
        refs = {name, ref_of(etype, name)}
        if etype == "person":
            refs |= {name.split(" ", 1)[-1], "he", "she", "they"}
        else:
            refs.add("it")
        refs |= set(self.templates[etype].descriptions)
        return tuple(refs | {r[:1].upper() + r[1:] for r in refs})

    def predicates(self, eid: str, except_relation: str) -> list[str]:
        """The true predicates about entity ``eid`` without their subject ("was born in the year
        1944"): its prose clauses and subject-initial passage and semantic sentences, for every
        relation but ``except_relation``."""
        etype, _ = self.entities.get(eid, (None, None))
        if etype is None or etype not in self.templates:
            return []
        t = self.templates[etype]
        ctx = {"subject": "\x02", "Subject": "\x02"}
        out = []
        for relation, (obj, _) in self.facts.get(eid, {}).items():
            if relation == except_relation:
                continue
            for c in t.clauses.get(relation, ()):
                out.append(c.render({"object": obj}))
            for c in t.passage.get(relation, ()) + t.semantic.get(relation, ()):
                text = c.render({**ctx, "object": obj})
                if text.startswith("\x02 "):
                    out.append(text[2:].rstrip("."))
        return out

    def names_subject(self, probe: dict) -> bool:
        """Whether a memorization probe's input names the subject of its fact (its name, or a
        person's surname) rather than only a pronoun or description: only then does the input say
        whom it is about."""
        last = self.fact_subject.get(probe["fact_ids"][-1]) if probe["fact_ids"] else None
        if last is None:
            return False
        etype, name = self.entities.get(last[0], (None, None))
        if name is None:
            return False
        short = name.split(" ", 1)[1] if etype == "person" and " " in name else name
        return short in probe["input"]


def _predicate_may_start(head: list[str], refs: tuple[str, ...]) -> bool:
    """Whether a prose sentence may start a predicate of its subject after the words ``head``: after
    a coordinating "and", a relative "who"/"which", a comma, or the subject's reference at the start
    of the sentence or after an opener or connective (which end with a comma)."""
    if not head:
        return False
    if head[-1] in ("and", "who", "which") or head[-1].endswith(","):
        return True
    text = " ".join(head)
    for ref in refs:
        if text == ref or text.endswith(", " + ref):
            return True
    return False


def add_fact(by_subject: dict, subject_of, row: dict) -> None:
    """Index one ``facts`` row for ``BuildForms`` (``subject_of``: a dict or a ``FactSubjects``)."""
    subject, relation = sys.intern(row["subject_id"]), sys.intern(row["relation"])
    object_id = sys.intern(row["object_id"]) if row["object_id"] is not None else None
    by_subject.setdefault(subject, {})[relation] = (row["object"], object_id)
    if isinstance(subject_of, dict):
        subject_of[row["id"]] = (subject, relation)
    else:
        subject_of.add(row["id"], subject, relation)


class FactSubjects:
    """fact id -> (subject id, relation) in about 13 bytes a fact: 64-bit hashes of the fact ids
    (salted per process, never stored) sorted once, beside indices into the subjects and
    relations, which are kept once each."""

    def __init__(self) -> None:
        self._hashes, self._subjects, self._relations = array("q"), array("i"), array("h")
        self._subject_ix: dict[str, int] = {}
        self._relation_ix: dict[str, int] = {}
        self._names: list[str] = []
        self._rel_names: list[str] = []
        self._sorted = None

    def add(self, fact_id: str, subject: str, relation: str) -> None:
        s = self._subject_ix.get(subject)
        if s is None:
            s = self._subject_ix[subject] = len(self._names)
            self._names.append(subject)
        r = self._relation_ix.get(relation)
        if r is None:
            r = self._relation_ix[relation] = len(self._rel_names)
            self._rel_names.append(relation)
        self._hashes.append(hash(fact_id))
        self._subjects.append(s)
        self._relations.append(r)
        self._sorted = None

    def get(self, fact_id: str, default=None):
        import numpy as np

        if self._sorted is None:
            keys = np.frombuffer(self._hashes, dtype=np.int64) if len(self._hashes) else np.zeros(0, np.int64)
            order = np.argsort(keys, kind="stable")
            self._sorted = (keys[order], np.frombuffer(self._subjects, dtype=np.int32)[order] if len(order) else order,
                            np.frombuffer(self._relations, dtype=np.int16)[order] if len(order) else order)
        keys, subjects, relations = self._sorted
        h = hash(fact_id)
        i = int(np.searchsorted(keys, h))
        if i < len(keys) and keys[i] == h:
            return self._names[int(subjects[i])], self._rel_names[int(relations[i])]
        return default
