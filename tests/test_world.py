"""The world model: consistency, unique names, independence from build size."""

from __future__ import annotations

import pytest

from fictional_knowledge.facts import facts_of
from fictional_knowledge.names import ALLOWED, core_word
from fictional_knowledge.world import BLOCK, RELATIONS, closure, entity_at, type_at

POSITIONS = range(0, 40 * BLOCK)


def test_schema_has_enough_types_and_relations():
    assert len(RELATIONS) >= 6
    assert sum(len(r) for r in RELATIONS.values()) >= 30
    linking = [r for rels in RELATIONS.values() for r, t in rels.items() if t is not None]
    assert len(linking) >= 10


def test_core_words_are_injective_and_equal_length():
    words = [core_word(7, p) for p in range(50_000)]
    assert len(set(words)) == len(words)
    assert len({len(w) for w in words}) == 1
    with pytest.raises(ValueError):
        core_word(7, ALLOWED)


def test_names_unique_and_never_substrings_of_each_other():
    names = sorted({entity_at(3, p).name for p in POSITIONS})
    assert len(names) == len(POSITIONS)
    for a in names:
        for b in names:
            assert a == b or a not in b, (a, b)


def test_links_are_consistent():
    for p in POSITIONS:
        e = entity_at(0, p)
        assert e.type == type_at(p)
        for relation, target in e.links.items():
            assert entity_at(0, target).type == RELATIONS[e.type][relation]
            assert target != p  # nothing links to itself
        if e.type == "country":
            capital = entity_at(0, e.links["capital"])
            assert capital.links["located_in"] == p
            assert entity_at(0, e.links["largest_city"]).links["located_in"] == p
            cities = [c for c in range(e.block * BLOCK, (e.block + 1) * BLOCK) if type_at(c) == "city"]
            largest = max(entity_at(0, c).values["population"] for c in cities)
            assert entity_at(0, e.links["largest_city"]).values["population"] == largest  # may be the capital
        if e.type == "person":
            assert e.links["born_in"] != e.links["lives_in"]
        if e.type == "organization":
            founder = entity_at(0, e.links["founded_by"])
            assert e.values["founded_year"] >= founder.values["birth_year"] + 22
        if e.type == "work":
            author = entity_at(0, e.links["authored_by"])
            assert e.values["published_year"] >= author.values["birth_year"] + 20
            birth_country = entity_at(0, entity_at(0, author.links["born_in"]).links["located_in"])
            assert e.values["language"] == birth_country.values["official_language"]
        if e.type == "event":
            assert e.values["year"] > entity_at(0, e.links["organized_by"]).values["founded_year"]


def test_fact_objects_are_short():
    for p in POSITIONS:
        for f in facts_of(0, p):
            assert 1 <= len(f.object.split()) <= 4, f


def test_closure_only_adds_positions_of_the_last_block():
    for n in (1, 7, 19, 20, 33):
        extra = [p for p in closure(0, range(n)) if p >= n]
        assert all(p // BLOCK == (n - 1) // BLOCK for p in extra)
        for p in closure(0, range(n)):  # closed under links
            assert all(t in closure(0, range(n)) for t in entity_at(0, p).links.values())


def test_seed_changes_the_world():
    assert [entity_at(0, p).name for p in range(20)] != [entity_at(1, p).name for p in range(20)]
