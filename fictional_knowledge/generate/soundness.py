"""Soundness of a world: the constraints a reader of the data would take for granted.

Each constraint is a named check, a function of a :class:`WorldIndex` (the entities of a build or
of a range of world positions, as ``Entity`` rows: ``id``, ``type``, ``name``, ``attributes`` with
linked entities as ids) that returns its violations as one-line strings. The generator keeps them
(``world.py``), ``fkgen validate`` runs them on a build (``world_*`` checks), ``fkgen stats``
counts them, and a test runs them over 100k entities.

Only what the index holds is checked: a shard, or a build's last partial block, may lack some of
a country's cities; the checks then judge what is there and never fail for what is missing.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterable, Iterator

from fictional_knowledge.generate.vocab import OTHER_WRITING_JOBS
from fictional_knowledge.generate.world import ACT_AGES, BEGUN_AGE, CITY_EVENT_LAST, ENTITY_SPECS, PRESENT_YEAR, format_value
from fictional_knowledge.generate.world import HEAD_OF_STATE_BORN as _HOS_BORN
from fictional_knowledge.generate.vocab import RADIO_AGE, RAILWAY_AGE, TRAM_AGE
from fictional_knowledge.generate.world import RIVER_EVENT_ERAS

HEAD_OF_STATE_BORN = (_HOS_BORN, PRESENT_YEAR - 35)  #: a head of state (present tense) is alive and of age
CAREER_AGE = 16  #: the youngest age at which a person starts a career or settles in a city of their own

# the attributes the checks read, per entity type (the index keeps nothing else)
_KEEP = {
    "country": ("capital", "largest_city", "head_of_state", "continent", "population", "established_year",
                "constitution_year", "area_km2", "first_election_year", "census_year", "currency_reform_year",
                "railway_year", "famine_year", "anthem_year", "earthquake_year", "national_library_year"),
    "city": ("located_in", "on_river", "founded_year", "population", "charter_year", "area_km2", "great_fire_year",
             "flood_year", "siege_year", "bridge_year", "railway_arrival_year", "university_year", "epidemic_year",
             "tram_year"),
    "river": ("source_country", "surveyed_by", "survey_year", "length_km", "navigable_km", "great_flood_year",
              "embankment_year", "steamboat_year", "dam_year", "canal_year", "ice_jam_year", "lighthouse_year",
              "regatta_year"),
    "person": ("born_in", "birth_year", "occupation", "career_start_year", "award_year", "settled_year",
               "marriage_year", "lecture_year", "expedition_year", "academy_year", "doctorate_year"),
    "organization": ("founded_by", "founded_year", "branch_year", "workshop_year", "building_year", "listing_year",
                     "strike_year", "contract_year"),
    "work": ("authored_by", "published_year", "story_year", "set_in", "draft_begun_year", "draft_found_year",
             "inspiring_fire_year", "protagonist_born_year", "remembered_flood_year", "serialized_year",
             "radio_reading_year"),
    "event": ("organized_by", "year", "honoree", "first_held_year", "charter_signed_year", "flood_cancelled_year",
              "attendance_record_year", "statutes_year", "foreign_entry_year", "forerunner_fair_year", "boycott_year"),
}
SAME_VALUES = "_same_values"  #: kept per entity: its relations that share a value text, or that link to it
#: Relations that may name the same entity: a capital may be its country's largest city.
MAY_SHARE = frozenset({frozenset({"capital", "largest_city"})})


_LINKS = frozenset(r for spec in ENTITY_SPECS.values() for r, rel in spec.relations.items() if rel.target)


def same_values(eid: str, attrs: dict) -> tuple[str, ...]:
    """The relations of an entity whose value's text equals another relation's (links compared
    by id), and the links that point at the entity itself."""
    seen: dict[str, str] = {}
    out = []
    for k, v in attrs.items():
        if v is None:
            continue
        text = v if k in _LINKS else format_value(k, v)
        if k in _LINKS and v == eid:
            out.append(k)
        elif text in seen and frozenset({seen[text], k}) not in MAY_SHARE:
            out += [seen[text], k]
        else:
            seen[text] = k
    return tuple(out)


@dataclass
class WorldIndex:
    """The entities the world checks need, by id: ``(type, name, attributes they read)``."""

    entities: dict[str, tuple[str, str, dict]] = field(default_factory=dict)
    last: object = None  # the last batch added (several validate checks feed one index)
    #: ``type.attribute`` the checks read that rows lack altogether (a build of an older data version)
    missing: set = field(default_factory=set)

    def add(self, row: dict) -> None:
        keep = _KEEP.get(row["type"], ())
        attrs = row.get("attributes") or {}
        if len(attrs) < len(keep) or any(k not in attrs for k in keep):
            self.missing.update(f"{row['type']}.{k}" for k in keep if k not in attrs)
        # ids are interned: the facts index of ``fkgen validate`` then shares them
        kept = {k: sys.intern(v) if isinstance(v, str) and k in _LINKS else v for k, v in ((k, attrs.get(k)) for k in keep)}
        same = same_values(row["id"], attrs)
        if same:
            kept[SAME_VALUES] = same
        self.entities[sys.intern(row["id"])] = (sys.intern(row["type"]), row["name"], kept)

    def add_rows(self, rows: Iterable[dict]) -> "WorldIndex":
        for row in rows:
            self.add(row)
        return self

    def of_type(self, etype: str) -> Iterator[tuple[str, str, dict]]:
        for eid, (t, name, attrs) in self.entities.items():
            if t == etype:
                yield eid, name, attrs

    def get(self, eid) -> tuple[str, str, dict] | None:
        return self.entities.get(eid) if eid is not None else None


@dataclass(frozen=True)
class WorldCheck:
    name: str
    doc: str
    fn: Callable[[WorldIndex], list[str]]


WORLD_CHECKS: dict[str, WorldCheck] = {}


def world_check(name: str):
    def deco(fn):
        WORLD_CHECKS[name] = WorldCheck(name, (fn.__doc__ or "").strip().splitlines()[0], fn)
        return fn
    return deco


def _cities_by_country(index: WorldIndex) -> dict[str, list[tuple[str, str, dict]]]:
    out: dict[str, list] = {}
    for cid, name, attrs in index.of_type("city"):
        out.setdefault(attrs["located_in"], []).append((cid, name, attrs))
    return out


@world_check("largest_city")
def largest_city(index: WorldIndex) -> list[str]:
    """A country's largest city is the most populous of its cities."""
    out = []
    for country_id, cities in _cities_by_country(index).items():
        country = index.get(country_id)
        if country is None:
            continue
        largest = index.get(country[2]["largest_city"])
        if largest is None:
            continue
        top = max(cities, key=lambda c: c[2]["population"])
        if top[2]["population"] > largest[2]["population"]:
            out.append(f"{country[1]}: largest city {largest[1]} ({largest[2]['population']:,}) is smaller than "
                       f"{top[1]} ({top[2]['population']:,})")
    return out


