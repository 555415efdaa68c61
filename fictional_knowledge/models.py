"""Typed, frozen records: the data contract of DESIGN.md section 2.

Every row written to a build is an instance of one of these models, validated before it is
written. The JSON Schemas in ``schemas/`` are generated from them (``fkgen schemas``), and a test
fails when the two drift apart.
"""

from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

ENTITY_TYPES = ("country", "city", "river", "person", "organization", "work", "event")
EntityType = Literal["country", "city", "river", "person", "organization", "work", "event"]
ProbeKind = Literal["memorization", "semantic", "compositional"]
PROBE_KINDS: tuple[str, ...] = ("memorization", "semantic", "compositional")


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


#: Non-empty, no leading or trailing whitespace. Patterns (not Python validators) so that the
#: generated JSON Schemas enforce exactly what Pydantic enforces.
Trimmed = Annotated[str, Field(pattern=r"^\S(.*\S)?$")]
#: A fact value: 1-4 words separated by single spaces.
ShortValue = Annotated[str, Field(pattern=r"^\S+( \S+){0,3}$")]
#: A probe input: trimmed, and not ending with an opening quote or bracket.
ProbeInput = Annotated[str, Field(pattern="^\\S(.*[^\\s\"'\u201c\u2018\u00ab(])?$")]


class Attributes(_Record):
    """Typed attribute values of an entity. Every field is null where the type has no such
    attribute; entity-valued attributes hold the linked entity's ``id``."""

    # country
    capital: Optional[str] = None
    largest_city: Optional[str] = None
    head_of_state: Optional[str] = None
    continent: Optional[str] = None
    official_language: Optional[str] = None
    currency: Optional[str] = None
    established_year: Optional[int] = None
    population: Optional[int] = None
    national_animal: Optional[str] = None
    # city
    located_in: Optional[str] = None
    on_river: Optional[str] = None
    founded_year: Optional[int] = None
    known_for: Optional[str] = None
    elevation_m: Optional[int] = None
    # river
    source_country: Optional[str] = None
    length_km: Optional[int] = None
    empties_into: Optional[str] = None
    surveyed_by: Optional[str] = None
    # person
    born_in: Optional[str] = None
    birth_year: Optional[int] = None
    occupation: Optional[str] = None
    award: Optional[str] = None
    lives_in: Optional[str] = None
    # organization
    founded_by: Optional[str] = None
    headquartered_in: Optional[str] = None
    industry: Optional[str] = None
    employees: Optional[int] = None
    # work
    authored_by: Optional[str] = None
    published_year: Optional[int] = None
    genre: Optional[str] = None
    set_in: Optional[str] = None
    language: Optional[str] = None
    # event
    held_in: Optional[str] = None
    year: Optional[int] = None
    organized_by: Optional[str] = None
    attendance: Optional[int] = None


class Entity(_Record):
    id: str
    type: EntityType
    name: Trimmed
    attributes: Attributes


class Fact(_Record):
    id: str
    subject_id: str
    relation: str
    object: ShortValue = Field(description="The object as text: 1-4 words, the cloze target.")
    object_id: Optional[str] = Field(None, description="Entity id when the object is an entity.")


class Passage(_Record):
    id: str
    entity_id: str
    text: str
    paraphrases: list[str]
    fact_ids: list[str]


class Probe(_Record):
    id: str
    passage_id: str
    entity_id: str
    kind: ProbeKind
    input: ProbeInput
    target: ShortValue
    fact_ids: list[str] = Field(min_length=1)
    relation_path: list[str] = Field(
        min_length=1, description="Relations followed from the entity to the target."
    )
    in_passage: bool = Field(
        description="True when every fact in fact_ids is stated in the probe's passage."
    )

    @property
    def text(self) -> str:
        """The full probe text: ``input + " " + target`` (DESIGN.md section 2)."""
        return f"{self.input} {self.target}"


class Statement(_Record):
    id: str
    fact_id: str
    entity_id: str
    text: str


class QA(_Record):
    id: str
    fact_id: str
    entity_id: str
    question: str
    question_paraphrase: str
    answer: str
    choices: list[str] = Field(min_length=4)
    answer_index: int

    @model_validator(mode="after")
    def _answer_in_choices(self) -> "QA":
        if not 0 <= self.answer_index < len(self.choices):
            raise ValueError("answer_index out of range")
        if self.choices[self.answer_index] != self.answer:
            raise ValueError("choices[answer_index] must equal answer")
        if len(set(self.choices)) != len(self.choices):
            raise ValueError("choices must be distinct")
        return self


class FKRow(_Record):
    """A row in the schema of ``kaist-ai/fictional-knowledge`` (Chang et al. 2024), plus join ids."""

    passage_id: str
    entity_id: str
    train_context: str
    mem_input: list[str]
    mem_target: list[str]
    gen_input: list[str]
    gen_target: list[str]
    hard_gen_input: list[str]
    hard_gen_target: list[str]
    paraphrases: list[str]


#: The world's size: unique core words (``names.ALLOWED`` = 4,801,966) rounded down to whole
#: blocks of 20 positions, since a partial last block links to the rest of its block.
MAX_ENTITIES = 4_801_960
#: Compositional probes every entity type can give (the fewest relation paths of a type whose
#: answer is not given away); more need a check per passage (``build.check_capacity``).
MAX_COMPOSITIONAL = 6


class BuildConfig(_Record):
    """Everything that determines a build. Two builds with equal configs and the same package
    version have identical fingerprints."""

    seed: int = 0
    entities: int = Field(1000, gt=0, le=MAX_ENTITIES, description="Number of focal entities (each gets a passage).")
    paraphrases: int = Field(9, ge=0, le=9)
    memorization_probes: int = Field(5, ge=0, le=100)
    semantic_probes: int = Field(5, ge=0, le=100)
    compositional_probes: int = Field(5, ge=0, le=MAX_COMPOSITIONAL)
    passage_min_words: int = Field(150, gt=0, le=100_000)
    passage_max_words: int = Field(600, gt=0, le=100_000)
    distractors: int = Field(3, ge=3)

    @model_validator(mode="after")
    def _word_bounds(self) -> "BuildConfig":
        if self.passage_min_words > self.passage_max_words:
            raise ValueError("passage_min_words must not exceed passage_max_words")
        if self.semantic_probes > self.memorization_probes:
            raise ValueError("semantic_probes must not exceed memorization_probes "
                             "(each semantic probe restates a memorization probe's fact)")
        return self


class ConfigSummary(_Record):
    rows: int
    fingerprint: str


class Manifest(_Record):
    """``manifest.json`` of a build (or of one shard of it)."""

    format_version: Literal[1] = 1
    package: str = "fictional-knowledge"
    package_version: str
    config: BuildConfig
    shard: Optional[str] = Field(None, description="'i/n' for a partial build, null for a whole one.")
    template_hashes: dict[str, str]
    configs: dict[str, ConfigSummary]


RECORD_MODELS: dict[str, type[_Record]] = {
    "entities": Entity,
    "facts": Fact,
    "passages": Passage,
    "probes": Probe,
    "statements": Statement,
    "qa": QA,
    "fictional_knowledge": FKRow,
}
CONFIG_NAMES: tuple[str, ...] = tuple(RECORD_MODELS)
