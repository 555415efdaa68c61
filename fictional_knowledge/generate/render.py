"""Rendering: passages, paraphrases, fact-storing statements and QA pairs from the world.

Passages are Wikipedia-style: an intro sentence and the focal entity's facts, then a paragraph per
linked entity (breadth-first along the focal entity's links) until the passage reaches its word
target. Every fact sentence ends with its fact's value, which is what makes it a cloze sentence.
Paraphrases state exactly the same facts with other templates, another order and other
connectives.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

from fictional_knowledge.errors import InputError
from fictional_knowledge.generate.facts import WorldFact, facts_of
from fictional_knowledge.generate.seeding import item_rng
from fictional_knowledge.generate.qa_rules import possible
from fictional_knowledge.generate.templates import Compiled, TypeTemplates
from fictional_knowledge.generate.world import WorldEntity, entity_at, format_value

CONNECTIVES = ("In addition,", "Moreover,", "Notably,", "Furthermore,", "Also,", "Indeed,")
CONNECTIVE_RATE = 0.25
MAX_LINK_DEPTH = 4
WORDS_PER_FACT = 7  # a slight underestimate, so passages reach their word target


def shuffle(items: list, rand) -> None:
    """Fisher-Yates with ``rand()`` floats: 4x faster than ``random.shuffle`` on short lists."""
    for i in range(len(items) - 1, 0, -1):
        j = int(rand() * (i + 1))
        items[i], items[j] = items[j], items[i]


def subject_ctx(entity: WorldEntity) -> dict:
    ref = entity.ref
    return {"subject": ref, "Subject": ref[:1].upper() + ref[1:]}


def render_fact(t: Compiled, f: WorldFact, connective: Optional[str] = None) -> str:
    ctx = subject_ctx(f.subject)
    ctx["object"] = f.object
    if connective and t.source.startswith("{{ Subject }}"):
        ctx["Subject"] = ctx["subject"]
        return f"{connective} {t.render(ctx)}"
    return t.render(ctx)


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence of a passage: its text, its sentence-final fact (the memorization cloze target;
    None for the intro, or a sentence that ends with something else), every fact it states, the
    template index used for the final fact, whether the text before the final value names that
    fact's subject (so a probe input cut there identifies it), and the style that wrote it."""

    text: str
    fact: Optional[WorldFact]
    facts: tuple[WorldFact, ...]
    variant: int
    named: bool = True
    style: str = "plain"


@dataclass(frozen=True)
class PassagePlan:
    """What a passage states, in which order; paraphrases reorder and re-template it."""

    entity: WorldEntity
    intro_facts: tuple[WorldFact, ...]
    own: tuple[WorldFact, ...]
    linked: tuple[tuple[WorldFact, ...], ...]  # one group per linked entity

    @property
    def facts(self) -> tuple[WorldFact, ...]:
        return self.intro_facts + self.own + tuple(f for g in self.linked for f in g)


def plan_passage(seed: int, entity: WorldEntity, templates: dict[str, TypeTemplates],
                 word_target: int, max_words: int) -> PassagePlan:
    """Choose the facts of ``entity``'s passage: its own, then linked entities' facts
    breadth-first until about ``word_target`` words (never above ``max_words``)."""
    t = templates[entity.type]
    own_all = facts_of(seed, entity.position)
    intro_facts = tuple(f for f in own_all if f.relation in t.intro_facts)
    own = tuple(f for f in own_all if f.relation not in t.intro_facts)
    words = 8 + WORDS_PER_FACT * len(own)  # rough; refined below with real sentences
    linked: list[tuple[WorldFact, ...]] = []
    seen = {entity.position}
    frontier = [f.object_position for f in own if f.object_position is not None]
    depth = 1
    while frontier and words < word_target and depth <= MAX_LINK_DEPTH:
        nxt = []
        for pos in frontier:
            if pos in seen or words >= word_target:
                continue
            seen.add(pos)
            group = tuple(f for f in facts_of(seed, pos) if f.object_position != entity.position)
            cost = WORDS_PER_FACT * len(group)
            if words + cost > max_words:
                continue
            linked.append(group)
            words += cost
            nxt.extend(f.object_position for f in group if f.object_position is not None)
        frontier, depth = nxt, depth + 1
    return PassagePlan(entity, intro_facts, own, tuple(linked))


