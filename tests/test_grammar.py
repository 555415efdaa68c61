"""Grammar of the generated text (issue 11): every template of every entity type, rendered with
every value of the word lists (and values sampled from the world for the other relations), is free
of the defect classes a reader spotted in the data:

- a countable noun (a job title, a genre, an animal) without an article ("was listed as animal
  nutritionist", "worked in the profession of toxicologist");
- "a"/"an" that does not fit the next word ("a engineer");
- a verb followed by a prepositional phrase before its object ("has adopted as its national animal
  the elk", "has as its head of state Ann Bo");
- the same word twice in a row ("the the");
- job titles turned inside out or clipped ("publishing copy", "press sub").

Each rule is shown failing on a bad example, so none of them passes vacuously.
"""

from __future__ import annotations

import re
from functools import lru_cache

import pytest

from fictional_knowledge.generate import vocab
from fictional_knowledge.generate.facts import facts_of
from fictional_knowledge.generate.templates import load_templates
from fictional_knowledge.generate.world import BLOCK, RELATIONS

#: Relations whose values are countable nouns, with the word list they come from.
COUNTABLE = {
    "occupation": vocab.OCCUPATIONS,
    "genre": vocab.GENRES,
    "national_animal": vocab.ANIMALS,
    "emblem": vocab.ANIMALS,
    "mascot": vocab.ANIMALS,
}
#: Word lists of the other list-valued relations: rendered with every value too.
LISTS = {
    "known_for": vocab.CITY_INDUSTRIES,
    "industry": tuple(i for i, _ in vocab.ORG_KINDS),
    "continent": vocab.CONTINENTS,
    "pastime": vocab.PASTIMES,
    "theme": vocab.EVENT_THEMES,
    "month": vocab.MONTHS,
    "fish_species": vocab.FISH,
}
DETERMINERS = {"a", "an", "the", "its", "their", "his", "her"}
#: Contexts in which a job title or other countable noun stands without an article ("in the role
#: of director", "held the post of director").
BARE_CONTEXTS = ("role of", "post of")
#: Head nouns of job titles without an agent suffix (the suffixes: -er, -or, -ist, -ian, -ant,
#: -ent, -eer). Kept here, apart from ``vocab``, so that the test judges the list independently.
JOB_HEADS = {
    "actuary", "analyst", "architect", "associate", "attorney", "barista", "coach", "executive",
    "homeopath", "midwife", "nurse", "osteopath", "paramedic", "pilot", "representative",
    "secretary", "surgeon", "neurosurgeon",
}
SUBJECTS = {"person": "Ann Velik", "river": "the Velik River", "event": "the Velik Festival"}
POSSESSIVES = {"person": ("his", "her", "their")}  #: ``{{ their }}`` in prose clauses; "its" otherwise


def article_problems(text: str, value: str) -> list[str]:
    """Places where the countable ``value`` stands without a determiner (or one adjective after
    it) and outside a bare context."""
    out = []
    for m in re.finditer(r"(?<![\w-])" + re.escape(value) + r"(?![\w-])", text):
        before = text[:m.start()].split()
        prev = [w.lower().strip(",") for w in before[-2:]]
        if prev and prev[-1] in DETERMINERS:
            continue
        if len(prev) == 2 and prev[0] in ("a", "an", "the"):  # "a costumed red fox"
            continue
        if " ".join(before[-2:]) in BARE_CONTEXTS or re.search(r"\bjob title\b", text[:m.start()]):
            continue  # "in the role of director", "her job title was director"
        out.append(f"{value!r} without an article in {text!r}")
    return out


def a_an_problems(text: str) -> list[str]:
    """"a" before a vowel sound or "an" before a consonant sound."""
    out = []
    for m in re.finditer(r"\b(a|an|A|An) ([A-Za-z]+)", text):
        article, word = m.group(1).lower(), m.group(2).lower()
        vowel = word[0] in "aeiou" and not word.startswith(("uni", "use", "eu", "one", "uto"))
        vowel = vowel or word.startswith(("hour", "honest", "honour", "heir"))
        if (article == "a") == vowel:
            out.append(f"{m.group(0)!r} in {text!r}")
    return out


#: A verb (has/have/had or a past form in -ed) directly followed by a prepositional phrase with a
#: possessive, then the object with no comma (an appositive: "merged with its tributary, the X")
#: and no preposition of its own ("moved to their home city in 1950") before it: the verb's
#: direct object pushed behind the phrase, "has adopted as its national animal the elk".
DISPLACED_OBJECT = re.compile(r"\b(has|have|had|\w+ed)\s+(as|for|to|into|with|among)\s+(its|his|her|their)\b([^,{}]*)\{\{ object")
PREPOSITIONS = {"in", "of", "at", "on", "to", "by", "from", "with", "for", "since", "as", "into", "is", "was"}


def word_order_problems(source: str) -> list[str]:
    m = DISPLACED_OBJECT.search(source)
    if m is None:
        return []
    before = [w for w in m.group(4).split() if w not in ("the", "a", "an")]
    if before and before[-1] in PREPOSITIONS:
        return []
    return [f"object after a prepositional phrase in {source!r}"]


def repeated_word_problems(text: str) -> list[str]:
    return [f"{m.group(0)!r} in {text!r}" for m in re.finditer(r"\b(\w+) \1\b", text, re.IGNORECASE)]


