"""QA distractors a reader could rule out, and distractors from the subject's own passage.

A distractor is *impossible* when the subject's other facts exclude it: a book published before
its author's birth, an event before its organizer was founded, a city as populous as its country.
``value_bounds`` gives the range a relation's value may take given the subject's linked entities;
the generator draws distractors within it (``render.distractors``), ``fkgen validate`` checks it
(``qa_distractor_possible``) and ``fkgen stats`` counts rows that break it (``dataset.figures.qa_figures``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

from fictional_knowledge.generate.soundness import ACT_AGES, PRESENT_YEAR, WorldIndex

INF = float("inf")


def value_bounds(etype: str, relation: str, attrs: dict, lookup: Callable) -> tuple[float, float] | None:
    """The values of ``relation`` that the subject's other facts allow, as an inclusive range
    (``None``: any value, or what it depends on is unknown). ``attrs`` are the subject's
    attributes and ``lookup(link value)`` the attributes of a linked entity (or None): a choice
    outside the range is an *impossible distractor* (a book published before its author's birth).
    Every true value lies in its range (the world checks make sure)."""
    def linked(key):
        return lookup(attrs.get(key)) if attrs.get(key) is not None else None

    lo_age, hi_age = ACT_AGES
    if (etype, relation) in (("work", "published_year"), ("organization", "founded_year")):
        person = linked("authored_by" if etype == "work" else "founded_by")
        if person is not None:
            return person["birth_year"] + lo_age, min(person["birth_year"] + hi_age, PRESENT_YEAR)
    elif (etype, relation) == ("event", "year"):
        org = linked("organized_by")
        if org is not None:
            return org["founded_year"] + 1, PRESENT_YEAR
    elif (etype, relation) == ("city", "population"):
        country = linked("located_in")
        if country is not None:
            return 1, country["population"] - 1
    elif (etype, relation) == ("country", "population"):
        city = linked("largest_city")
        if city is not None:
            return city["population"] + 1, INF
    elif (etype, relation) == ("person", "birth_year"):
        city = linked("born_in")
        if city is not None:
            return city["founded_year"], PRESENT_YEAR - lo_age
    return None


def parse_number(text: str) -> int | None:
    try:
        return int(text.replace(",", ""))
    except ValueError:
        return None


def possible(bounds: tuple[float, float] | None, text: str) -> bool:
    """Whether the value ``text`` lies in ``bounds`` (always, without bounds)."""
    if bounds is None:
        return True
    n = parse_number(text)
    return n is None or bounds[0] <= n <= bounds[1]


@lru_cache(maxsize=None)
def value_kind(etype: str, relation: str) -> tuple:
    """What a distractor must be to be "of the right type" for a fact: an entity of the same type,
    a year, or a value of the same relation (a population, a genre...)."""
    from fictional_knowledge.generate.world import COUNT_RELATIONS, ENTITY_SPECS

    rel = ENTITY_SPECS[etype].relations[relation]
    if rel.target is not None:
        return ("entity", rel.target)
    if rel.value is int and relation not in COUNT_RELATIONS:
        return ("year",)
    return ("value", relation)