def _intro(t: TypeTemplates, plan: PassagePlan, variant: int) -> Sentence:
    ctx = subject_ctx(plan.entity)
    for f in plan.intro_facts:
        ctx[f.relation] = f.object
    return Sentence(t.intro[variant].render(ctx), None, plan.intro_facts, variant)


_RENDERED: dict[str, tuple] = {}  # fact id -> (templates, ref, object, renderings), oldest first
_RENDERED_MAX = 8192  # a fact recurs in the passages of entities up to a few blocks on: enough


def fact_renderings(f: WorldFact, options: tuple[Compiled, ...]) -> tuple[list[str], list[Optional[str]], list]:
    """Every template of ``options`` rendered for ``f``: plain, and after a connective (``None``
    where the template does not start with the subject), and a slot per template for
    :func:`paraphrases`' picks other than it. A fact recurs in the passages of the entities linking
    to it, so renderings are kept (bounded, per process) for the same templates, subject and object."""
    ref = f.subject.ref
    hit = _RENDERED.get(f.id)
    if hit is not None and hit[0] is options and hit[1] == ref and hit[2] == f.object:
        return hit[3]
    ctx = {"subject": ref, "Subject": ref[:1].upper() + ref[1:], "object": f.object}
    low = {"subject": ref, "Subject": ref, "object": f.object}
    out = ([o.render(ctx) for o in options],
           [o.render(low) if o.source.startswith("{{ Subject }}") else None for o in options],
           [None] * len(options))
    if len(_RENDERED) >= _RENDERED_MAX:
        del _RENDERED[next(iter(_RENDERED))]
    _RENDERED[f.id] = (options, ref, f.object, out)
    return out


class SentenceBank:
    """Every passage template of every fact of a plan, rendered once: the passage and its
    paraphrases only pick from it, which keeps a bundle of ~300 sentences fast."""

    def __init__(self, plan: PassagePlan, templates: dict[str, TypeTemplates]):
        # fact id -> (plain renderings, renderings after a connective or None, see fact_renderings)
        self.options: dict[str, tuple[list[str], list[Optional[str]], list]] = {}
        for f in plan.own + tuple(x for g in plan.linked for x in g):
            self.options[f.id] = fact_renderings(f, templates[f.subject.type].passage[f.relation])

    def pick(self, fact_id: str, rand, avoid: Optional[int]) -> tuple[str, int]:
        """A rendering of the fact (another template than ``avoid``) and its template index."""
        plain, lower, _ = self.options[fact_id]
        n = len(plain)
        v = int(rand() * n) if avoid is None else (avoid + 1 + int(rand() * (n - 1))) % n
        if lower[v] is not None and rand() < CONNECTIVE_RATE:
            return f"{CONNECTIVES[int(rand() * len(CONNECTIVES))]} {lower[v]}", v
        return plain[v], v

    def sentence(self, f: WorldFact, rng: random.Random, avoid: Optional[int]) -> Sentence:
        text, v = self.pick(f.id, rng.random, avoid)
        return Sentence(text, f, (f,), v)


def realize(plan: PassagePlan, templates: dict[str, TypeTemplates], rng: random.Random,
            bank: Optional[SentenceBank] = None) -> list[list[Sentence]]:
    """The sentences of a passage, in paragraphs: the intro and the focal entity's facts, then
    one paragraph per linked entity."""
    t = templates[plan.entity.type]
    bank = bank or SentenceBank(plan, templates)
    first = [_intro(t, plan, int(rng.random() * len(t.intro)))]
    first += [bank.sentence(f, rng, None) for f in plan.own]
    return [first] + [[bank.sentence(f, rng, None) for f in g] for g in plan.linked]