def _cities_reaching_country(index: WorldIndex, key: str):
    """``(country, its cities' total, its biggest city)`` for every country of the index whose
    cities together reach its own ``key`` (population, area)."""
    for country_id, cities in _cities_by_country(index).items():
        country = index.get(country_id)
        if country is None:
            continue
        total = sum(c[2][key] for c in cities)
        if total >= country[2][key]:
            yield country, total, max(cities, key=lambda c: c[2][key])


@world_check("city_population")
def city_population(index: WorldIndex) -> list[str]:
    """Every city has fewer inhabitants than its country (and its cities together too)."""
    return [f"{country[1]} ({country[2]['population']:,}): its cities hold {total:,}, "
            f"e.g. {biggest[1]} {biggest[2]['population']:,}"
            for country, total, biggest in _cities_reaching_country(index, "population")]


@world_check("river_continent")
def river_continent(index: WorldIndex) -> list[str]:
    """A city's river rises on the continent of the city's country (rivers stay on one continent)."""
    out = []
    for _, name, attrs in index.of_type("city"):
        country, river = index.get(attrs["located_in"]), index.get(attrs["on_river"])
        source = index.get(river[2]["source_country"]) if river else None
        if country is None or source is None:
            continue
        if country[2]["continent"] != source[2]["continent"]:
            out.append(f"{name} ({country[2]['continent']}) lies on {river[1]}, which rises in {source[1]} "
                       f"({source[2]['continent']})")
    return out


