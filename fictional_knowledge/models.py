"""Typed, frozen records: the data contract (the configs and fields users load by name).

Every row written to a build is validated against one of these models before it is written
(``validate_rows``: strictly, a chunk of rows at a time). The JSON Schemas in ``schemas/`` are generated from them (``fkgen schemas``), and a test
fails when the two drift apart.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model, model_validator

from fictional_knowledge.kinds import PROBE_KIND_TABLE, PROBE_KINDS
from fictional_knowledge.generate.names import ALLOWED as _NAMES_ALLOWED
from fictional_knowledge.generate.world import BLOCK as _BLOCK
from fictional_knowledge.generate.world import ENTITY_SPECS, attribute_types

ENTITY_TYPES: tuple[str, ...] = tuple(ENTITY_SPECS)
EntityType = Literal[ENTITY_TYPES]  # type: ignore[valid-type]  # derived from world.ENTITY_SPECS
ProbeKind = Literal[PROBE_KINDS]  # type: ignore[valid-type]  # derived from kinds.PROBE_KIND_TABLE


class FrozenModel(BaseModel):
    """Base of every contract model: immutable once made, and unknown fields are an error (so a
    renamed or misspelt key fails loudly instead of being dropped)."""

    model_config = ConfigDict(frozen=True, extra="forbid")



#: Non-empty, no leading or trailing whitespace. Patterns (not Python validators) so that the
#: generated JSON Schemas enforce exactly what Pydantic enforces.
Trimmed = Annotated[str, Field(pattern=r"^\S(.*\S)?$")]
#: A fact value: 1-4 words separated by single spaces.
ShortValue = Annotated[str, Field(pattern=r"^\S+( \S+){0,3}$")]
#: A probe input: trimmed, and not ending with an opening quote or bracket.
ProbeInput = Annotated[str, Field(pattern="^\\S(.*[^\\s\"'\u201c\u2018\u00ab(])?$")]


#: Typed attribute values of an entity, one optional field per relation of any entity type,
#: derived from ``world.ENTITY_SPECS`` (so a new relation needs no edit here).
Attributes: type[FrozenModel] = create_model(
    "Attributes", __base__=FrozenModel, __module__=__name__,
    __doc__="""Typed attribute values of an entity. Every field is null where the type has no such
    attribute; entity-valued attributes hold the linked entity's ``id``.""",
    **{name: (Optional[value], None) for name, value in attribute_types().items()},
)


class Entity(FrozenModel):
    id: str
    type: EntityType
    name: Trimmed
    attributes: Attributes
    pronoun: Optional[Literal["he", "she", "they"]] = Field(
        None, description="A person's pronoun, as the prose style uses it (seeded); null for other types.")


class Fact(FrozenModel):
    id: str
    subject_id: str
    relation: str
    object: ShortValue = Field(description="The object as text: 1-4 words, the cloze target.")
    object_id: Optional[str] = Field(None, description="Entity id when the object is an entity.")


class SentenceSpan(FrozenModel):
    """One sentence of a passage or paraphrase: ``text[start:end]``, and the ids of every fact it
    states (none for a sentence that only introduces its subject)."""

    start: int = Field(ge=0)
    end: int = Field(ge=1)
    fact_ids: list[str]


class Passage(FrozenModel):
    id: str
    entity_id: str
    text: str
    paraphrases: list[str]
    fact_ids: list[str]
    sentences: list[SentenceSpan] = Field(
        description="Every sentence of ``text`` in order, with the facts it states; together they state "
                    "exactly ``fact_ids``.")
    paraphrase_sentences: list[list[SentenceSpan]] = Field(
        description="The sentences of each paraphrase (offsets into that paraphrase), as ``sentences``.")


class Probe(FrozenModel):
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
        """The full probe text: ``input + " " + target`` (the probe rule)."""
        return f"{self.input} {self.target}"


class Statement(FrozenModel):
    id: str
    fact_id: str
    entity_id: str
    text: str


class QA(FrozenModel):
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


class FKRow(FrozenModel):
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


#: The world's size: positions with a unique core word (``generate.names.ALLOWED``, 939,249: names
#: at least 3 edits apart) rounded down to whole blocks, since a partial last block links to the
#: rest of its block: 939,240.
MAX_ENTITIES = _NAMES_ALLOWED // _BLOCK * _BLOCK
#: Compositional probes every entity type can give (the fewest relation paths of a type whose
#: answer is not given away); more need a check per passage (``dataset.builder.check_capacity``).
MAX_COMPOSITIONAL = 6
#: Wrong choices per QA row, at most: relations with few values (8 continents) run out of distinct
#: wrong values among the entities near a subject beyond 4 (a build then stops with a one-line error).
DISTRACTORS_MAX = 4


