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

from fictional_knowledge.generate.soundness import ACT_AGES, CAREER_AGE, PRESENT_YEAR, WorldIndex
from fictional_knowledge.generate.soundness import CITY_EVENT_LAST, CITY_EVENTS, COUNTRY_EVENTS, RAILWAY_AGE
from fictional_knowledge.generate.vocab import RADIO_AGE, TRAM_AGE
from fictional_knowledge.generate.world import BEGUN_AGE, RIVER_EVENT_ERAS, SERIES_EVENTS

INF = float("inf")


def value_bounds(etype: str, relation: str, attrs: dict, lookup: Callable) -> tuple[float, float] | None:
    """The values of ``relation`` that the subject's other facts allow, as an inclusive range
    (``None``: any value, or what it depends on is unknown). ``attrs`` are the subject's
    attributes and ``lookup(link value)`` the attributes of a linked entity (or None): a choice
    outside the range is an *impossible distractor* (a book published before its author's birth).
    Every true value lies in its range (the world checks make sure)."""
    def linked(key):
        return lookup(attrs.get(key)) if attrs.get(key) is not None else None

    def own(key):
        return attrs.get(key)

    lo_age, hi_age = ACT_AGES
    los: list[float] = []
    his: list[float] = []

    def after(value, gap=1):  # the relation's value lies at least ``gap`` after ``value`` (if known)
        if value is not None:
            los.append(value + gap)

    def before(value, gap=1):
        if value is not None:
            his.append(value - gap)

    def aged(person):  # a person's act: between ages 18 and 95, not after now
        if person is not None:
            los.append(person["birth_year"] + lo_age)
            his.append(min(person["birth_year"] + hi_age, PRESENT_YEAR))

    key = (etype, relation)
    if key in (("work", "published_year"), ("organization", "founded_year")):
        aged(linked("authored_by" if etype == "work" else "founded_by"))
        if etype == "work":
            after(own("story_year"))
            after(own("draft_begun_year"))
            after(own("inspiring_fire_year"))
        else:
            before(own("branch_year"))
            for later in ("listing_year", "strike_year", "contract_year"):
                before(own(later))
            after(own("workshop_year"))
    elif key == ("event", "year"):
        org = linked("organized_by")
        if org is not None:
            los.append(org["founded_year"] + 1)
            his.append(PRESENT_YEAR)
        after(own("first_held_year"))
        aged(linked("honoree"))
    elif key == ("event", "first_held_year"):
        before(own("year"))
        after(own("charter_signed_year"))
        for later in SERIES_EVENTS:
            before(own(later))
    elif key == ("event", "charter_signed_year"):  # before the series' first edition and its boycott
        before(own("first_held_year"))
        after(own("forerunner_fair_year"))
        before(own("boycott_year"))
    elif etype == "event" and relation in SERIES_EVENTS:  # after the first edition, not after now
        after(own("first_held_year"))
        his.append(PRESENT_YEAR)
    elif key == ("event", "forerunner_fair_year"):  # the village fair the series grew out of: before its charter
        before(own("charter_signed_year"))
    elif key == ("event", "boycott_year"):  # after the charter, not after now
        after(own("charter_signed_year"))
        his.append(PRESENT_YEAR)
    elif relation in ("population", "area_km2") and etype == "city":  # less than its country's
        country = linked("located_in")
        if country is not None:
            return 1, country[relation] - 1
    elif relation in ("population", "area_km2") and etype == "country":  # more than its largest city's
        city = linked("largest_city")
        if city is not None:
            return city[relation] + 1, INF
    elif key == ("person", "birth_year"):
        city = linked("born_in")
        if city is not None:
            los.append(city["founded_year"])
            his.append(PRESENT_YEAR - lo_age)
        before(own("career_start_year"), CAREER_AGE)
        before(own("settled_year"), CAREER_AGE)
        before(own("award_year"), lo_age)
        for act in ("marriage_year", "expedition_year", "lecture_year", "academy_year", "doctorate_year"):
            before(own(act), lo_age)
    elif key == ("person", "career_start_year"):
        after(own("birth_year"), CAREER_AGE)
        before(own("award_year"))
        for act in ("lecture_year", "academy_year", "doctorate_year"):
            before(own(act))
    elif key == ("person", "award_year"):
        after(own("career_start_year"))
        if own("birth_year") is not None:
            aged({"birth_year": own("birth_year")})
    elif key == ("person", "settled_year"):
        after(own("birth_year"), CAREER_AGE)
        his.append(PRESENT_YEAR)
    elif key in (("person", "marriage_year"), ("person", "expedition_year")):
        if own("birth_year") is not None:
            aged({"birth_year": own("birth_year")})
    elif key in (("person", "lecture_year"), ("person", "academy_year"), ("person", "doctorate_year")):
        after(own("career_start_year"))
        if own("birth_year") is not None:
            aged({"birth_year": own("birth_year")})
    elif key == ("river", "survey_year"):
        aged(linked("surveyed_by"))
    elif key == ("river", "navigable_km"):
        before(own("length_km"))
        los.append(1)
    elif key == ("river", "length_km"):
        after(own("navigable_km"))
    elif key == ("river", "great_flood_year"):
        before(own("embankment_year"))
    elif key == ("river", "embankment_year"):
        after(own("great_flood_year"))
        his.append(PRESENT_YEAR)
    elif key == ("river", "steamboat_year"):
        before(own("dam_year"))
    elif key == ("river", "dam_year"):
        after(own("steamboat_year"))
        his.append(PRESENT_YEAR)
    elif key == ("river", "canal_year"):
        his.append(PRESENT_YEAR)
    elif etype == "river" and relation in RIVER_EVENT_ERAS:  # an ice jam, a lighthouse, a regatta: in its era
        los.append(RIVER_EVENT_ERAS[relation][0])
        his.append(RIVER_EVENT_ERAS[relation][1])
    elif key == ("country", "established_year"):
        before(own("constitution_year"))
        for event in COUNTRY_EVENTS:
            before(own(event))
    elif key == ("country", "constitution_year"):
        after(own("established_year"))
        his.append(PRESENT_YEAR)
    elif etype == "country" and relation in COUNTRY_EVENTS:  # after the establishment, none after now
        after(own("established_year"))
        his.append(PRESENT_YEAR)
        if relation == "railway_year":
            los.append(RAILWAY_AGE)
    elif key == ("city", "founded_year"):
        before(own("charter_year"))
        for event in CITY_EVENTS:
            before(own(event))
    elif key == ("city", "charter_year"):
        after(own("founded_year"))
        his.append(PRESENT_YEAR)
    elif etype == "city" and relation in CITY_EVENTS:  # after the founding, none after now
        after(own("founded_year"))
        his.append(CITY_EVENT_LAST.get(relation, PRESENT_YEAR))
        if relation == "railway_arrival_year":
            los.append(RAILWAY_AGE)
        if relation == "tram_year":
            los.append(TRAM_AGE)
    elif key == ("organization", "branch_year"):
        after(own("founded_year"))
        his.append(PRESENT_YEAR)
    elif key in (("organization", "listing_year"), ("organization", "strike_year"), ("organization", "contract_year")):
        after(own("founded_year"))
        his.append(PRESENT_YEAR)
    elif key == ("organization", "workshop_year"):
        aged(linked("founded_by"))
        before(own("founded_year"))
    elif key == ("organization", "building_year"):
        his.append(PRESENT_YEAR)
    elif key == ("work", "story_year"):
        before(own("published_year"))
        after(own("remembered_flood_year"))
    elif key == ("work", "draft_begun_year"):  # begun at 14 or later, before publication and the draft's finding
        author = linked("authored_by")
        if author is not None:
            los.append(author["birth_year"] + BEGUN_AGE)
        before(own("published_year"))
        before(own("draft_found_year"))
        before(own("serialized_year"))
        before(own("radio_reading_year"))
    elif key == ("work", "draft_found_year"):
        after(own("draft_begun_year"))
        his.append(PRESENT_YEAR)
    elif key == ("work", "inspiring_fire_year"):  # after its setting's founding, before publication
        setting = linked("set_in")
        if setting is not None:
            los.append(setting["founded_year"] + 1)
        before(own("published_year"))
    elif key == ("work", "protagonist_born_year"):
        before(own("remembered_flood_year"))
    elif key == ("work", "remembered_flood_year"):  # between the protagonist's birth and the story's opening
        after(own("protagonist_born_year"))
        before(own("story_year"))
    elif key == ("work", "serialized_year"):  # after the draft was begun, not after now
        after(own("draft_begun_year"))
        his.append(PRESENT_YEAR)
    elif key == ("work", "radio_reading_year"):  # after the draft was begun and the coming of radio, not after now
        after(own("draft_begun_year"))
        los.append(RADIO_AGE)
        his.append(PRESENT_YEAR)
    if not los and not his:
        return None
    return (max(los) if los else -INF), (min(his) if his else INF)


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


@lru_cache(maxsize=None)  # a few dozen (type, relation) pairs, asked for every fact of every bundle
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