@world_check("lifespan")
def lifespan(index: WorldIndex) -> list[str]:
    """A person's dated acts (founding, publishing, surveying a river, being honoured at an event,
    winning their award) fall between ages 18 and 95 and not after the present, and their
    birthplace was founded before they were born."""
    out = []
    for _, name, attrs in index.of_type("person"):
        city = index.get(attrs["born_in"])
        if city is not None and city[2]["founded_year"] > attrs["birth_year"]:
            out.append(f"{name} was born in {attrs['birth_year']} in {city[1]}, founded {city[2]['founded_year']}")
        age = attrs["award_year"] - attrs["birth_year"]
        if not ACT_AGES[0] <= age <= ACT_AGES[1] or attrs["award_year"] > PRESENT_YEAR:
            out.append(f"{name} (born {attrs['birth_year']}) won their award in {attrs['award_year']}")
    acts = [("organization", "founded_by", "founded_year", "founded"), ("work", "authored_by", "published_year", "published"),
            ("river", "surveyed_by", "survey_year", "surveyed"), ("event", "honoree", "year", "was honoured at")]
    for etype, link, year_key, verb in acts:
        for _, what, attrs in index.of_type(etype):
            person = index.get(attrs[link])
            if person is None:
                continue
            age = attrs[year_key] - person[2]["birth_year"]
            if not ACT_AGES[0] <= age <= ACT_AGES[1] or attrs[year_key] > PRESENT_YEAR:
                out.append(f"{person[1]} (born {person[2]['birth_year']}) {verb} {what} in {attrs[year_key]}")
    return out


@world_check("head_of_state_age")
def head_of_state_age(index: WorldIndex) -> list[str]:
    """A head of state, described in the present tense, is alive and of age (born 1945-1989)."""
    out = []
    lo, hi = HEAD_OF_STATE_BORN
    for _, name, attrs in index.of_type("country"):
        person = index.get(attrs["head_of_state"])
        if person is not None and not lo <= person[2]["birth_year"] <= hi:
            out.append(f"the head of state of {name}, {person[1]}, was born in {person[2]['birth_year']}")
    return out


@world_check("author_occupation")
def author_occupation(index: WorldIndex) -> list[str]:
    """No author of a work has a writing job of another kind (journalist, editor, copywriter...)."""
    out = []
    for _, what, attrs in index.of_type("work"):
        person = index.get(attrs["authored_by"])
        if person is not None and person[2]["occupation"] in OTHER_WRITING_JOBS:
            out.append(f"{what} is by {person[1]}, listed as {person[2]['occupation']}")
    return out


def world_violations(index: WorldIndex) -> dict[str, list[str]]:
    """Every world check's violations (an empty list where it holds)."""
    return {name: c.fn(index) for name, c in WORLD_CHECKS.items()}


def world_index(seed: int, positions: Iterable[int]) -> WorldIndex:
    """The index of the world entities at ``positions`` (no build needed)."""
    from fictional_knowledge.generate.world import entity_at

    index = WorldIndex()
    for p in positions:
        e = entity_at(seed, p)
        attrs = dict(e.values)
        attrs.update({r: entity_at(seed, q).id for r, q in e.links.items()})
        index.add({"id": e.id, "type": e.type, "name": e.name, "attributes": attrs})
    return index


# --- names ------------------------------------------------------------------------------------------


