"""World constraints (issue 11, item 0): each check finds a planted violation, and the world keeps
every constraint over 100k entities."""

from __future__ import annotations

import copy

import pytest

from fictional_knowledge.generate.soundness import WORLD_CHECKS, WorldIndex, world_index, world_violations
from fictional_knowledge.generate.world import BLOCK, PRESENT_YEAR

SMALL = range(0, 30 * BLOCK)


@pytest.fixture(scope="module")
def small_index() -> WorldIndex:
    return world_index(0, SMALL)


def _first(index: WorldIndex, etype: str, where=lambda a: True) -> tuple[str, dict]:
    return next((eid, attrs) for eid, (t, _, attrs) in index.entities.items() if t == etype and where(attrs))


def _plant_largest_city(index):
    cid, attrs = _first(index, "city", lambda a: index.get(index.get(a["located_in"])[2]["largest_city"])[2] is not a)
    index.get(attrs["located_in"])[2]["largest_city"] = cid  # a smaller city called the largest


def _plant_city_population(index):
    country_id, attrs = _first(index, "country")
    largest = index.get(attrs["largest_city"])[2]["population"]
    attrs["population"] = largest  # a city as big as its whole country


def _plant_river_continent(index):
    cid, attrs = _first(index, "city")
    here = index.get(attrs["located_in"])[2]["continent"]
    other = next(eid for eid, (t, _, a) in index.entities.items()
                 if t == "river" and index.get(a["source_country"])[2]["continent"] != here)
    attrs["on_river"] = other


def _plant_lifespan(index):
    _, attrs = _first(index, "river")  # (a book's publication also orders its drafts: timeline)
    attrs["survey_year"] = index.get(attrs["surveyed_by"])[2]["birth_year"] + 5  # a five-year-old surveyor


def _plant_head_of_state_age(index):
    _, attrs = _first(index, "country")
    index.get(attrs["head_of_state"])[2]["birth_year"] = 1944  # a year too early


def _plant_author_occupation(index):
    _, attrs = _first(index, "work")
    index.get(attrs["authored_by"])[2]["occupation"] = "newspaper journalist"


def _plant_timeline(index):
    _, attrs = _first(index, "person")
    attrs["award_year"] = attrs["career_start_year"] - 1  # an award before the career began


def _plant_area(index):
    _, attrs = _first(index, "city")
    attrs["area_km2"] = index.get(attrs["located_in"])[2]["area_km2"]  # a city as large as its country


def _plant_river_navigable(index):
    _, attrs = _first(index, "river")
    attrs["navigable_km"] = attrs["length_km"] + 1


def _plant_distinct_values(index):
    from fictional_knowledge.generate.soundness import same_values

    eid, (_, name, attrs) = next((eid, e) for eid, e in index.entities.items() if e[0] == "organization")
    row = {"founded_by": attrs["founded_by"], "headquartered_in": "city-1", "branch_city": "city-1"}
    attrs.update({"_same_values": same_values(eid, row)})  # as ``WorldIndex.add`` finds for such a row


PLANTS = {
    "largest_city": _plant_largest_city,
    "city_population": _plant_city_population,
    "river_continent": _plant_river_continent,
    "lifespan": _plant_lifespan,
    "head_of_state_age": _plant_head_of_state_age,
    "author_occupation": _plant_author_occupation,
    "timeline": _plant_timeline,
    "area": _plant_area,
    "river_navigable": _plant_river_navigable,
    "distinct_values": _plant_distinct_values,
}


def _born(index, lo, hi):
    return _first(index, "person", lambda a: lo <= a["birth_year"] <= hi)[1]


