"""Cloze probes at three depths (Chang et al. 2024), one generator per row of ``kinds.PROBE_KIND_TABLE``.

- memorization: a verbatim sentence of the passage, cut before its sentence-final fact value;
- semantic: the same fact in a sentence from the templates reserved for semantic probes (never
  used in passages or paraphrases), with the same target;
- compositional: the target follows only by combining two or more facts along a relation path,
  e.g. the capital of the country where a person was born. ``in_passage`` tells whether the
  passage states every fact on the path; the others need facts from other passages.

Every probe satisfies the probe rule: ``input + " " + target`` is its full text, and neither
part has outer whitespace. A probe's input should also fix its answer: each generator prefers
candidates whose input no other true sentence of the world continues differently
(``completions.ambiguous``), and uses another only when it lacks enough (``fkgen stats`` counts them).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from fictional_knowledge.generate.completions import collision_partners, world_completes_otherwise
from fictional_knowledge.generate.facts import WorldFact, follow
from fictional_knowledge.kinds import PROBE_KIND_TABLE
from fictional_knowledge.generate.render import Sentence, render_fact, subject_ctx
from fictional_knowledge.generate.templates import TypeTemplates
from fictional_knowledge.generate.world import ROLE_RELATIONS, WorldEntity


@dataclass(frozen=True, slots=True)
class ProbeDraft:
    kind: str
    input: str
    target: str
    facts: tuple[WorldFact, ...]
    relation_path: tuple[str, ...]
    in_passage: bool


@dataclass
class ProbeContext:
    """What a probe generator may use: the focal entity, its passage (sentences in paragraphs,
    the ids of the facts it states) and the probes of the kinds generated before this one."""

    seed: int
    entity: WorldEntity
    templates: dict[str, TypeTemplates]
    sentences: list[list[Sentence]]
    stated: set[str]
    drafts: dict[str, list[ProbeDraft]] = field(default_factory=dict)


def generate_probes(ctx: ProbeContext, counts: dict[str, int], rng: random.Random) -> list[ProbeDraft]:
    """The probes of a passage: every kind of ``kinds.PROBE_KIND_TABLE`` in table order, with
    ``counts[kind]`` probes asked of each and one RNG shared by all."""
    out = []
    for kind in PROBE_KIND_TABLE:
        made = globals()[kind.generator](ctx, counts[kind.name], rng)
        if any(d.kind != kind.name for d in made):
            raise ValueError(f"generator {kind.generator!r} made probes of another kind than {kind.name!r}")
        ctx.drafts[kind.name] = made
        out.extend(made)
    return out


def split_cloze(text: str, target: str) -> str:
    """The input of a sentence ``input + " " + target + "."``."""
    suffix = f" {target}."
    if not text.endswith(suffix):
        raise ValueError(f"sentence does not end with its target {target!r}: {text!r}")
    return text[: -len(suffix)]


def _completed_otherwise(ctx: ProbeContext, source: str, subject: WorldEntity, input: str, target: str) -> bool:
    """Whether another true sentence continues ``input`` differently (checked against the world
    only for templates that ``completions.collision_partners`` names)."""
    return world_completes_otherwise(ctx.seed, subject.position, source, input, target, ctx.templates)


def memorization(ctx: ProbeContext, n: int, rng: random.Random) -> list[ProbeDraft]:
    """``n`` probes from the passage's fact sentences: the focal entity's own facts first, and
    sentences whose cut another true sentence continues differently only when too few others.

    In the prose style a sound cut also names the subject of its final fact before it (not only a
    pronoun), and a fact that another passage states too (a role fact, or a linked entity's fact
    given as context) is used only when too few others remain."""
    sentences, focal_id = ctx.sentences, ctx.entity.id
    own = [s for para in sentences for s in para if s.fact is not None and s.fact.subject.id == focal_id]
    linked = [s for para in sentences for s in para if s.fact is not None and s.fact.subject.id != focal_id]
    rng.shuffle(own)
    rng.shuffle(linked)
    out, fallback = [], []
    for s in own + linked:
        if len(out) == n:
            break
        f = s.fact
        probe = ProbeDraft("memorization", split_cloze(s.text, f.object), f.object, (f,), (f.relation,), True)
        if s.style == "prose":
            sound = (s.named and f.subject.id == focal_id and (f.subject.type, f.relation) not in ROLE_RELATIONS
                     and f.relation not in ctx.templates[f.subject.type].context)
        else:
            source = ctx.templates[f.subject.type].passage[f.relation][s.variant].source
            sound = not _completed_otherwise(ctx, source, f.subject, probe.input, f.object)
        (out if sound else fallback).append(probe)
    return out + fallback[:n - len(out)]


def semantic(ctx: ProbeContext, n: int, rng: random.Random) -> list[ProbeDraft]:
    """A semantic probe for each of the first ``n`` memorization probes' facts."""
    templates = ctx.templates
    out = []
    for probe in ctx.drafts["memorization"][:n]:
        f = probe.facts[0]
        options = templates[f.subject.type].semantic[f.relation]
        partners = collision_partners(templates)
        if any((f.subject.type, o.source) in partners for o in options):
            sound = [o for o in options if not _completed_otherwise(
                ctx, o.source, f.subject, split_cloze(render_fact(o, f), f.object), f.object)]
            options = sound or options
        text = render_fact(options[rng.randrange(len(options))], f)
        out.append(ProbeDraft("semantic", split_cloze(text, f.object), f.object, (f,), (f.relation,), True))
    return out


def compositional(ctx: ProbeContext, n: int, rng: random.Random) -> list[ProbeDraft]:
    """``n`` multi-hop probes, alternating between in-passage and cross-passage ones."""
    seed, focal, templates, stated = ctx.seed, ctx.entity, ctx.templates, ctx.stated
    t = templates[focal.type]
    probe_ctx, ctx = ctx, subject_ctx(focal)
    partners = collision_partners(templates)
    inside, outside, fallback = [], [], []
    for path, inputs in t.compositions:
        chain = follow(seed, focal.position, path)
        target = chain[-1].object
        sound = [c for c in inputs if (focal.type, c.source) not in partners
                 or not _completed_otherwise(probe_ctx, c.source, focal, c.render(ctx), target)]
        text = (sound or inputs)[rng.randrange(len(sound or inputs))].render(ctx)
        names = {focal.name} | {f.object for f in chain[:-1]}
        if target in names or target in text:
            continue  # the answer would be trivial or given away
        in_passage = all(f.id in stated for f in chain)
        probe = ProbeDraft("compositional", text, target, tuple(chain), path, in_passage)
        (fallback if not sound else inside if in_passage else outside).append(probe)
    rng.shuffle(inside)
    rng.shuffle(outside)
    rng.shuffle(fallback)
    out = []
    while len(out) < n and (inside or outside):
        for group in (inside, outside):
            if group and len(out) < n:
                out.append(group.pop())
    return out + fallback[:n - len(out)]