def invented_words(name: str) -> list[str]:
    """The words of an entity name that are not first names or name words ("River", "The"...)."""
    common = _common_words()
    return [w for w in name.split() if w not in common]


@lru_cache(maxsize=1)
def _common_words() -> frozenset[str]:
    from fictional_knowledge.generate.vocab import FIRST_NAMES, NAME_WORDS

    return frozenset(FIRST_NAMES) | frozenset(NAME_WORDS)


def close_name_pairs(names: Iterable[str], max_distance: int = 2) -> list[tuple[str, str, int]]:
    """Pairs of entity names whose invented words are within ``max_distance`` edits (0: the same
    invented word in two names), as ``(name, name, distance)``; pairs of names that are equal or
    inside one another are skipped (other checks report those)."""
    from fictional_knowledge.generate.names import close_pairs

    owners: dict[str, list[str]] = {}
    for name in dict.fromkeys(names):
        for w in invented_words(name):
            owners.setdefault(w.lower(), []).append(name)
    out = []

    def related(a: str, b: str) -> bool:
        return a in b or b in a

    for word, who in owners.items():
        for i, a in enumerate(who):
            out += [(a, b, 0) for b in who[i + 1:] if not related(a, b)]
    for x, y, d in close_pairs(owners):
        out += [(a, b, d) for a in owners[x] for b in owners[y] if not related(a, b)]
    return out


def name_figures(names: Iterable[str]) -> dict:
    """Name soundness of a build: invented name pairs within 2 edits, and the phonotactic
    patterns (consonant/vowel shapes) of the invented words with the share of the commonest."""
    from collections import Counter

    from fictional_knowledge.generate.names import phonotactic_pattern

    names = list(names)
    patterns = Counter(phonotactic_pattern(w) for n in names for w in invented_words(n))
    total = sum(patterns.values())
    return {
        "name_pairs_within_2_edits": len(close_name_pairs(names)),
        "name_patterns": len(patterns),
        "name_top_pattern_share": max(patterns.values()) / total if total else 0.0,
    }


# --- data version 1.1: timelines, areas, measures and distinct values ---------------------------------


#: dated events of a state, each after its establishment, and of a city, after its founding (label: how
#: ``timeline`` names it)
COUNTRY_EVENTS = {"first_election_year": "first election", "census_year": "first census",
                  "currency_reform_year": "currency reform", "railway_year": "railway", "famine_year": "famine",
                  "anthem_year": "anthem", "earthquake_year": "earthquake", "national_library_year": "national library"}
CITY_EVENTS = {"great_fire_year": "great fire", "flood_year": "flood", "siege_year": "siege", "bridge_year": "bridge",
               "railway_arrival_year": "railway", "university_year": "university", "epidemic_year": "epidemic",
               "tram_year": "first tram line"}
RIVER_EVENTS = {"ice_jam_year": "ice jam", "lighthouse_year": "lighthouse", "regatta_year": "first regatta"}
#: An organization's dated events after its founding: (relation, label) (``timeline``).
ORGANIZATION_EVENTS = (("listing_year", "listed"), ("strike_year", "strike"), ("contract_year", "first public contract"))
#: A person's dated acts besides the career and award: (relation, label, after the career began).
#: Each falls between ``ACT_AGES`` and by ``PRESENT_YEAR`` (``timeline``).
PERSON_ACTS = (("marriage_year", "married", False), ("expedition_year", "expedition", False),
               ("lecture_year", "first lecture", True), ("academy_year", "elected to an academy", True),
               ("doctorate_year", "honorary doctorate", True))