#: Events of persons and organizations (issue 11, item 2): each plant breaks one rule of
#: ``timeline`` once (a date before what it follows, at an impossible age, or after the present).
PERSON_ORGANIZATION_PLANTS = {
    "lecture at the career start": lambda ix: _born(ix, 1890, 1975).update(
        lecture_year=_born(ix, 1890, 1975)["career_start_year"]),
    "academy election before the career": lambda ix: _born(ix, 1890, 1975).update(
        academy_year=_born(ix, 1890, 1975)["career_start_year"] - 1),
    "honorary doctorate after the present": lambda ix: _born(ix, 1935, 1975).update(doctorate_year=PRESENT_YEAR + 1),
    "married at 17": lambda ix: _born(ix, 1890, 1975).update(marriage_year=_born(ix, 1890, 1975)["birth_year"] + 17),
    "expedition at 96": lambda ix: _born(ix, 1890, 1920).update(
        expedition_year=_born(ix, 1890, 1920)["birth_year"] + 96),
    "listed in its founding year": lambda ix: _org(ix).update(listing_year=_org(ix)["founded_year"]),
    "strike after the present": lambda ix: _org(ix).update(strike_year=PRESENT_YEAR + 1),
    "first contract before the founding": lambda ix: _org(ix).update(contract_year=_org(ix)["founded_year"] - 1),
    "forerunner after the founding": lambda ix: _org(ix).update(workshop_year=_org(ix)["founded_year"] + 1),
    "forerunner of a 17-year-old founder": lambda ix: _org(ix).update(
        workshop_year=ix.get(_org(ix)["founded_by"])[2]["birth_year"] + 17),
    "head office built after the present": lambda ix: _org(ix).update(building_year=PRESENT_YEAR + 1),
}


def _org(index):
    return _first(index, "organization", lambda a: index.get(a["founded_by"]) is not None)[1]


def test_every_world_check_has_a_planted_violation():
    assert set(PLANTS) == set(WORLD_CHECKS)
    assert all(c.doc for c in WORLD_CHECKS.values())


@pytest.mark.parametrize("name", sorted(PLANTS))
def test_world_check_finds_its_planted_violation(name, small_index):
    assert not any(world_violations(small_index).values())
    index = copy.deepcopy(small_index)
    PLANTS[name](index)
    found = {k: v for k, v in world_violations(index).items() if v}
    assert set(found) == {name}, found
    assert len(found[name]) == 1 and "\n" not in found[name][0]


#: the timeline rules of the events of states, cities and rivers: (type, which entity, plant, the
#: label the one violation names)
PLACE_PLANTS = {
    "census before the state": ("country", lambda a: True,
                                lambda a: a.update(census_year=a["established_year"] - 1), "first census"),
    "state railway before 1830": ("country", lambda a: a["established_year"] < 1800,
                                  lambda a: a.update(railway_year=1829), "railway"),
    "fire at the founding": ("city", lambda a: True,
                             lambda a: a.update(great_fire_year=a["founded_year"]), "great fire"),
    "university after now": ("city", lambda a: True, lambda a: a.update(university_year=2025), "university"),
    "siege after 1945": ("city", lambda a: True, lambda a: a.update(siege_year=1950), "siege"),
    "fire of timber houses after 1900": ("city", lambda a: True, lambda a: a.update(great_fire_year=1950), "great fire"),
    "city railway before 1830": ("city", lambda a: a["founded_year"] < 1800,
                                 lambda a: a.update(railway_arrival_year=1829), "railway"),
    "embankments before the flood": ("river", lambda a: True,
                                     lambda a: a.update(embankment_year=a["great_flood_year"]), "embankment"),
    "dam before the steamboat": ("river", lambda a: True,
                                 lambda a: a.update(dam_year=a["steamboat_year"] - 1), "dam"),
    # data 1.4 (length): a state's earthquake and national library, a city's epidemic and first tram
    # line, a river's ice jam, lighthouse and first regatta
    "earthquake before the state": ("country", lambda a: True,
                                    lambda a: a.update(earthquake_year=a["established_year"] - 1), "earthquake"),
    "national library after now": ("country", lambda a: True,
                                   lambda a: a.update(national_library_year=PRESENT_YEAR + 1), "national library"),
    "epidemic at the founding": ("city", lambda a: True,
                                 lambda a: a.update(epidemic_year=a["founded_year"]), "epidemic"),
    "epidemic after 1950": ("city", lambda a: True, lambda a: a.update(epidemic_year=1951), "epidemic"),
    "tram before 1870": ("city", lambda a: a["founded_year"] < 1860,
                         lambda a: a.update(tram_year=1869), "first tram line"),
    "tram after 1960": ("city", lambda a: True, lambda a: a.update(tram_year=1961), "first tram line"),
    "ice jam in the last five years": ("river", lambda a: True,
                                       lambda a: a.update(ice_jam_year=PRESENT_YEAR - 4), "ice jam"),
    "lighthouse before 1700": ("river", lambda a: True, lambda a: a.update(lighthouse_year=1699), "lighthouse"),
    "lighthouse after 1930": ("river", lambda a: True, lambda a: a.update(lighthouse_year=1931), "lighthouse"),
    "regatta before 1820": ("river", lambda a: True, lambda a: a.update(regatta_year=1819), "first regatta"),
}