def paraphrases(plan: PassagePlan, templates: dict[str, TypeTemplates], rng: random.Random,
                original: list[list[Sentence]], bank: SentenceBank, k: int) -> list[list[list[tuple[str, tuple[str, ...]]]]]:
    """``k`` paraphrases of a passage: the same facts, each with a template other than the
    original's, in another order of facts and of linked paragraphs, with other connectives. Each
    paraphrase is its paragraphs, each a list of (sentence, ids of the facts it states).

    This is the build's innermost loop (about 300 picks a bundle), so ``SentenceBank.pick`` is
    inlined here; it draws the same random numbers in the same order."""
    t = templates[plan.entity.type]
    rand = rng.random
    used = {s.fact.id: s.variant for para in original for s in para if s.fact is not None}
    # per fact: its other templates' (plain, after-a-connective) renderings, starting after the
    # original's, so that pick k is template (original + 1 + k) % n; and how many there are
    # (kept with the fact's renderings: the fact recurs in other passages)
    choice = {}
    for fid, (plain, lower, others_of) in bank.options.items():
        v = used[fid]
        others = others_of[v]
        if others is None:
            n = len(plain)
            others = others_of[v] = (tuple((plain[(v + 1 + i) % n], lower[(v + 1 + i) % n]) for i in range(n - 1)), n - 1)
        choice[fid] = others
    n_intro, intro_v = len(t.intro), original[0][0].variant
    intros: dict[int, str] = {}
    own_facts = [(choice[f.id], (f.id,)) for f in plan.own]
    group_facts = [[(choice[f.id], (f.id,)) for f in g] for g in plan.linked]
    rate, connectives, n_conn = CONNECTIVE_RATE, CONNECTIVES, len(CONNECTIVES)
    intro_ids = tuple(f.id for f in plan.intro_facts)

    def sentences(facts: list[tuple], out: list[tuple[str, tuple[str, ...]]]) -> list[tuple[str, tuple[str, ...]]]:
        for (others, m), ids in facts:
            plain, low = others[int(rand() * m)]
            if low is not None and rand() < rate:
                out.append((f"{connectives[int(rand() * n_conn)]} {low}", ids))
            else:
                out.append((plain, ids))
        return out

    out = []
    for _ in range(k):
        intro = (intro_v + 1 + int(rand() * (n_intro - 1))) % n_intro if n_intro > 1 else intro_v
        if intro not in intros:
            intros[intro] = _intro(t, plan, intro).text
        own = own_facts[:]
        shuffle(own, rand)
        paragraphs = [sentences(own, [(intros[intro], intro_ids)])]
        groups = [g[:] for g in group_facts]
        shuffle(groups, rand)
        for g in groups:
            shuffle(g, rand)
            paragraphs.append(sentences(g, []))
        out.append(paragraphs)
    return out


def join(paragraphs: list[list[Sentence]]) -> str:
    return "\n\n".join(" ".join(s.text for s in para) for para in paragraphs)


def with_spans(paragraphs: list[list[tuple[str, tuple[str, ...]]]]) -> tuple[str, list[dict]]:
    """The text of paragraphs of (sentence, fact ids) -- sentences joined by a space, paragraphs by
    a blank line, as ``join`` -- and each sentence's span in it (``SentenceSpan`` rows)."""
    parts: list[str] = []
    spans: list[dict] = []
    at = 0
    for p, para in enumerate(paragraphs):
        if p:
            parts.append("\n\n")
            at += 2
        for i, (text, ids) in enumerate(para):
            if i:
                parts.append(" ")
                at += 1
            parts.append(text)
            spans.append({"end": at + len(text), "fact_ids": list(ids), "start": at})
            at += len(text)
    return "".join(parts), spans


def span_problem(text: str, spans: list[dict]) -> Optional[str]:
    """Why ``spans`` (``SentenceSpan`` rows) do not tile ``text`` into its sentences in order:
    each inside the text and after the one before, each a whole sentence, nothing but whitespace
    between them (None when they tile it)."""
    at = 0
    for i, sp in enumerate(spans):
        start, end = sp["start"], sp["end"]
        if not at <= start < end <= len(text):
            return f"sentence {i} spans {start}:{end}, outside the text or out of order"
        if text[at:start].strip():
            return f"text {text[at:start][:40]!r} before sentence {i} is in no sentence"
        piece = text[start:end]
        if piece != piece.strip() or piece[-1] not in ".!?":
            return f"sentence {i} ({piece[:40]!r}...) is not a whole sentence"
        at = end
    if text[at:].strip():
        return f"text {text[at:][:40]!r} after the last sentence is in no sentence"
    return None


def statement(seed: int, f: WorldFact, templates: dict[str, TypeTemplates]) -> str:
    """The fact-storing sentence of a fact: one passage template, chosen per fact."""
    return statement_variants(seed, f, templates, 1)[0]


