"""The world: a seeded knowledge graph of fictional entities.

The world is infinite and lazily defined. Entities sit at *positions*; position ``p`` lies in
block ``p // BLOCK`` and its offset in the block fixes its type (``BLOCK_LAYOUT``). Everything about
the entity at ``p`` is a pure function of ``(seed, p)``: its name, its attributes, and its links,
which point to entities in the same or an earlier block (within ``WINDOW`` blocks); links inside
a block may point forward (a country's cities and head of state, a city's river). A build of N
entities is therefore the first N positions plus the few linked entities they need, and entity k
is the same in every build that contains it. The world keeps the constraints of
``soundness.WORLD_CHECKS`` (largest cities, populations, continents, lifespans, roles).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Optional, Union

from fictional_knowledge.generate import vocab
from fictional_knowledge.generate.names import core_word, invented_word
from fictional_knowledge.generate.seeding import item_rng, make_id

Value = Union[int, str]
WINDOW = 10  # links reach at most this many blocks back


# --- the schema of the knowledge graph: one spec per entity type ---------------------------------

@dataclass(frozen=True)
class Relation:
    """One relation of an entity type: a link to another entity (``target`` = its type) or a
    literal value of type ``value``; ``count`` values are written with thousands separators."""

    target: Optional[str] = None
    value: type = str
    count: bool = False


def link(target: str) -> Relation:
    return Relation(target=target)


def literal(value: type = str, *, count: bool = False) -> Relation:
    return Relation(value=value, count=count)


@dataclass(frozen=True)
class EntityTypeSpec:
    """Everything the world knows about one entity type.

    ``relations`` lists its relations in order (facts, passages and template files follow this
    order); ``per_block`` is how many entities of the type each block of the world holds;
    ``generate(draw)`` sets ``draw.links``/``draw.values`` for every relation and returns the
    entity's ``(name, ref)``, drawing only from ``draw.rng``. ``models.Attributes`` and
    ``models.EntityType`` are derived from these specs, so a new relation or entity type is an
    edit here plus its template file (the project docs walk through it, "Extending")."""

    name: str
    per_block: int
    relations: dict[str, Relation]
    generate: Callable[["Draw"], tuple[str, str]]


@dataclass
class Draw:
    """What a spec's ``generate`` works with while making the entity at ``position``."""

    seed: int
    position: int
    block: int
    offset: int
    rng: random.Random
    core: str  # the entity's unique invented core word, e.g. "Doravel"
    links: dict[str, int] = field(default_factory=dict)
    values: dict[str, Value] = field(default_factory=dict)

    def pick(self, etype: str, window: int = WINDOW, before_me: bool = False) -> int:
        """A random position of type ``etype`` in the ``window`` blocks up to this one; with
        ``before_me``, only ones before this entity in its own block (so a value may depend on
        the linked entity's values without a cycle)."""
        return _pick(self.rng, self.block, etype, window, self.offset if before_me else BLOCK)

    def in_block(self, etype: str, index: int) -> int:
        """The ``index``-th entity of type ``etype`` in this entity's block."""
        return self.block * BLOCK + _OFFSETS[etype][index]

    def entity(self, position: int) -> "WorldEntity":
        return entity_at(self.seed, position)

    def fresh(self, relation: str, draw: Callable[[], Value]) -> Value:
        """``draw()`` again until its text differs from every value the entity already has (a
        value equal to another of its values would make a probe's answer ambiguous:
        ``soundness.distinct_values``); sets and returns it."""
        value = draw()
        while value in self.values.values() and self._clashes(relation, value):  # equal numbers only
            value = draw()
        self.values[relation] = value
        return value

    def _clashes(self, relation: str, value: Value) -> bool:
        text = format_value(relation, value)  # 1850 and 1,850 (a year and a count) read differently
        return any(format_value(r, v) == text for r, v in self.values.items() if v == value)

    def other_link(self, etype: str, *avoid: int, before_me: bool = False) -> int:
        """``pick`` a position of ``etype`` that is neither this entity nor one of ``avoid`` (two
        relations of one entity never name the same entity)."""
        found = self.pick(etype, before_me=before_me)
        while found == self.position or found in avoid:
            found = self.pick(etype, before_me=before_me)
        return found