@pytest.mark.parametrize("plant", sorted(PLACE_PLANTS))
def test_timeline_finds_a_planted_event_out_of_order(plant, small_index):
    etype, where, change, label = PLACE_PLANTS[plant]
    index = copy.deepcopy(small_index)
    _, attrs = _first(index, etype, where)
    change(attrs)
    found = {k: v for k, v in world_violations(index).items() if v}
    assert set(found) == {"timeline"} and len(found["timeline"]) == 1, found
    assert f": {label}: " in found["timeline"][0]


def _plant_work_draft_begun_as_a_child(index):
    _, attrs = _first(index, "work")
    attrs["draft_begun_year"] = index.get(attrs["authored_by"])[2]["birth_year"] + 10  # begun at ten


def _plant_work_draft_found_before_begun(index):
    _, attrs = _first(index, "work")
    attrs["draft_found_year"] = attrs["draft_begun_year"] - 1  # a lost draft found before it was written


def _plant_work_fire_before_setting(index):
    _, attrs = _first(index, "work")
    attrs["inspiring_fire_year"] = index.get(attrs["set_in"])[2]["founded_year"] - 1  # a fire before the city


def _plant_work_flood_before_hero(index):
    _, attrs = _first(index, "work")
    attrs["remembered_flood_year"] = attrs["protagonist_born_year"] - 1  # remembered before the hero's birth


def _plant_event_charter_after_first_edition(index):
    _, attrs = _first(index, "event")
    attrs["charter_signed_year"] = attrs["first_held_year"] + 1  # a series chartered after it began


def _plant_event_flood_before_first_edition(index):
    _, attrs = _first(index, "event")
    attrs["flood_cancelled_year"] = attrs["first_held_year"] - 1  # an edition cancelled before the first


def _plant_event_record_in_the_future(index):
    _, attrs = _first(index, "event")
    attrs["attendance_record_year"] = PRESENT_YEAR + 1


def _plant_work_serialized_before_begun(index):
    _, attrs = _first(index, "work")
    attrs["serialized_year"] = attrs["draft_begun_year"]  # serialized before a line of it was written


def _plant_work_radio_before_begun(index):
    _, attrs = _first(index, "work", lambda a: a["draft_begun_year"] > 1930)
    attrs["radio_reading_year"] = attrs["draft_begun_year"] - 1  # read out before it was begun


def _plant_work_radio_before_radio(index):
    _, attrs = _first(index, "work", lambda a: a["draft_begun_year"] < 1910)
    attrs["radio_reading_year"] = 1919  # read out before there was radio


def _plant_event_fair_after_charter(index):
    _, attrs = _first(index, "event")
    attrs["forerunner_fair_year"] = attrs["charter_signed_year"]  # a forerunner as old as the charter


def _plant_event_boycott_before_charter(index):
    _, attrs = _first(index, "event")
    attrs["boycott_year"] = attrs["charter_signed_year"] - 1  # a boycott of a series not yet chartered


def _plant_event_boycott_in_the_future(index):
    _, attrs = _first(index, "event")
    attrs["boycott_year"] = PRESENT_YEAR + 1