def statement_variants(seed: int, f: WorldFact, templates: dict[str, TypeTemplates], k: int) -> list[str]:
    """``k`` statements of one fact, each with a different template while templates last, then
    cycling (the bioS "multiplicity" augmentation). Deterministic per fact."""
    options = templates[f.subject.type].passage[f.relation]
    order = list(range(len(options)))
    item_rng(seed, "statement", f.id).shuffle(order)
    return [render_fact(options[order[i % len(order)]], f) for i in range(k)]


def question_pair(f: WorldFact, templates: dict[str, TypeTemplates], rng: random.Random) -> tuple[str, str]:
    """The QA question of a fact and a paraphrase of it."""
    qs = templates[f.subject.type].question[f.relation]
    ctx = subject_ctx(f.subject)
    para = 1 + rng.randrange(len(qs) - 1)
    return qs[0].render(ctx), qs[para].render(ctx)


def distractors(seed: int, f: WorldFact, n: int, rng: random.Random, preferred: tuple[str, ...] = (),
                bounds: Optional[tuple[float, float]] = None) -> list[str]:
    """``n`` wrong answers of the same relation: the values of other entities of the subject's
    type. They come from entities *before* the subject in the world (up to ``WINDOW`` blocks back),
    which every build containing the subject also contains, so a distractor is as likely as the
    answer to occur in the training data and a model cannot pick the answer merely for having seen
    it. Only near the start of the world, where too few earlier entities exist, are later ones
    used.

    One distractor is drawn from ``preferred`` (values of the right kind that the subject's own
    passage states) when it offers one; numbers outside ``bounds`` (impossible given the
    subject's other facts, e.g. a book dated before its author's birth: ``qa_rules.value_bounds``)
    are never used, and when the world offers too few possible ones, numbers are drawn within
    ``bounds``."""
    def ok(value: str) -> bool:
        return possible(bounds, value)

    out: list[str] = []
    pool = [v for v in preferred if v != f.object and ok(v)]
    if pool:
        out.append(pool[rng.randrange(len(pool))])
    rand = rng.random
    for pool in _distractor_pools(f.subject.type, f.subject.position):
        if len(out) == n:
            break
        pool = list(pool)
        for i in range(len(pool)):  # a lazy Fisher-Yates: only as many draws as distractors tried
            j = i + int(rand() * (len(pool) - i))
            pool[i], pool[j] = pool[j], pool[i]
            other = entity_at(seed, pool[i])
            if f.relation in other.links:
                value = entity_at(seed, other.links[f.relation]).name
            else:
                value = format_value(f.relation, other.values[f.relation])
            if value != f.object and value not in out and ok(value):
                out.append(value)
                if len(out) == n:
                    break
    if len(out) < n and bounds is not None:
        inf = float("inf")
        hi = int(bounds[1]) if bounds[1] != inf else None
        lo = int(bounds[0]) if bounds[0] != -inf else (hi - 200 if hi is not None else 1)
        hi = hi if hi is not None else 3 * lo + 10
        for _ in range(1000):
            if len(out) == n:
                break
            value = format_value(f.relation, rng.randint(lo, hi))
            if value != f.object and value not in out:
                out.append(value)
    if len(out) < n:
        raise InputError(f"could not find {n} distractors for {f.relation} of {f.subject.name}: the entities "
                         f"near it hold fewer distinct values; lower --distractors (BuildConfig.distractors)")
    shuffle(out, rng.random)  # the passage's distractor is not always first
    return out


@lru_cache(maxsize=256)
def _distractor_pools(etype: str, here: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The positions of type ``etype`` up to ``WINDOW`` blocks before ``here``, and (used only
    when those are too few) up to ``WINDOW`` blocks after it. Shared by the facts of an entity."""
    from fictional_knowledge.generate.world import _OFFSETS, BLOCK, WINDOW

    block, offsets = here // BLOCK, _OFFSETS[etype]
    earlier = tuple(b * BLOCK + o for b in range(max(0, block - WINDOW), block + 1) for o in offsets if b * BLOCK + o < here)
    later = tuple(b * BLOCK + o for b in range(block, block + WINDOW + 1) for o in offsets if b * BLOCK + o > here)
    return earlier, later
