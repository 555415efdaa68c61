"""Which sentence of a passage (or paraphrase) states which facts, and passages with some facts
taken out.

Every sentence the generator writes is an intro sentence of the focal entity or one rendering of
a fact's passage template, optionally led by a connective (``render_fact``). Rendering those
candidates for the facts a passage lists and looking each sentence up gives an exact map; a
sentence that is not a candidate is an error (the build and the package disagree), never a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fictional_knowledge.generate.facts import WorldFact
from fictional_knowledge.generate.render import CONNECTIVES, render_fact, subject_ctx
from fictional_knowledge.regimes.common import RegimeError

_SPLIT = re.compile(r"(?<=\.) ")
_CONNECTIVE = re.compile("^(" + "|".join(re.escape(c) for c in CONNECTIVES) + ") ")


@dataclass(frozen=True)
class Parsed:
    """A passage as paragraphs of ``(sentence, fact ids it states)``."""

    paragraphs: tuple[tuple[tuple[str, frozenset[str]], ...], ...]

    def text(self, drop: frozenset[str] | set[str] = frozenset()) -> tuple[str, int]:
        """The passage without the sentences that state a fact in ``drop``; also the number of
        sentences removed. Emptied paragraphs disappear."""
        kept, removed = [], 0
        for para in self.paragraphs:
            keep = [s for s, facts in para if not facts & drop]
            removed += len(para) - len(keep)
            if keep:
                kept.append(" ".join(keep))
        return "\n\n".join(kept), removed

    @property
    def fact_ids(self) -> frozenset[str]:
        return frozenset(f for para in self.paragraphs for _, facts in para for f in facts)


def fact_renderings(f: WorldFact, templates) -> tuple[list[str], list[str]]:
    """Every sentence that states ``f`` alone: the plain renderings of its passage templates, and
    the mid-sentence (lower-case subject) forms that follow a connective."""
    plain, lower = [], []
    for t in templates[f.subject.type].passage[f.relation]:
        plain.append(render_fact(t, f))
        if t.source.startswith("{{ Subject }}"):
            lower.append(render_fact(t, f, CONNECTIVES[0])[len(CONNECTIVES[0]) + 1:])
    return plain, lower


def all_renderings(f: WorldFact, templates) -> list[str]:
    """Every full sentence that states ``f`` alone (plain, and behind each connective)."""
    plain, lower = fact_renderings(f, templates)
    return plain + [f"{c} {s}" for c in CONNECTIVES for s in lower]


def intro_renderings(facts: list[WorldFact], templates) -> list[str]:
    """The intro sentences of the entity whose facts are ``facts`` (every variant)."""
    entity = facts[0].subject
    t = templates[entity.type]
    ctx = subject_ctx(entity)
    for f in facts:
        if f.relation in t.intro_facts:
            ctx[f.relation] = f.object
    return [v.render(ctx) for v in t.intro]


class PassageParser:
    """Parses the passages of one source build."""

    def __init__(self, world_facts: dict[str, WorldFact], facts_by_entity: dict[str, list[WorldFact]], templates):
        self.world_facts = world_facts
        self.facts_by_entity = facts_by_entity
        self.templates = templates

    def candidates(self, entity_id: str, fact_ids: list[str]) -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
        plain: dict[str, set[str]] = {}
        lower: dict[str, set[str]] = {}
        for fid in fact_ids:
            f = self.world_facts[fid]
            p, low = fact_renderings(f, self.templates)
            for s in p:
                plain.setdefault(s, set()).add(fid)
            for s in low:
                lower.setdefault(s, set()).add(fid)
        own = self.facts_by_entity[entity_id]
        intro_ids = {f.id for f in own if f.relation in self.templates[own[0].subject.type].intro_facts}
        for s in intro_renderings(own, self.templates):
            plain.setdefault(s, set()).update(intro_ids)
        return ({k: frozenset(v) for k, v in plain.items()}, {k: frozenset(v) for k, v in lower.items()})

    def parse(self, text: str, entity_id: str, fact_ids: list[str], cands=None) -> Parsed:
        """Map every sentence of ``text`` (a passage or paraphrase of ``entity_id`` stating
        ``fact_ids``) to the facts it states."""
        plain, lower = cands or self.candidates(entity_id, fact_ids)
        paragraphs = []
        for para in text.split("\n\n"):
            pieces = _SPLIT.split(para)
            out, i = [], 0
            while i < len(pieces):
                for j in range(i + 1, min(i + 4, len(pieces) + 1)):  # a sentence may hold ". "
                    sentence = " ".join(pieces[i:j])
                    facts = _lookup(sentence, plain, lower)
                    if facts is not None:
                        out.append((sentence, facts))
                        i = j
                        break
                else:
                    raise RegimeError(f"passage of {entity_id}: cannot tell which fact this sentence states: "
                                      f"{pieces[i]!r}; was the build made by another package version?")
            paragraphs.append(tuple(out))
        return Parsed(tuple(paragraphs))

    def parse_passage(self, row: dict) -> tuple[Parsed, list[Parsed]]:
        """A build ``passages`` row: its text and each paraphrase, parsed."""
        cands = self.candidates(row["entity_id"], row["fact_ids"])
        main = self.parse(row["text"], row["entity_id"], row["fact_ids"], cands)
        return main, [self.parse(p, row["entity_id"], row["fact_ids"], cands) for p in row["paraphrases"]]


def _lookup(sentence: str, plain: dict, lower: dict):
    if sentence in plain:
        return plain[sentence]
    m = _CONNECTIVE.match(sentence)
    if m:
        rest = sentence[m.end():]
        return lower.get(rest, plain.get(rest))
    return None