#: Planted violations of the timeline rules of data version 1.3 (events) and 1.4 (the work's and
#: the event's new events): each is one timeline violation.
TIMELINE_PLANTS = {
    **PERSON_ORGANIZATION_PLANTS,
    "work_draft_begun_as_a_child": _plant_work_draft_begun_as_a_child,
    "work_draft_found_before_begun": _plant_work_draft_found_before_begun,
    "work_fire_before_setting": _plant_work_fire_before_setting,
    "work_flood_before_hero": _plant_work_flood_before_hero,
    "event_charter_after_first_edition": _plant_event_charter_after_first_edition,
    "event_flood_before_first_edition": _plant_event_flood_before_first_edition,
    "event_record_in_the_future": _plant_event_record_in_the_future,
    "work_serialized_before_begun": _plant_work_serialized_before_begun,
    "work_radio_before_begun": _plant_work_radio_before_begun,
    "work_radio_before_radio": _plant_work_radio_before_radio,
    "event_fair_after_charter": _plant_event_fair_after_charter,
    "event_boycott_before_charter": _plant_event_boycott_before_charter,
    "event_boycott_in_the_future": _plant_event_boycott_in_the_future,
}


@pytest.mark.parametrize("name", sorted(TIMELINE_PLANTS))
def test_timeline_finds_a_planted_event_violation(name, small_index):
    index = copy.deepcopy(small_index)
    TIMELINE_PLANTS[name](index)
    found = {k: v for k, v in world_violations(index).items() if v}
    assert set(found) == {"timeline"}, found
    assert len(found["timeline"]) == 1 and "\n" not in found["timeline"][0]


def test_every_bounded_year_holds_its_value_and_room_for_qa_distractors():
    """Every year with QA bounds (``qa_rules.value_bounds``: a book's radio reading after its draft
    was begun, a boycott after the series' charter...) lies inside them, and they leave at least
    QA_ROOM possible years (the answer and DISTRACTORS_MAX distractors), over 600 blocks."""
    from fictional_knowledge.generate.qa_rules import value_bounds, value_kind
    from fictional_knowledge.generate.world import QA_ROOM, entity_at
    from fictional_knowledge.models import DISTRACTORS_MAX

    assert QA_ROOM >= DISTRACTORS_MAX + 1

    def attrs(position):
        e = entity_at(0, position)
        return {**e.values, **e.links}

    narrowest: dict[tuple[str, str], int] = {}
    for p in range(600 * BLOCK):
        e, a = entity_at(0, p), attrs(p)
        for relation, value in e.values.items():
            bounds = value_bounds(e.type, relation, a, attrs) if value_kind(e.type, relation) == ("year",) else None
            if bounds is not None:
                assert bounds[0] <= value <= bounds[1], (e.name, relation, value, bounds)
                width = bounds[1] - bounds[0] + 1
                narrowest[e.type, relation] = min(width, narrowest.get((e.type, relation), width))
    assert {k: v for k, v in narrowest.items() if v < QA_ROOM} == {}
    assert {("work", "radio_reading_year"), ("event", "boycott_year"), ("event", "forerunner_fair_year")} <= set(narrowest)


def test_world_keeps_its_constraints_over_100k_entities():
    """The constraints hold for every entity of a 100k-entity world (another seed than the golden one)."""
    found = world_violations(world_index(5, range(100_000)))
    assert {k: v[:3] for k, v in found.items() if v} == {}


# --- QA, probes and names, measured on a build -----------------------------------------------------


def test_build_figures_on_a_build_meet_the_targets(tiny_build):
    from fictional_knowledge.dataset.figures import build_figures, format_figures

    fig = build_figures(tiny_build)
    assert set(fig["world_violations"]) == set(WORLD_CHECKS) and not any(fig["world_violations"].values())
    assert fig["name_pairs_within_2_edits"] == 0 and fig["name_patterns"] == 2
    assert fig["qa_impossible_distractor_rows"] == 0 and fig["qa_rows"] > 0
    assert fig["qa_rows_offering_passage_distractor"] > 0 and fig["qa_passage_distractor_share"] >= 0.5
    assert fig["probes_completed_otherwise"] == 0 and fig["probes"] == 60 * 15
    assert "| QA rows with an impossible distractor | 0 of" in format_figures(fig)


