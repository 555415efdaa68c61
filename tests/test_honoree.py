"""An event's honoree (``world._honoree``): aged 23 to 90 in the event's year, ``ACT_AGES``
narrowed by ``QA_ROOM``, even where the organizer's founder, the old fallback, is older."""

from __future__ import annotations

from types import SimpleNamespace

from fictional_knowledge.generate import world
from fictional_knowledge.generate.world import ACT_AGES, BLOCK, QA_ROOM, entity_at, type_at

YEAR = 2000
PERSONS = world._OFFSETS["person"]


class _Draw:
    """What ``_honoree`` reads of a ``world.Draw``: an event at ``offset`` of block ``block``, whose
    random picks always give ``picked``; ``born`` maps person positions to birth years (1880 if absent:
    120 in ``YEAR``, too old)."""

    def __init__(self, block: int, offset: int, picked: int, founder: int, born: dict[int, int]):
        self.block, self.offset, self.picked, self.born = block, offset, picked, born
        self.links = {"organized_by": -1}
        self.founder = founder

    def pick(self, etype, before_me=False):
        return self.picked

    def entity(self, position):
        if position == -1:
            return SimpleNamespace(links={"founded_by": self.founder})
        return SimpleNamespace(values={"birth_year": self.born.get(position, 1880)})


def test_an_old_founder_gives_way_to_a_person_of_the_window():
    event = max(world._OFFSETS["event"])
    block = 3
    founder, picked = block * BLOCK + PERSONS[0], block * BLOCK + PERSONS[1]
    older = (block - 2) * BLOCK + PERSONS[2]
    nearer = (block - 1) * BLOCK + PERSONS[4]
    # the founder is 93 (24-95 is a founder's range), the picks 120; two persons of the window fit
    d = _Draw(block, event, picked, founder, {founder: YEAR - 93, older: YEAR - 40, nearer: YEAR - 60})
    assert world._honoree(d, YEAR) == nearer  # the nearest block first
    d.born[founder] = YEAR - 90  # a founder of 90 still fits, as before
    assert world._honoree(d, YEAR) == founder
    d.born.update({founder: YEAR - 93, older: YEAR - 10, nearer: YEAR - 91})  # nobody fits: the founder
    assert world._honoree(d, YEAR) == founder
    d.born[(block - world.WINDOW - 1) * BLOCK + PERSONS[0]] = YEAR - 50  # outside the window: not taken
    assert world._honoree(d, YEAR) == founder


def test_honorees_are_23_to_90():
    lo, hi = ACT_AGES[0] + QA_ROOM, ACT_AGES[1] - QA_ROOM
    ages = []
    for position in range(0, 1000 * BLOCK):
        if type_at(position) == "event":
            e = entity_at(0, position)
            ages.append(e.values["year"] - entity_at(0, e.links["honoree"]).values["birth_year"])
    assert len(ages) == 2000 and lo <= min(ages) and max(ages) <= hi, (min(ages), max(ages))
