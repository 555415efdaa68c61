"""Facts of the world: (subject, relation, object) triples with their text forms."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

from fictional_knowledge.generate.seeding import make_id
from fictional_knowledge.generate.world import RELATIONS, WorldEntity, entity_at, format_value


@dataclass(frozen=True, slots=True)
class WorldFact:
    id: str
    subject: WorldEntity
    relation: str
    object: str  # text form, the cloze target
    object_position: Optional[int]  # set when the object is an entity

    @property
    def object_entity(self) -> Optional[WorldEntity]:
        if self.object_position is None:
            return None
        return entity_at(self.subject.seed, self.object_position)


def fact_id(seed: int, subject_id: str, relation: str) -> str:
    return make_id("fact", seed, subject_id, relation)


@lru_cache(maxsize=8192)  # links and distractors stay within WINDOW blocks: a small cache suffices
def facts_of(seed: int, position: int) -> tuple[WorldFact, ...]:
    """The facts whose subject is the entity at ``position``, in the order of ``RELATIONS``."""
    entity = entity_at(seed, position)
    out = []
    for relation, target_type in RELATIONS[entity.type].items():
        if target_type is None:
            obj, obj_pos = format_value(relation, entity.values[relation]), None
        else:
            obj_pos = entity.links[relation]
            obj = entity_at(seed, obj_pos).name
        out.append(WorldFact(fact_id(seed, entity.id, relation), entity, relation, obj, obj_pos))
    return tuple(out)


def fact(seed: int, position: int, relation: str) -> WorldFact:
    for f in facts_of(seed, position):
        if f.relation == relation:
            return f
    raise KeyError(f"{entity_at(seed, position).type} has no relation {relation!r}")


def follow(seed: int, position: int, path: tuple[str, ...]) -> list[WorldFact]:
    """The facts along a relation path from the entity at ``position``."""
    chain = []
    for relation in path:
        f = fact(seed, position, relation)
        chain.append(f)
        if f.object_position is not None:
            position = f.object_position
    return chain