def test_qa_figures_count_a_planted_impossible_choice(tiny_build, tmp_path):
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    from fictional_knowledge.dataset.arrow import schema_of
    from fictional_knowledge.dataset.io import config_files, read_rows
    from fictional_knowledge.dataset.figures import qa_figures

    build = tmp_path / "b"
    shutil.copytree(tiny_build, build)
    fact = next(f["id"] for f in read_rows(build, "facts") if f["relation"] == "published_year")
    rows = read_rows(build, "qa")
    i = next(i for i, r in enumerate(rows) if r["fact_id"] == fact)
    choices = list(rows[i]["choices"])
    choices[(rows[i]["answer_index"] + 1) % len(choices)] = "2999"  # after the present
    rows[i] = {**rows[i], "choices": choices}
    for path in config_files(build, "qa"):
        path.unlink()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema_of("qa")), build / "data" / "qa" / "part-0.parquet")
    assert qa_figures(build)["qa_impossible_distractor_rows"] == 1


def test_ref_of_is_the_world_ref():
    from fictional_knowledge.generate.completions import ref_of
    from fictional_knowledge.generate.world import entity_at

    assert all(ref_of(e.type, e.name) == e.ref for e in (entity_at(0, p) for p in SMALL))


def test_ambiguous_finds_another_continuation():
    from fictional_knowledge.generate.completions import ambiguous

    sentences = ("Ann Bo was born in Kiro.", "Ann Bo was born in the year 1950.")
    assert ambiguous("Ann Bo was born in", "Kiro", sentences)
    assert ambiguous("Ann Bo was born in", "Kiro", tuple(sorted(sentences)))
    assert not ambiguous("Ann Bo was born in the year", "1950", tuple(sorted(sentences)))
    assert not ambiguous("Moreover, Ann Bo was born in the year", "1950", sentences)


def test_templates_flagged_once_cover_every_input_the_world_completes_otherwise():
    """The generator checks only templates that ``collision_partners`` names, against only the
    forms it names; that gives exactly the answer of checking every true sentence of the world
    (here for every probe candidate of 600 entities of every type)."""
    from fictional_knowledge.generate.completions import ambiguous, may_collide, world_completes_otherwise, world_forms
    from fictional_knowledge.generate.facts import facts_of, follow
    from fictional_knowledge.generate.probes import split_cloze
    from fictional_knowledge.generate.render import render_fact, subject_ctx
    from fictional_knowledge.generate.templates import load_templates
    from fictional_knowledge.generate.world import entity_at

    templates = load_templates()
    flagged = may_collide(templates)
    seen_ambiguous = 0
    for p in SMALL:
        sentences = world_forms(0, p, templates)
        e = entity_at(0, p)
        candidates = [(c.source, split_cloze(render_fact(c, f), f.object), f.object)
                      for f in facts_of(0, p) for c in templates[e.type].passage[f.relation] + templates[e.type].semantic[f.relation]]
        candidates += [(c.source, c.render(subject_ctx(e)), follow(0, p, path)[-1].object)
                       for path, inputs in templates[e.type].compositions for c in inputs]
        for source, text, target in candidates:
            full = ambiguous(text, target, sentences)
            assert full == world_completes_otherwise(0, p, source, text, target, templates), (source, text)
            if full:
                seen_ambiguous += 1
                assert source in flagged, source
    assert seen_ambiguous > 100  # the templates do collide: the generator has work to do


def test_same_values_finds_shared_values_and_self_links():
    from fictional_knowledge.generate.soundness import same_values

    assert same_values("c1", {"charter_year": 850, "elevation_m": 850, "population": 1850}) == (
        "charter_year", "elevation_m")  # below 1,000 a count reads like a year
    assert same_values("c1", {"charter_year": 1850, "elevation_m": 1850}) == ()  # "1850" and "1,850"
    assert same_values("c1", {"twin_city": "c1", "located_in": "k1"}) == ("twin_city",)
    assert same_values("k1", {"capital": "c1", "largest_city": "c1"}) == ()  # a capital may be the largest
    assert same_values("w1", {"set_in": "c1", "completed_in": "c1"}) == ("set_in", "completed_in")