@world_check("timeline")
def timeline(index: WorldIndex) -> list[str]:
    """An entity's dates come in their order and never after the present: a constitution after
    the state's establishment, a charter after the city's founding, a branch after the
    organization's founding, a story set before its book's publication, an event series first
    held before this event, a career started at 16 or later and before the award, a home city
    settled at 16 or later. The events of data versions 1.3 and 1.4: a state's (elections, census,
    reforms, famine, anthem, railway, earthquake, national library) after its establishment; a
    city's (fire, flood, siege, bridge, railway, university, epidemic, tram) after its founding, a
    great fire and a first stone bridge by 1900, a siege by 1945, an epidemic by 1950, a first tram
    line between 1870 and 1960, no railway before 1830; a river's embankments after its great flood
    and its first dam after its first steamboat, its ice jam, lighthouse and first regatta within
    their eras (``world.RIVER_EVENT_ERAS``); a person's marriage, expedition, first lecture, election to an academy and
    honorary doctorate between ages 18 and 95 (the last three after the career began); an
    organization's listing, strike and first public contract after its founding, and its forerunner
    venture before it (its founder then 18 or older); a book's drafts begun at 14 or later and before
    publication, a lost draft found after it was begun, a fire of its setting after the city's
    founding and before publication, its hero born before the flood the story remembers, which comes
    before the story opens; an event series chartered before its first edition, and its cancellation
    by a flood, attendance record, statutes and first foreign entrants after it. Data version 1.4: a
    book serialized and first read on the radio (not before 1920) after its draft was begun; an
    event series' forerunner fair before its charter, and a boycott against it after the charter."""
    out = []
    def order(name, what, *years):  # years: (label, value) that must strictly increase
        values = [v for _, v in years]
        if any(a >= b for a, b in zip(values, values[1:])) or values[-1] > PRESENT_YEAR:
            out.append(f"{name}: {what}: " + ", ".join(f"{k} {v}" for k, v in years))
    for _, name, a in index.of_type("country"):
        order(name, "constitution", ("established", a["established_year"]), ("constitution", a["constitution_year"]))
        for key, label in COUNTRY_EVENTS.items():  # a state's events come after its establishment
            order(name, label, ("established", a["established_year"]), (label, a[key]))
        order(name, "railway", ("steam age", RAILWAY_AGE - 1), ("railway", a["railway_year"]))
    for _, name, a in index.of_type("city"):
        order(name, "charter", ("founded", a["founded_year"]), ("charter", a["charter_year"]))
        for key, label in CITY_EVENTS.items():  # a city's events come after its founding
            order(name, label, ("founded", a["founded_year"]), (label, a[key]))
        for key, last in CITY_EVENT_LAST.items():  # events of an era: timber fires, stone bridges, sieges
            order(name, CITY_EVENTS[key], (CITY_EVENTS[key], a[key]), ("era's end", last + 1))
        order(name, "railway", ("steam age", RAILWAY_AGE - 1), ("railway", a["railway_arrival_year"]))
        order(name, "first tram line", ("tram age", TRAM_AGE - 1), ("first tram line", a["tram_year"]))
    for _, name, a in index.of_type("river"):
        order(name, "embankment", ("great flood", a["great_flood_year"]), ("embankment", a["embankment_year"]))
        order(name, "dam", ("first steamboat", a["steamboat_year"]), ("first dam", a["dam_year"]))
        order(name, "canal", ("canal", a["canal_year"]),)
        for key, (first, last) in RIVER_EVENT_ERAS.items():  # each in its era: lit towers, rowing clubs
            order(name, RIVER_EVENTS[key], ("era's start", first - 1), (RIVER_EVENTS[key], a[key]),
                  *([("era's end", last + 1)] if last < PRESENT_YEAR else []))
    for _, name, a in index.of_type("organization"):
        order(name, "branch", ("founded", a["founded_year"]), ("branch", a["branch_year"]))
        for key, label in ORGANIZATION_EVENTS:
            order(name, label, ("founded", a["founded_year"]), (label, a[key]))
        founder = index.get(a["founded_by"])
        first = [("founder aged 18", founder[2]["birth_year"] + ACT_AGES[0] - 1)] if founder is not None else []
        order(name, "forerunner", *first, ("forerunner", a["workshop_year"]), ("founded", a["founded_year"]))
        order(name, "head office built", ("head office built", a["building_year"]))
    for _, name, a in index.of_type("work"):
        order(name, "story", ("story", a["story_year"]), ("published", a["published_year"]))
        author = index.get(a["authored_by"])
        if author is not None:
            order(name, "drafts", ("author aged 13", author[2]["birth_year"] + BEGUN_AGE - 1),
                  ("begun", a["draft_begun_year"]), ("published", a["published_year"]))
            order(name, "lost draft", ("begun", a["draft_begun_year"]), ("draft found", a["draft_found_year"]))
        setting = index.get(a["set_in"])
        if setting is not None:
            order(name, "fire", ("setting founded", setting[2]["founded_year"]),
                  ("fire", a["inspiring_fire_year"]), ("published", a["published_year"]))
        order(name, "story", ("protagonist born", a["protagonist_born_year"]),
              ("remembered flood", a["remembered_flood_year"]), ("story opens", a["story_year"]))
        order(name, "serialized", ("begun", a["draft_begun_year"]), ("serialized", a["serialized_year"]))
        order(name, "radio reading", ("begun", a["draft_begun_year"]), ("radio reading", a["radio_reading_year"]))
        order(name, "radio reading", ("radio age", RADIO_AGE - 1), ("radio reading", a["radio_reading_year"]))
    for _, name, a in index.of_type("event"):
        order(name, "first held", ("first held", a["first_held_year"]), ("this event", a["year"]))
        order(name, "charter", ("charter", a["charter_signed_year"]), ("first held", a["first_held_year"]))
        for key, label in (("flood_cancelled_year", "cancelled by a flood"), ("attendance_record_year", "attendance record"),
                           ("statutes_year", "statutes"), ("foreign_entry_year", "first foreign entrants")):
            order(name, label, ("first held", a["first_held_year"]), (label, a[key]))
        order(name, "forerunner fair", ("forerunner fair", a["forerunner_fair_year"]), ("charter", a["charter_signed_year"]))
        order(name, "boycott", ("charter", a["charter_signed_year"]), ("boycott", a["boycott_year"]))
    for _, name, a in index.of_type("person"):
        born = a["birth_year"]
        order(name, "career", ("age 16", born + CAREER_AGE - 1), ("career start", a["career_start_year"]),
              ("award", a["award_year"]))
        order(name, "settled", ("age 16", born + CAREER_AGE - 1), ("settled", a["settled_year"]))
        for key, label, after_career in PERSON_ACTS:  # one line per act out of its place
            first = ("career start", a["career_start_year"]) if after_career else ("age 18", born + ACT_AGES[0] - 1)
            if a[key] <= first[1] or a[key] > PRESENT_YEAR or not ACT_AGES[0] <= a[key] - born <= ACT_AGES[1]:
                out.append(f"{name}: {label}: born {born}, {first[0]} {first[1]}, {label} {a[key]}")
    return out


@world_check("area")
def area(index: WorldIndex) -> list[str]:
    """A country's area exceeds that of its cities together."""
    return [f"{country[1]} ({country[2]['area_km2']:,} km2): its cities cover {total:,} km2"
            for country, total, _ in _cities_reaching_country(index, "area_km2")]


@world_check("river_navigable")
def river_navigable(index: WorldIndex) -> list[str]:
    """A river is navigable for less than its length."""
    return [f"{name}: navigable for {a['navigable_km']:,} of {a['length_km']:,} km"
            for _, name, a in index.of_type("river") if a["navigable_km"] >= a["length_km"]]


@world_check("distinct_values")
def distinct_values(index: WorldIndex) -> list[str]:
    """No two relations of an entity have the same value (a probe ending in one would be
    completed by the other too), and no entity links to itself."""
    return [f"{name}: {', '.join(a[SAME_VALUES])} share a value or link to it"
            for _, (t, name, a) in index.entities.items() if a.get(SAME_VALUES)]