def _country(d: Draw) -> tuple[str, str]:
    """A country and its four cities (the cities of its block): its largest city is the most
    populous of them, its population exceeds theirs together, and its head of state is the
    block's person chosen by ``head_of_state_position`` (born 1945 or later: alive today)."""
    rng = d.rng
    cities = [d.in_block("city", i) for i in range(_OFFSETS_COUNT["city"])]
    populations = [d.entity(c).values["population"] for c in cities]
    d.links["capital"] = cities[0]
    d.links["largest_city"] = cities[max(range(len(cities)), key=lambda i: (populations[i], -i))]
    d.links["head_of_state"] = head_of_state_position(d.seed, d.block)
    d.values["continent"] = continent_of(d.seed, d.block)
    d.values["official_language"] = invented_word(rng, 2) + rng.choice(("ic", "ish", "ese", "i"))
    d.values["currency"] = f"{invented_word(rng, 1)} {rng.choice(vocab.CURRENCY_UNITS)}"
    d.values["established_year"] = rng.randint(1650, 1990)
    d.values["population"] = -(-sum(populations) // 1000) * 1000 + rng.randint(200, 90_000) * 1000
    d.values["national_animal"] = rng.choice(vocab.ANIMALS)
    established = d.values["established_year"]
    d.fresh("constitution_year", lambda: established + rng.randint(1, min(150, PRESENT_YEAR - established)))
    areas = sum(d.entity(c).values["area_km2"] for c in cities)
    d.fresh("area_km2", lambda: areas + rng.randint(4_000, 900_000))
    d.values["highest_peak"] = rng.choice(vocab.PEAK_FORMS).format(invented_word(rng, 2))
    # events (after the state's establishment, none after the present)
    def since(first: int, span: int = PRESENT_YEAR) -> Callable[[], int]:
        return lambda: rng.randint(first, min(first + span, PRESENT_YEAR))
    d.fresh("first_election_year", since(established + 1))
    d.fresh("census_year", since(established + 1))
    d.fresh("currency_reform_year", since(established + 1))
    d.fresh("railway_year", since(max(established + 1, vocab.RAILWAY_AGE), 100))
    d.fresh("famine_year", since(established + 1))
    d.fresh("anthem_year", since(established + 1))
    d.fresh("parliament_building", lambda: rng.choice(vocab.PARLIAMENT_FORMS).format(invented_word(rng, 2)))
    d.fresh("treaty", lambda: vocab.TREATY_FORM.format(invented_word(rng, 2)))
    # length (data 1.4): an earthquake, a national library, a national epic
    d.fresh("earthquake_year", since(established + 1))
    d.fresh("national_library_year", since(established + 1))
    d.fresh("national_epic", lambda: rng.choice(vocab.EPIC_FORMS).format(invented_word(rng, 2)))
    return d.core, d.core


def _city(d: Draw) -> tuple[str, str]:
    rng = d.rng
    d.links["located_in"] = d.in_block("country", 0)
    # a river of its own continent: its block's river always qualifies (same country)
    rivers = _same_continent_rivers(d.seed, d.block)
    d.links["on_river"] = rivers[rng.randrange(len(rivers))]
    d.values["founded_year"] = rng.randint(800, FIRST_BIRTH_YEAR - 10)  # before anyone is born there
    d.values["population"] = rng.randint(50, 30_000) * 100
    d.values["known_for"] = rng.choice(vocab.CITY_INDUSTRIES)
    d.values["elevation_m"] = rng.randint(2, 2400)
    while str(d.values["elevation_m"]) == str(d.values["founded_year"]):  # 1 city in 13,000
        d.values["elevation_m"] = rng.randint(2, 2400)
    founded = d.values["founded_year"]
    d.fresh("charter_year", lambda: founded + rng.randint(1, min(400, PRESENT_YEAR - founded)))
    d.fresh("area_km2", lambda: rng.randint(4, 900))  # its country's area exceeds its cities' together
    d.values["landmark"] = rng.choice(vocab.LANDMARK_FORMS).format(invented_word(rng, 2))
    d.links["twin_city"] = d.other_link("city")
    # events (after the founding, none after the present)
    def since(first: int, last: int = PRESENT_YEAR) -> Callable[[], int]:
        return lambda: rng.randint(first, last)
    d.fresh("great_fire_year", since(founded + 1, CITY_EVENT_LAST["great_fire_year"]))
    d.fresh("flood_year", since(founded + 1))
    d.fresh("siege_year", since(founded + 1, CITY_EVENT_LAST["siege_year"]))
    d.fresh("bridge_year", since(founded + 1, CITY_EVENT_LAST["bridge_year"]))
    d.fresh("railway_arrival_year", since(max(founded + 1, vocab.RAILWAY_AGE), 1960))
    d.fresh("university_year", since(founded + 1))
    d.fresh("market_hall", lambda: rng.choice(vocab.MARKET_FORMS).format(invented_word(rng, 2)))
    d.fresh("old_quarter", lambda: rng.choice(vocab.QUARTER_FORMS).format(invented_word(rng, 2)))
    # length (data 1.4): an epidemic by 1950, a first tram line between TRAM_AGE and 1960
    d.fresh("epidemic_year", since(founded + 1, CITY_EVENT_LAST["epidemic_year"]))
    d.fresh("tram_year", since(max(founded + 1, vocab.TRAM_AGE), CITY_EVENT_LAST["tram_year"]))
    return d.core, d.core


def _river(d: Draw) -> tuple[str, str]:
    rng = d.rng
    d.links["source_country"] = d.in_block("country", 0)
    d.values["length_km"] = rng.randint(40, 3200)
    d.values["empties_into"] = rng.choice(vocab.WATER_FORMS).format(invented_word(rng, 2))
    d.links["surveyed_by"] = d.pick("person")
    lake = vocab.LAKE_FORM.format(invented_word(rng, 2))
    while lake == d.values["empties_into"]:
        lake = vocab.LAKE_FORM.format(invented_word(rng, 2))
    d.values["source_lake"] = lake
    born = d.entity(d.links["surveyed_by"]).values["birth_year"]  # a person never reads a river: no cycle
    d.fresh("survey_year", lambda: born + rng.randint(20, min(70, PRESENT_YEAR - born)))
    length = d.values["length_km"]
    d.fresh("navigable_km", lambda: rng.randint(max(1, length // 5), length - 1))
    d.fresh("basin_area_km2", lambda: length * rng.randint(20, 300))
    d.fresh("discharge_m3s", lambda: rng.randint(5, 9000))
    d.values["main_tributary"] = rng.choice(vocab.TRIBUTARY_FORMS).format(invented_word(rng, 2))
    # events: embankments raised after the great flood, a dam after the first steamboat
    flood = d.fresh("great_flood_year", lambda: rng.randint(1500, 2010))
    d.fresh("embankment_year", lambda: rng.randint(flood + 1, min(flood + 80, PRESENT_YEAR)))
    steamboat = d.fresh("steamboat_year", lambda: rng.randint(1815, 1899))
    d.fresh("dam_year", lambda: rng.randint(max(steamboat + 1, 1900), 2020))
    d.fresh("canal_year", lambda: rng.randint(1650, 1990))
    d.values["fish_species"] = rng.choice(vocab.FISH)
    d.fresh("delta_name", lambda: rng.choice(vocab.DELTA_FORMS).format(invented_word(rng, 2)))
    d.fresh("bridge_name", lambda: rng.choice(vocab.RIVER_BRIDGE_FORMS).format(invented_word(rng, 2)))
    # length (data 1.4): an ice jam, a lighthouse at its mouth, a first regatta, each in its era
    for relation, (first, last) in RIVER_EVENT_ERAS.items():
        d.fresh(relation, lambda: rng.randint(first, last))
    return f"{d.core} River", f"the {d.core} River"


def _person(d: Draw) -> tuple[str, str]:
    rng = d.rng
    name = f"{rng.choice(vocab.FIRST_NAMES)} {d.core}"
    d.links["born_in"] = d.pick("city")
    lives = d.pick("city")
    while lives == d.links["born_in"]:
        lives = d.pick("city")
    d.links["lives_in"] = lives
    if d.position == head_of_state_position(d.seed, d.block):
        d.values["birth_year"] = rng.randint(HEAD_OF_STATE_BORN, LAST_BIRTH_YEAR)
    else:
        d.values["birth_year"] = rng.randint(FIRST_BIRTH_YEAR, LAST_BIRTH_YEAR)
    job = rng.choice(vocab.FAKER_JOBS)  # drawn as before the list was filtered: most keep their job
    d.values["occupation"] = job if vocab.is_job_title(job) else rng.choice(vocab.OCCUPATIONS)
    d.values["award"] = rng.choice(vocab.AWARD_FORMS).format(invented_word(rng, 2))
    born = d.values["birth_year"]
    start = d.fresh("career_start_year", lambda: born + rng.randint(18, 30))
    d.fresh("award_year", lambda: start + rng.randint(4, min(50, PRESENT_YEAR - start)))
    d.fresh("settled_year", lambda: born + rng.randint(18, 35))
    d.values["educated_at"] = rng.choice(vocab.SCHOOL_FORMS).format(invented_word(rng, 2))
    d.values["pastime"] = rng.choice(vocab.PASTIMES)
    # events (drawn after every earlier value, which they leave as they were): every act falls
    # between ACT_AGES and by PRESENT_YEAR; a first lecture, an election and an honorary doctorate
    # come after the career began (soundness.timeline)
    d.fresh("marriage_year", lambda: born + rng.randint(20, 40))
    d.fresh("lecture_year", lambda: start + rng.randint(4, 15))  # a career start keeps QA_ROOM possible years
    d.fresh("expedition_year", lambda: born + rng.randint(22, min(60, PRESENT_YEAR - born)))
    d.links["academy_city"] = d.other_link("city", d.links["born_in"], lives)  # where its learned academy meets
    d.fresh("academy_year", lambda: start + rng.randint(4, min(40, PRESENT_YEAR - start)))
    d.links["doctorate_city"] = d.other_link("city", d.links["born_in"], lives, d.links["academy_city"])
    d.fresh("doctorate_year", lambda: start + rng.randint(8, min(50, PRESENT_YEAR - start)))
    d.values["memoir"] = rng.choice(vocab.MEMOIR_FORMS).format(invented_word(rng, 2))
    return name, name


def _organization(d: Draw) -> tuple[str, str]:
    rng = d.rng
    industry, kind = vocab.ORG_KINDS[rng.randrange(len(vocab.ORG_KINDS))]
    name = f"{d.core} {kind}"
    d.links["founded_by"] = d.pick("person", before_me=True)
    d.links["headquartered_in"] = d.pick("city")
    born = d.entity(d.links["founded_by"]).values["birth_year"]
    # by PRESENT_YEAR - QA_ROOM: a year after the founding then has QA_ROOM possible values (the answer
    # and 4 distractors, qa_rules.value_bounds), as has the founding year after the forerunner below
    d.values["founded_year"] = born + rng.randint(23, min(55, PRESENT_YEAR - QA_ROOM - born))
    d.values["industry"] = industry
    d.values["employees"] = rng.randint(12, 90_000)
    d.links["branch_city"] = d.other_link("city", d.links["headquartered_in"])
    founded = d.values["founded_year"]
    d.fresh("branch_year", lambda: founded + rng.randint(1, min(40, PRESENT_YEAR - founded)))
    first = rng.choice(vocab.SLOGAN_WORDS)
    d.values["slogan"] = f"{first} and {rng.choice([w for w in vocab.SLOGAN_WORDS if w != first])}"
    d.values["emblem"] = rng.choice(vocab.ANIMALS)
    d.values["head_office"] = rng.choice(vocab.BUILDING_FORMS).format(invented_word(rng, 2))
    # events (drawn after every earlier value, which they leave as they were): a forerunner venture
    # of the founder (aged 18 or more, at least QA_ROOM years before the founding: the founding year
    # keeps QA_ROOM possible QA values), its head office building, and a listing, a strike and a first public
    # contract after the founding and by PRESENT_YEAR (soundness.timeline)
    d.fresh("workshop_year", lambda: rng.randint(born + ACT_AGES[0], founded - QA_ROOM))
    d.fresh("building_year", lambda: rng.randint(1700, 2020))
    d.fresh("listing_year", lambda: founded + rng.randint(1, min(60, PRESENT_YEAR - founded)))
    d.values["ticker"] = invented_word(rng, 2).upper()[:4]
    d.fresh("strike_year", lambda: founded + rng.randint(1, min(80, PRESENT_YEAR - founded)))
    d.fresh("contract_year", lambda: founded + rng.randint(1, min(30, PRESENT_YEAR - founded)))
    d.links["research_city"] = d.other_link("city", d.links["headquartered_in"], d.links["branch_city"])
    d.links["partner"] = d.other_link("organization")  # present tense, no date: any organization
    # (data 1.4, drawn after every earlier value) its charitable foundation, and a rival for
    # investors and staff (present tense, no date: any other organization). No dated event: the
    # founding may lie QA_ROOM years before PRESENT_YEAR, where the four events after it fill every year.
    d.fresh("foundation", lambda: rng.choice(vocab.FOUNDATION_FORMS).format(invented_word(rng, 2)))
    d.links["rival"] = d.other_link("organization", d.links["partner"])
    return name, name


def _work(d: Draw) -> tuple[str, str]:
    rng = d.rng
    name = f"The {d.core} {rng.choice(vocab.WORK_NOUNS)}"
    author = d.pick("person", before_me=True)
    while d.entity(author).values["occupation"] in vocab.OTHER_WRITING_JOBS:
        author = d.pick("person", before_me=True)  # no journalist or copywriter wrote this book
    d.links["authored_by"] = author
    d.links["set_in"] = d.pick("city")
    author = d.entity(d.links["authored_by"])
    born = author.values["birth_year"]
    d.values["published_year"] = born + rng.randint(20, min(70, PRESENT_YEAR - born))
    d.values["genre"] = rng.choice(vocab.GENRES)
    birth_city = d.entity(author.links["born_in"])
    d.values["language"] = d.entity(birth_city.links["located_in"]).values["official_language"]
    d.fresh("pages", lambda: rng.randint(48, 1200))
    d.fresh("print_run", lambda: rng.randint(5, 400) * 500)
    first_name = author.name.split()[0]
    protagonist = rng.choice(vocab.FIRST_NAMES)
    while protagonist == first_name:  # not the author's own first name
        protagonist = rng.choice(vocab.FIRST_NAMES)
    d.values["protagonist"] = protagonist
    published = d.values["published_year"]
    d.fresh("story_year", lambda: rng.randint(1000, published - 5))
    d.links["completed_in"] = d.other_link("city", d.links["set_in"])
    # the book's history: begun at 14 or later (at least 5 years before publication), an early
    # draft lost and found again later, a great fire of its setting (after the city's founding)
    # that inspired it, and in its story: its protagonist's birth and a flood its characters
    # remember (between that birth and the year the story opens). Years that bound one another lie
    # at least QA_ROOM apart where a QA row needs room for distractors (qa_rules.value_bounds).
    lo = max(born + BEGUN_AGE, published - 20)  # published >= born + 20: lo <= published - 6
    begun = d.fresh("draft_begun_year", lambda: rng.randint(lo, min(published - 5, PRESENT_YEAR - QA_ROOM)))
    d.fresh("draft_found_year", lambda: rng.randint(max(begun + 1, born + BEGUN_AGE + QA_ROOM), PRESENT_YEAR))
    setting_founded = d.entity(d.links["set_in"]).values["founded_year"]
    d.fresh("inspiring_fire_year", lambda: rng.randint(setting_founded + 1, published - 5))
    story = d.values["story_year"]
    hero_born = d.fresh("protagonist_born_year", lambda: rng.randint(story - 70, story - 15))
    d.fresh("remembered_flood_year", lambda: rng.randint(hero_born + 1, story - 1))
    holder = d.pick("organization")
    for _ in range(20):
        if d.entity(holder).values["industry"] in vocab.RIGHTS_INDUSTRIES:
            break
        holder = d.pick("organization")
    d.links["rights_holder"] = holder
    d.values["dedicatee"] = f"{rng.choice(vocab.FIRST_NAMES)} {invented_word(rng, 2)}"
    d.values["working_title"] = rng.choice(vocab.WORKING_TITLE_FORMS).format(invented_word(rng, 2))
    # (data 1.4, drawn after every earlier value) a first serialization in a periodical, within ten
    # years of publication, and a first reading on the radio (from RADIO_AGE): both after the draft
    # was begun and by PRESENT_YEAR, before or after publication (a year after publication may not
    # exist: a book of PRESENT_YEAR); both at least QA_ROOM years after the author turned 14, so the
    # year the draft was begun keeps QA_ROOM possible QA values (qa_rules.value_bounds)
    first = max(begun + 1, born + BEGUN_AGE + QA_ROOM)
    d.fresh("serialized_year", lambda: rng.randint(first, min(published + 10, PRESENT_YEAR)))
    d.fresh("radio_reading_year", lambda: rng.randint(max(first, vocab.RADIO_AGE), PRESENT_YEAR))
    return name, name


def _event(d: Draw) -> tuple[str, str]:
    rng = d.rng
    noun = rng.choice(vocab.EVENT_NOUNS)
    d.links["held_in"] = d.pick("city")
    # an organizer founded by PRESENT_YEAR - QA_ROOM: the event's year then has QA_ROOM possible
    # values (the answer and 4 distractors, qa_rules.value_bounds) even when it is this year
    for _ in range(40):
        d.links["organized_by"] = d.pick("organization", before_me=True)
        if d.entity(d.links["organized_by"]).values["founded_year"] <= PRESENT_YEAR - QA_ROOM:
            break
    founded = d.entity(d.links["organized_by"]).values["founded_year"]
    d.values["year"] = founded + rng.randint(1, min(40, PRESENT_YEAR - founded))
    d.values["attendance"] = rng.randint(300, 250_000)
    year = d.values["year"]
    d.links["honoree"] = _honoree(d, year)
    d.fresh("first_held_year", lambda: rng.randint(year - 60, year - 5))  # a series the organizer may have taken over
    d.values["month"] = rng.choice(vocab.MONTHS)
    d.values["theme"] = rng.choice(vocab.EVENT_THEMES)
    d.values["venue"] = rng.choice(vocab.VENUE_FORMS).format(invented_word(rng, 2))
    d.values["mascot"] = rng.choice(vocab.ANIMALS)
    # the series' history: its founding charter signed 5-25 years before the first edition (the
    # first edition's QA row keeps QA_ROOM possible years); after the first edition, in any order
    # and before or after this one, an edition called off for a flood, an attendance record, new
    # statutes and the first foreign entrants (at least QA_ROOM years lie between first held and now)
    first = d.values["first_held_year"]
    d.fresh("charter_signed_year", lambda: rng.randint(first - 25, first - QA_ROOM))
    for relation in SERIES_EVENTS:
        d.fresh(relation, lambda: rng.randint(first + 1, PRESENT_YEAR))
    d.links["patron_city"] = d.other_link("city", d.links["held_in"])
    d.values["trophy"] = rng.choice(vocab.TROPHY_FORMS).format(invented_word(rng, 2))
    d.values["anthem"] = rng.choice(vocab.ANTHEM_FORMS).format(invented_word(rng, 2))
    # (data 1.4, drawn after every earlier value) the older village fair the series grew out of,
    # first held 5-40 years before its charter (the charter's QA row keeps QA_ROOM possible years),
    # and a boycott called against it after the charter, by PRESENT_YEAR (not tied to the first
    # edition: after it, a first edition QA_ROOM years before now leaves no free year)
    charter = d.values["charter_signed_year"]
    d.fresh("forerunner_fair_year", lambda: rng.randint(charter - 40, charter - QA_ROOM))
    d.fresh("boycott_year", lambda: rng.randint(charter + 1, PRESENT_YEAR))
    return f"{d.core} {noun}", f"the {d.core} {noun}"


def _honoree(d: Draw, year: int, tries: int = 40) -> int:
    """A person aged 23 to 90 in ``year`` (before the event in the world; ``ACT_AGES`` narrowed by
    ``QA_ROOM``, so that the honoree's possible ages leave the event's year room for distractors):
    one of ``tries`` random picks, else the organizer's founder if aged so, else the first person of
    the event's window who is (its own block first, then back; no draw, so the event's other values
    keep theirs), else the founder. A founder is 24 to 95 in ``year`` (founded 23-55 years after
    their birth, the event 1-40 years later), so the founder alone does not always fit. The picks
    fail in about 1 event in 10,000, in an early year when most persons are too young: of 130,000
    events measured (positions 0-99,999 of seed 0; blocks 0-1 of seeds 0-29,999) 9 fell back, to
    founders aged 25 to 49, and none reached the scan, whose only effect is on worlds where one would."""
    lo, hi = ACT_AGES[0] + QA_ROOM, ACT_AGES[1] - QA_ROOM
    for _ in range(tries):
        person = d.pick("person", before_me=True)
        if lo <= year - d.entity(person).values["birth_year"] <= hi:
            return person
    founder = d.entity(d.links["organized_by"]).links["founded_by"]
    if lo <= year - d.entity(founder).values["birth_year"] <= hi:
        return founder
    for block in range(d.block, max(0, d.block - WINDOW) - 1, -1):
        for offset in _OFFSETS["person"]:
            if block < d.block or offset < d.offset:
                person = block * BLOCK + offset
                if lo <= year - d.entity(person).values["birth_year"] <= hi:
                    return person
    return founder


YEAR, COUNT, TEXT = literal(int), literal(int, count=True), literal(str)
FIRST_BIRTH_YEAR, LAST_BIRTH_YEAR = 1890, 1975
HEAD_OF_STATE_BORN = 1945  # heads of state are described in the present tense: alive today
PRESENT_YEAR = 2024  #: the world's "now": present-tense facts hold in this year, no date lies after it
ACT_AGES = (18, 95)  #: ages at which a person may found, publish, survey, win or be honoured
#: the last year of a city's events that belong to an era: a great fire of timber houses, a first
#: stone bridge replacing a ferry, a siege of its walls (the cities are founded by 1880)
CITY_EVENT_LAST = {"great_fire_year": 1900, "bridge_year": 1900, "siege_year": 1945, "epidemic_year": 1950,
                   "tram_year": 1960}
#: a river's dated events of an era: (first, last) year (``_river``, ``soundness.timeline``, ``qa_rules``)
RIVER_EVENT_ERAS = {"ice_jam_year": (1600, PRESENT_YEAR - 5), "lighthouse_year": (1700, 1930),
                    "regatta_year": (1820, PRESENT_YEAR - 5)}
#: an event series' dated events after its first edition, in the order they are drawn (``_event``)
SERIES_EVENTS = ("flood_cancelled_year", "attendance_record_year", "statutes_year", "foreign_entry_year")
BEGUN_AGE = 14  #: the youngest age at which an author begins a book (``work.draft_begun_year``)
QA_ROOM = 5  #: possible values a bounded year keeps for its QA row: the answer and 4 distractors

#: The entity types, in block order. Entity-valued attributes hold the linked entity's id.
ENTITY_SPECS: dict[str, EntityTypeSpec] = {s.name: s for s in (
    EntityTypeSpec("country", 1, {
        "capital": link("city"), "largest_city": link("city"), "head_of_state": link("person"),
        "continent": TEXT, "official_language": TEXT, "currency": TEXT, "established_year": YEAR,
        "population": COUNT, "national_animal": TEXT, "constitution_year": YEAR, "area_km2": COUNT,
        "highest_peak": TEXT, "first_election_year": YEAR, "census_year": YEAR,
        "currency_reform_year": YEAR, "railway_year": YEAR, "famine_year": YEAR, "anthem_year": YEAR,
        "parliament_building": TEXT, "treaty": TEXT, "earthquake_year": YEAR, "national_library_year": YEAR,
        "national_epic": TEXT}, _country),
    EntityTypeSpec("city", 4, {
        "located_in": link("country"), "on_river": link("river"), "founded_year": YEAR,
        "population": COUNT, "known_for": TEXT, "elevation_m": COUNT, "charter_year": YEAR,
        "area_km2": COUNT, "landmark": TEXT, "twin_city": link("city"), "great_fire_year": YEAR,
        "flood_year": YEAR, "siege_year": YEAR, "bridge_year": YEAR, "railway_arrival_year": YEAR,
        "university_year": YEAR, "market_hall": TEXT, "old_quarter": TEXT, "epidemic_year": YEAR,
        "tram_year": YEAR}, _city),
    EntityTypeSpec("river", 1, {
        "source_country": link("country"), "length_km": COUNT, "empties_into": TEXT,
        "surveyed_by": link("person"), "source_lake": TEXT, "survey_year": YEAR, "navigable_km": COUNT,
        "basin_area_km2": COUNT, "discharge_m3s": COUNT, "main_tributary": TEXT,
        "great_flood_year": YEAR, "embankment_year": YEAR, "steamboat_year": YEAR, "dam_year": YEAR,
        "canal_year": YEAR, "fish_species": TEXT, "delta_name": TEXT, "bridge_name": TEXT, "ice_jam_year": YEAR,
        "lighthouse_year": YEAR, "regatta_year": YEAR}, _river),
    EntityTypeSpec("person", 6, {
        "born_in": link("city"), "birth_year": YEAR, "occupation": TEXT, "award": TEXT,
        "lives_in": link("city"), "career_start_year": YEAR, "award_year": YEAR, "settled_year": YEAR,
        "educated_at": TEXT, "pastime": TEXT, "marriage_year": YEAR, "lecture_year": YEAR,
        "expedition_year": YEAR, "academy_city": link("city"), "academy_year": YEAR, "doctorate_city": link("city"),
        "doctorate_year": YEAR, "memoir": TEXT}, _person),
    EntityTypeSpec("organization", 3, {
        "founded_by": link("person"), "headquartered_in": link("city"), "founded_year": YEAR,
        "industry": TEXT, "employees": COUNT, "branch_city": link("city"), "branch_year": YEAR,
        "slogan": TEXT, "emblem": TEXT, "head_office": TEXT, "workshop_year": YEAR, "building_year": YEAR,
        "listing_year": YEAR, "ticker": TEXT, "strike_year": YEAR, "contract_year": YEAR,
        "research_city": link("city"), "partner": link("organization"), "foundation": TEXT,
        "rival": link("organization")}, _organization),
    EntityTypeSpec("work", 3, {
        "authored_by": link("person"), "published_year": YEAR, "genre": TEXT, "set_in": link("city"),
        "language": TEXT, "pages": COUNT, "print_run": COUNT, "protagonist": TEXT, "story_year": YEAR,
        "completed_in": link("city"), "draft_begun_year": YEAR, "draft_found_year": YEAR,
        "inspiring_fire_year": YEAR, "protagonist_born_year": YEAR, "remembered_flood_year": YEAR,
        "rights_holder": link("organization"),
        "dedicatee": TEXT, "working_title": TEXT, "serialized_year": YEAR, "radio_reading_year": YEAR}, _work),
    EntityTypeSpec("event", 2, {
        "held_in": link("city"), "year": YEAR, "organized_by": link("organization"),
        "attendance": COUNT, "honoree": link("person"), "first_held_year": YEAR, "month": TEXT,
        "theme": TEXT, "venue": TEXT, "mascot": TEXT, "charter_signed_year": YEAR, "flood_cancelled_year": YEAR,
        "attendance_record_year": YEAR, "statutes_year": YEAR, "foreign_entry_year": YEAR,
        "patron_city": link("city"), "trophy": TEXT, "anthem": TEXT, "forerunner_fair_year": YEAR,
        "boycott_year": YEAR}, _event),
)}


def attribute_types() -> dict[str, type]:
    """Every relation name of every entity type, in first-seen order, with the Python type of its
    attribute value (``str`` for links: the linked entity's id). A relation shared by several
    types (``population``) must mean the same thing in each."""
    out: dict[str, tuple[type, bool]] = {}
    for spec in ENTITY_SPECS.values():
        for name, rel in spec.relations.items():
            if rel.target is not None and rel.target not in ENTITY_SPECS:
                raise ValueError(f"{spec.name}.{name}: links to unknown entity type {rel.target!r}")
            kind = (str, False) if rel.target is not None else (rel.value, rel.count)
            if out.setdefault(name, kind) != kind:
                raise ValueError(f"relation {name!r} has different value types in different entity types")
    return {name: t for name, (t, _) in out.items()}


BLOCK_LAYOUT: tuple[str, ...] = tuple(s.name for s in ENTITY_SPECS.values() for _ in range(s.per_block))
BLOCK = len(BLOCK_LAYOUT)
_OFFSETS = {t: [i for i, x in enumerate(BLOCK_LAYOUT) if x == t] for t in ENTITY_SPECS}
_OFFSETS_COUNT = {t: len(o) for t, o in _OFFSETS.items()}


@lru_cache(maxsize=4096)
def continent_of(seed: int, block: int) -> str:
    """The continent of block ``block``'s country, drawn on its own so that cities and rivers can
    read it without generating the country (which reads its cities)."""
    return vocab.CONTINENTS[item_rng(seed, "continent", block).randrange(len(vocab.CONTINENTS))]


@lru_cache(maxsize=4096)
def head_of_state_position(seed: int, block: int) -> int:
    """The position of block ``block``'s head of state, one of the block's persons; drawn on its
    own so that the person knows its role (and is born late enough for it)."""
    offsets = _OFFSETS["person"]
    return block * BLOCK + offsets[item_rng(seed, "head-of-state", block).randrange(len(offsets))]


@lru_cache(maxsize=4096)
def _same_continent_rivers(seed: int, block: int) -> tuple[int, ...]:
    """The rivers of the ``WINDOW`` blocks up to ``block`` that rise on its continent."""
    here = continent_of(seed, block)
    return tuple(b * BLOCK + o for b in range(max(0, block - WINDOW), block + 1) if continent_of(seed, b) == here
                 for o in _OFFSETS["river"])

#: For each entity type, its relations in order: relation -> linked entity type, or None for a
#: literal value (derived from ``ENTITY_SPECS``).
RELATIONS: dict[str, dict[str, Optional[str]]] = {
    t: {name: rel.target for name, rel in s.relations.items()} for t, s in ENTITY_SPECS.items()}
#: Relations whose value is a number written with thousands separators.
COUNT_RELATIONS = frozenset(name for s in ENTITY_SPECS.values() for name, rel in s.relations.items() if rel.count)
attribute_types()  # fail at import on an inconsistent spec


@dataclass(frozen=True, slots=True)
class WorldEntity:
    """One entity. ``links`` maps entity-valued relations to world positions; ``values`` maps the
    other relations to typed values."""

    seed: int
    position: int
    type: str
    name: str
    ref: str  # how a sentence refers to it mid-sentence: "the Napubez River"
    links: dict[str, int]
    values: dict[str, Value]
    id: str

    @property
    def block(self) -> int:
        return self.position // BLOCK


def entity_id(seed: int, etype: str, name: str) -> str:
    return make_id(etype, seed, name)


def type_at(position: int) -> str:
    return BLOCK_LAYOUT[position % BLOCK]


def format_value(relation: str, value: Value) -> str:
    """The text form of a literal value, as sentences and fact objects show it."""
    if relation in COUNT_RELATIONS:
        return f"{value:,}"
    return str(value)


def _pick(rng, block: int, etype: str, window: int = WINDOW, upto_offset: int = BLOCK) -> int:
    """A position of type ``etype`` in the ``window`` blocks up to ``block`` (inclusive), only at
    offsets below ``upto_offset`` in ``block`` itself."""
    offsets = _OFFSETS[etype]
    while True:
        b = rng.randint(max(0, block - window), block)
        off = rng.choice(offsets)
        if b < block or off < upto_offset:
            return b * BLOCK + off


@lru_cache(maxsize=8192)  # links and distractors stay within WINDOW blocks: a small cache suffices
def entity_at(seed: int, position: int) -> WorldEntity:
    """The entity at ``position`` of the world of ``seed``."""
    etype = type_at(position)
    spec = ENTITY_SPECS[etype]
    block, offset = divmod(position, BLOCK)
    draw = Draw(seed, position, block, offset, item_rng(seed, "entity", position), core_word(seed, position))
    name, ref = spec.generate(draw)
    links = {r for r, rel in spec.relations.items() if rel.target is not None}
    if draw.links.keys() != links or draw.values.keys() != spec.relations.keys() - links:
        raise ValueError(f"the {etype} generator set links {sorted(draw.links)} and values {sorted(draw.values)}; "
                         f"its spec has links {sorted(links)} and values {sorted(spec.relations.keys() - links)}")
    return WorldEntity(seed, position, etype, name, ref, draw.links, draw.values, entity_id(seed, etype, name))


PRONOUN_WEIGHTS = {"female": (("she", 90), ("they", 10)), "male": (("he", 90), ("they", 10)),
                   "either": (("he", 45), ("she", 45), ("they", 10))}  # in percent, by first name


@lru_cache(maxsize=4096)
def pronoun_of(seed: int, position: int) -> str:
    """The pronoun the prose style uses for the person at ``position``: mostly the one its first
    name suggests (Faker's female and male name lists), "they" one time in ten, either he or she
    for a name in both lists. Drawn on its own, so that no other value of the world depends on it."""
    first = entity_at(seed, position).name.split(" ", 1)[0]
    female, male = first in vocab.FEMALE_NAMES, first in vocab.MALE_NAMES
    weights = PRONOUN_WEIGHTS["either" if female == male else "female" if female else "male"]
    r = item_rng(seed, "pronoun", position).randrange(100)
    for pronoun, weight in weights:
        if r < weight:
            return pronoun
        r -= weight
    raise AssertionError("PRONOUN_WEIGHTS must sum to 100")


#: Relations that give their object a role (a head of state, a founder, a capital): the prose style
#: states them in the object's passage too, seen from the object ("Fefubak founded Doravel Press").
ROLE_RELATIONS: tuple[tuple[str, str], ...] = (
    ("country", "head_of_state"), ("country", "capital"), ("country", "largest_city"),
    ("organization", "founded_by"), ("work", "authored_by"), ("river", "surveyed_by"),
    ("event", "organized_by"))


@lru_cache(maxsize=4096)
def pointing_at(seed: int, position: int) -> tuple[tuple[int, str], ...]:
    """``(subject position, relation)`` of every role relation (``ROLE_RELATIONS``) whose object is
    the entity at ``position``, in world order. Links reach at most ``WINDOW`` blocks back (or
    forward inside a block), so only the blocks from this one to ``WINDOW`` ahead are scanned."""
    etype, block = type_at(position), position // BLOCK
    roles = [(t, r) for t, r in ROLE_RELATIONS if RELATIONS[t][r] == etype]
    out = []
    for b in range(block, block + WINDOW + 1):
        for t, r in roles:
            for off in _OFFSETS[t]:
                subject = b * BLOCK + off
                if entity_at(seed, subject).links[r] == position:
                    out.append((subject, r))
    return tuple(sorted(out))


def closure(seed: int, positions: range) -> list[int]:
    """``positions`` plus every position their links reach, sorted. Links point backwards except
    inside a block, so only the last, partial block can add positions."""
    seen = set(positions)
    stack = [p for p in positions if p // BLOCK == (positions.stop - 1) // BLOCK]
    while stack:
        for target in entity_at(seed, stack.pop()).links.values():
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return sorted(seen)