def job_title_problems(job: str) -> list[str]:
    """A job title ends in an agent noun and is not a lower-cased acronym or a clipped trade name."""
    words = job.split()
    head = words[-1]
    if not (head in JOB_HEADS or re.search(r"(er|or|ist|ian|ant|ent|eer)$", head)):
        return [f"{job!r} does not end in an agent noun"]
    if words[0] in ("it", "tv", "hr", "pr") or job.startswith("best boy"):
        return [f"{job!r} starts with a lower-cased acronym or is a crew nickname"]
    return []


# --- the rules catch their defect classes ------------------------------------------------------------


def test_each_rule_catches_a_bad_example():
    assert article_problems("By profession, Alisha Komafal was listed as animal nutritionist.", "animal nutritionist")
    assert article_problems("Clinton Bopudal worked in the profession of toxicologist.", "toxicologist")
    assert not article_problems("Clinton Bopudal worked as a toxicologist.", "toxicologist")
    assert not article_problems("He earned a living in the role of toxicologist.", "toxicologist")
    assert not article_problems("The job title of Ann Bo was toxicologist.", "toxicologist")
    assert not article_problems("Children met a costumed red fox.", "red fox")
    assert a_an_problems("She was a engineer.") and a_an_problems("It is an bison.")
    assert not a_an_problems("She was an engineer at a university, an hour away.")
    assert word_order_problems("{{ Subject }} has adopted as its national animal the {{ object }}.")
    assert word_order_problems("{{ Subject }} has as its head of state {{ object }}.")
    assert not word_order_problems("{{ Subject }} merged with its main tributary, the {{ object }}.")
    assert not word_order_problems("{{ Subject }} moved to their home city in {{ object }}.")
    assert repeated_word_problems("It is the the largest.")
    assert not repeated_word_problems("It is the largest.")
    for bad in ("publishing copy", "press sub", "copy", "air cabin crew", "land", "it sales professional"):
        assert job_title_problems(bad), bad
    assert not job_title_problems("structural engineer") and not job_title_problems("paediatric nurse")


# --- every template and value list is free of them ---------------------------------------------------


def test_occupations_are_job_titles():
    problems = [p for job in vocab.OCCUPATIONS for p in job_title_problems(job)]
    assert problems == []
    assert len(vocab.OCCUPATIONS) > 300  # the list is filtered, not emptied


@lru_cache(maxsize=1)
def _values() -> dict[tuple[str, str], tuple[str, ...]]:
    """Per (entity type, relation): every value of its word list, or values sampled from the world."""
    found: dict[tuple[str, str], dict[str, None]] = {}
    for p in range(0, 40 * BLOCK):
        for f in facts_of(0, p):
            found.setdefault((f.subject.type, f.relation), {})[f.object] = None
    out = {}
    for (etype, relation), values in found.items():
        listed = COUNTABLE.get(relation) or LISTS.get(relation)
        out[etype, relation] = tuple(listed) if listed else tuple(list(values)[:40])
    return out


def _renderings(etype: str):
    """Every template of the type rendered with every value: ``(relation or None, value, template
    source, text)``. Prose clauses and openers get every possessive the planner may give them; an
    inverse clause (a role stated in its object's passage) is rendered with a subject of its type."""
    t = load_templates()[etype]
    values = _values()
    subject = SUBJECTS.get(etype, "Velik")
    ctx = {"subject": subject, "Subject": subject[:1].upper() + subject[1:]}
    for relation in t.passage:
        for value in values[etype, relation]:
            for c in t.passage[relation] + t.semantic[relation]:
                yield relation, value, c.source, c.render({**ctx, "object": value})
            for their in POSSESSIVES.get(etype, ("its",)):
                for c in t.clauses[relation]:
                    yield relation, value, c.source, f"{ctx['Subject']} {c.render({'object': value, 'their': their})}."
                for c in t.openers[relation]:
                    yield relation, value, c.source, f"{c.render({'object': value, 'their': their})}, {subject} was known."
        for c in (t.inverse or {}).get(relation, ()):
            target = RELATIONS[etype][relation]
            for their in POSSESSIVES.get(target, ("its",)):
                yield None, None, c.source, f"{SUBJECTS.get(target, 'Velik')} {c.render({'subject': subject, 'their': their})}."
        for c in t.question[relation]:
            yield None, None, c.source, c.render(ctx)
    intro_values = [values[etype, r] for r in t.intro_facts]
    for c in t.intro:
        for i in range(max((len(v) for v in intro_values), default=1)):
            extra = {r: v[i % len(v)] for r, v in zip(t.intro_facts, intro_values)}
            relation = next((r for r in t.intro_facts if r in COUNTABLE), None)
            yield relation, extra.get(relation), c.source, c.render({**ctx, **extra})
    for path, inputs in t.compositions:
        target_type = etype
        for relation in path[:-1]:
            target_type = RELATIONS[target_type][relation]
        for value in values[target_type, path[-1]]:
            for c in inputs:
                yield path[-1], value, c.source, f"{c.render(ctx)} {value}."


@pytest.mark.parametrize("etype", sorted(load_templates()))
def test_templates_render_grammatically_with_every_value(etype):
    problems: dict[str, None] = {}
    sources = set()
    for relation, value, source, text in _renderings(etype):
        found = a_an_problems(text) + repeated_word_problems(text)
        if relation in COUNTABLE and value is not None:
            found += article_problems(text, value)
        if source not in sources:
            sources.add(source)
            found += word_order_problems(source)
        problems.update(dict.fromkeys(found))
    assert list(problems)[:10] == []
    assert len(sources) > 50  # every kind of template was rendered
