"""QA distractors a reader could rule out, and distractors from the subject's own passage.

A distractor is *impossible* when the subject's other facts exclude it: a book published before
its author's birth, an event before its organizer was founded, a city as populous as its country.
``value_bounds`` gives the range a relation's value may take given the subject's linked entities;
the generator draws distractors within it (``render.distractors``), ``fkgen validate`` checks it
(``qa_distractor_possible``) and ``fkgen stats`` counts rows that break it (``qa_figures``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

from .soundness import ACT_AGES, PRESENT_YEAR, WorldIndex

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
    from .world import COUNT_RELATIONS, ENTITY_SPECS

    rel = ENTITY_SPECS[etype].relations[relation]
    if rel.target is not None:
        return ("entity", rel.target)
    if rel.value is int and relation not in COUNT_RELATIONS:
        return ("year",)
    return ("value", relation)


def qa_figures(build_dir) -> dict:
    """QA soundness of a build: rows with an impossible distractor (see ``value_bounds``), and the
    share of rows with a distractor from the subject's own passage among the rows whose passage
    states a value of the right kind (``value_kind``) other than the answer that is possible."""
    from .io import iter_rows

    index = WorldIndex().add_rows(iter_rows(build_dir, "entities"))
    facts = {}
    for f in iter_rows(build_dir, "facts"):
        etype = index.entities[f["subject_id"]][0] if f["subject_id"] in index.entities else None
        facts[f["id"]] = (f["subject_id"], etype, f["relation"], f["object"])
    passage_values: dict[str, dict[tuple, set]] = {}
    for p in iter_rows(build_dir, "passages"):
        values = passage_values.setdefault(p["entity_id"], {})
        for fid in p["fact_ids"]:
            if fid in facts and facts[fid][1] is not None:
                _, etype, relation, obj = facts[fid]
                values.setdefault(value_kind(etype, relation), set()).add(obj)
    lookup = lambda eid: index.get(eid)[2] if index.get(eid) else None  # noqa: E731
    rows = impossible = offered = same = 0
    for q in iter_rows(build_dir, "qa"):
        if q["fact_id"] not in facts or facts[q["fact_id"]][1] is None:
            continue
        subject, etype, relation, _ = facts[q["fact_id"]]
        rows += 1
        bounds = value_bounds(etype, relation, index.entities[subject][2], lookup)
        wrong = [c for c in q["choices"] if c != q["answer"]]
        impossible += any(not possible(bounds, c) for c in wrong)
        pool = {v for v in passage_values.get(subject, {}).get(value_kind(etype, relation), ())
                if v != q["answer"] and possible(bounds, v)}
        if pool:
            offered += 1
            same += any(c in pool for c in wrong)
    return {"qa_rows": rows, "qa_impossible_distractor_rows": impossible,
            "qa_rows_offering_passage_distractor": offered,
            "qa_passage_distractor_share": same / offered if offered else None}
