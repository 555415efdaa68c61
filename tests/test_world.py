"""The world model: consistency, unique names, independence from build size."""

from __future__ import annotations

import pytest

from fictional_knowledge.generate.facts import facts_of
from fictional_knowledge.generate.names import ALLOWED, CODES, close_pairs, core_word, edit_distance, phonotactic_pattern
from fictional_knowledge.generate.world import BLOCK, RELATIONS, closure, entity_at, type_at

POSITIONS = range(0, 40 * BLOCK)


def test_schema_has_enough_types_and_relations():
    assert len(RELATIONS) >= 6
    assert all(len(r) >= 10 for r in RELATIONS.values()), {t: len(r) for t, r in RELATIONS.items()}
    linking = [r for rels in RELATIONS.values() for r, t in rels.items() if t is not None]
    assert len(linking) >= 14


def test_core_words_are_injective_with_two_patterns_and_three_letters_apart():
    words = [core_word(7, p) for p in range(50_000)] + [core_word(7, p) for p in range(ALLOWED - 2000, ALLOWED)]
    assert len(set(words)) == len(words)
    patterns = {phonotactic_pattern(w) for w in words}
    assert patterns == {c.pattern for c in CODES}
    assert close_pairs(words) == []  # every pair at least 3 edits apart
    with pytest.raises(ValueError):
        core_word(7, ALLOWED)


def test_close_pairs_finds_every_pair_within_two_edits():
    """The bucketed search agrees with comparing every pair, on words with many near neighbours."""
    import random

    rng = random.Random(1)
    words = sorted({"".join(rng.choice("abc") for _ in range(rng.randint(3, 6))) for _ in range(300)})
    brute = {(a, b) for i, a in enumerate(words) for b in words[i + 1:] if edit_distance(a, b) <= 2}
    assert {(a, b) for a, b, _ in close_pairs(words)} == brute
    assert edit_distance("suroraz", "suragaz") == 2 and edit_distance("kitten", "sitting") == 3


def test_changing_one_or_two_free_letters_changes_three_letters():
    """The codes' distance argument, checked directly: from sample codewords, every change of one
    or two free letters gives a codeword that differs in at least 3 letters."""
    from itertools import combinations

    from fictional_knowledge.generate.names import CONSONANTS, VOWELS

    for code in CODES:
        radix = [len(CONSONANTS) if code.pattern[i] == "C" else len(VOWELS) for i in code.free]
        for m in range(7, code.size, code.size // 15):
            digits, x = [], m
            for r in reversed(radix):
                x, d = divmod(x, r)
                digits.insert(0, d)
            word = code.word(m)
            for k in (1, 2):
                for where in combinations(range(len(radix)), k):
                    for values in _product([range(radix[i]) for i in where]):
                        if any(v == digits[i] for i, v in zip(where, values)):
                            continue
                        new = digits[:]
                        for i, v in zip(where, values):
                            new[i] = v
                        n = 0
                        for d, r in zip(new, radix):
                            n = n * r + d
                        other = code.word(n)
                        assert sum(a != b for a, b in zip(word, other)) >= 3, (word, other)


def _product(ranges):
    from itertools import product

    return product(*ranges)


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


def test_every_event_year_keeps_room_for_its_qa_distractors():
    """An event's year is bounded by its organizer's founding, its series and its honoree's age
    (``qa_rules.value_bounds``); the world keeps at least QA_ROOM possible years, so its QA row finds
    DISTRACTORS_MAX distractors (a 20,000-entity build once stopped on an event held in 2024 by a
    company founded in 2022)."""
    from fictional_knowledge.generate.qa_rules import value_bounds
    from fictional_knowledge.generate.world import BLOCK, QA_ROOM, _OFFSETS, entity_at
    from fictional_knowledge.models import DISTRACTORS_MAX

    assert QA_ROOM >= DISTRACTORS_MAX + 1

    def attrs(pos):
        e = entity_at(0, pos)
        return {**e.values, **e.links}

    narrowest = min(
        value_bounds("event", "year", attrs(b * BLOCK + o), attrs)[1] - value_bounds("event", "year", attrs(b * BLOCK + o), attrs)[0] + 1
        for b in range(0, 3000) for o in _OFFSETS["event"])
    assert narrowest >= QA_ROOM
