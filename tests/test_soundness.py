"""World constraints (issue 11, item 0): each check finds a planted violation, and the world keeps
every constraint over 100k entities."""

from __future__ import annotations

import copy

import pytest

from fictional_knowledge.soundness import WORLD_CHECKS, WorldIndex, world_index, world_violations
from fictional_knowledge.world import BLOCK

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
    wid, attrs = _first(index, "work")
    attrs["published_year"] = index.get(attrs["authored_by"])[2]["birth_year"] + 5  # a five-year-old author


def _plant_head_of_state_age(index):
    _, attrs = _first(index, "country")
    index.get(attrs["head_of_state"])[2]["birth_year"] = 1944  # a year too early


def _plant_author_occupation(index):
    _, attrs = _first(index, "work")
    index.get(attrs["authored_by"])[2]["occupation"] = "newspaper journalist"


PLANTS = {
    "largest_city": _plant_largest_city,
    "city_population": _plant_city_population,
    "river_continent": _plant_river_continent,
    "lifespan": _plant_lifespan,
    "head_of_state_age": _plant_head_of_state_age,
    "author_occupation": _plant_author_occupation,
}


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


def test_world_keeps_its_constraints_over_100k_entities():
    """The constraints hold for every entity of a 100k-entity world (another seed than the golden one)."""
    found = world_violations(world_index(5, range(100_000)))
    assert {k: v[:3] for k, v in found.items() if v} == {}