class BuildConfig(FrozenModel):
    """Everything that determines a build. Two builds with equal configs and the same package
    version have identical fingerprints."""

    # each field is one option of `fkgen build` and `fkgen release` (its "flag"), generated from
    # here by fictional_knowledge/cli/options.py; build_command() writes the exact command back
    seed: int = Field(0, description="World seed: the same seed and package version give the same data.",
                      json_schema_extra={"flag": "--seed"})
    entities: int = Field(1000, gt=0, le=MAX_ENTITIES, description="Focal entities, each with a passage and probes.",
                          json_schema_extra={"flag": "--entities"})
    paraphrases: int = Field(9, ge=0, le=9, description="Paraphrases per passage (0-9).",
                             json_schema_extra={"flag": "--paraphrases"})
    memorization_probes: int = Field(5, ge=0, le=100, description="Memorization probes per passage.",
                                     json_schema_extra={"flag": "--memorization"})
    semantic_probes: int = Field(5, ge=0, le=100, description="Semantic probes per passage (at most --memorization).",
                                 json_schema_extra={"flag": "--semantic"})
    compositional_probes: int = Field(5, ge=0, le=MAX_COMPOSITIONAL, description="Compositional probes per passage.",
                                      json_schema_extra={"flag": "--compositional"})
    passage_min_words: int = Field(300, gt=0, le=100_000, description="Passage length target, lower end (words).",
                                   json_schema_extra={"flag": "--min-words"})
    passage_max_words: int = Field(500, gt=0, le=100_000, description="Passage length, upper bound (words).",
                                   json_schema_extra={"flag": "--max-words"})
    distractors: int = Field(3, ge=3, le=DISTRACTORS_MAX, description="Wrong choices per multiple-choice QA row.",
                             json_schema_extra={"flag": "--distractors"})
    style: Literal["prose", "plain"] = Field("prose", description=(
        "How passages are written: 'prose' (the sentence planner: 1-3 facts a sentence, pronouns, "
        "paragraphs by topic) or 'plain' (one fact a sentence, bioS-like controlled text)."),
        json_schema_extra={"flag": "--style"})

    @model_validator(mode="after")
    def _word_bounds(self) -> "BuildConfig":
        if self.passage_min_words > self.passage_max_words:
            raise ValueError("passage_min_words must not exceed passage_max_words")
        if self.semantic_probes > self.memorization_probes:
            raise ValueError("semantic_probes must not exceed memorization_probes "
                             "(each semantic probe restates a memorization probe's fact)")
        return self


def field_flag(model: type[BaseModel], name: str) -> str:
    """The command-line option of a config field: its ``flag``, else ``--name-with-dashes``."""
    extra = model.model_fields[name].json_schema_extra
    flag = extra.get("flag") if isinstance(extra, dict) else None
    return flag or "--" + name.replace("_", "-")


def build_command(config: BuildConfig) -> str:
    """The ``fkgen build`` command that rebuilds ``config`` exactly: every field, by its option."""
    return "fkgen build " + " ".join(f"{field_flag(BuildConfig, name)} {getattr(config, name)}"
                                     for name in BuildConfig.model_fields)


class ConfigSummary(FrozenModel):
    rows: int
    fingerprint: str


class Manifest(FrozenModel):
    """``manifest.json`` of a build (or of one shard of it)."""

    format_version: Literal[1] = 1
    package: str = "fictional-knowledge"
    package_version: str
    config: BuildConfig
    shard: Optional[str] = Field(None, description="'i/n' for a partial build, null for a whole one.")
    template_hashes: dict[str, str]
    configs: dict[str, ConfigSummary]


RECORD_MODELS: dict[str, type[FrozenModel]] = {
    "entities": Entity,
    "facts": Fact,
    "passages": Passage,
    "probes": Probe,
    "statements": Statement,
    "qa": QA,
    "fictional_knowledge": FKRow,
}
CONFIG_NAMES: tuple[str, ...] = tuple(RECORD_MODELS)

for _kind in PROBE_KIND_TABLE:  # the kind table must match the models; fail at import if not
    if _kind.count_field not in BuildConfig.model_fields:
        raise ValueError(f"probe kind {_kind.name!r}: BuildConfig has no field {_kind.count_field!r}")
    if _kind.fk_prefix and f"{_kind.fk_prefix}_input" not in FKRow.model_fields:
        raise ValueError(f"probe kind {_kind.name!r}: FKRow has no field {_kind.fk_prefix}_input")


@lru_cache(maxsize=None)
def _rows_adapter(config: str) -> TypeAdapter:
    return TypeAdapter(list[RECORD_MODELS[config]])


def validate_rows(config: str, rows: list[dict]) -> None:
    """Validate plain-dict rows of ``config`` against its model in one call, in strict mode (no
    coercion: the dicts that pass are exactly what gets written). Raises
    ``pydantic.ValidationError`` naming the row index and field."""
    _rows_adapter(config).validate_python(rows, strict=True)


@lru_cache(maxsize=None)
def sorted_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The field names of ``model`` in sorted order: the key order of the build's row dicts,
    which lets ``fingerprint.sorted_row_digest`` skip sorting."""
    return tuple(sorted(model.model_fields))
