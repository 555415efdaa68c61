"""The options of every regime, as frozen Pydantic models (import-light: the CLI reads their
defaults and descriptions for ``--help`` without loading the generator)."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from fictional_knowledge.models import FrozenModel


class Options(FrozenModel):
    """Base of every regime's options; unknown options are an error."""


SCENARIOS: tuple[str, ...] = ("paraphrase", "duplicate", "once", "control")
Scenario = Literal["paraphrase", "duplicate", "once", "control"]
INJECTED_SCENARIOS: tuple[str, ...] = ("paraphrase", "duplicate", "once")
PAPER_STEPS = [100 * i for i in range(10)]


class InjectionOptions(Options):
    steps: list[int] = Field(default_factory=lambda: list(PAPER_STEPS),
                             description="Injection steps (0-based batch index), strictly increasing.")
    group_sizes: list[int] = Field(default_factory=lambda: [40, 40, 40, 40],
                                   description="Passages per scenario: paraphrase, duplicate, once, control "
                                               "(0 skips one; three sizes mean no control).")
    select: Literal["stratified", "first", "random"] = Field(
        "stratified", description="stratified: a seeded sample dealt so every scenario gets each entity type in "
                                  "proportion; first: build order; random: a seeded sample.")
    passages: Optional[list[str]] = Field(None, description="Explicit passage ids, in group order (overrides select).")
    background: str = Field("build", description="Background stream: build (the build's other passages), none, "
                                                 "or a user corpus (a datasets.load_dataset folder, file or name).")
    background_column: str = Field("text", description="Text column of a user-corpus background.")
    background_entities: Optional[int] = Field(None, ge=1, le=10_000_000,
                                               description="Render the background from this many world entities "
                                                           "disjoint from the build's (with --background build).")

    @field_validator("background", mode="before")
    @classmethod
    def _background(cls, v):
        if isinstance(v, bool):  # the former --background/--no-background flag
            return "build" if v else "none"
        if not isinstance(v, str) or not v.strip():
            raise ValueError("background must be build, none, or a dataset folder, file or name")
        return v

    @field_validator("steps")
    @classmethod
    def _steps(cls, v: list[int]) -> list[int]:
        if not v:
            raise ValueError("need at least one step")
        if v[0] < 0 or any(b <= a for a, b in zip(v, v[1:])):
            raise ValueError("steps must be >= 0 and strictly increasing")
        return v

    @field_validator("group_sizes")
    @classmethod
    def _sizes(cls, v: list[int]) -> list[int]:
        if len(v) == len(SCENARIOS) - 1:
            v = [*v, 0]
        if len(v) != len(SCENARIOS) or any(n < 0 for n in v) or not any(v[:3]):
            raise ValueError("need four sizes >= 0 (paraphrase, duplicate, once, control; or three without "
                             "control), not all injected ones 0")
        return v

    @model_validator(mode="after")
    def _background_entities_need_build(self) -> "InjectionOptions":
        if self.background_entities is not None and self.background != "build":
            raise ValueError("--background-entities renders the background from the world; it needs --background build")
        return self


class TwoStageOptions(Options):
    train_fraction: float = Field(0.5, gt=0, lt=1, description="Fraction of entities whose QA is trained on.")
    multiplicity: int = Field(1, ge=1, le=64, description="Statements per fact, each with another template while they last.")


class ContinualOptions(Options):
    stage1_fraction: float = Field(0.5, gt=0, lt=1, description="Fraction of entities whose QA is stage 1.")
    stage2_fraction: float = Field(0.25, gt=0, lt=1, description="Fraction of entities whose QA is the stage-2 factoid set.")
    mix_ratio: float = Field(2.0, ge=0, le=100, description="REMIX mixing examples per training example (0: none).")
    random_words: int = Field(100, ge=2, le=4096, description="Words per mixing window (half prompt, half completion).")
    vocabulary: Optional[str] = Field(None, description="Word list file, one word a line [default: vocab.ENGLISH_WORDS].")
    generic_source: Optional[str] = Field(None, description="Generic text: a .txt file (a document a line) or a "
                                          "datasets.load_dataset path or name [default: background paraphrases].")
    generic_column: str = Field("text", description="Text column of the generic source.")

    @model_validator(mode="after")
    def _fractions(self) -> "ContinualOptions":
        if self.stage1_fraction + self.stage2_fraction >= 1:
            raise ValueError("the stage-1 and stage-2 fractions must add up to less than 1 (the rest is background)")
        return self


class FrequencyOptions(Options):
    exponent: float = Field(1.5, ge=0, le=10, description="Zipf exponent s: P(k) proportional to k^-s.")
    max_count: int = Field(100, ge=1, le=100_000, description="Largest k.")


class ForgetOptions(Options):
    percents: list[int] = Field(default_factory=lambda: [1, 5, 10], description="Forget-set sizes, % of entities (nested).")

    @field_validator("percents")
    @classmethod
    def _percents(cls, v: list[int]) -> list[int]:
        if not v or any(not 0 < p < 100 for p in v) or len(set(v)) != len(v):
            raise ValueError("need distinct whole percentages between 1 and 99")
        return sorted(v)


OPTIONS: dict[str, type[Options]] = {
    "injection": InjectionOptions, "two-stage": TwoStageOptions, "continual": ContinualOptions,
    "frequency": FrequencyOptions, "forget": ForgetOptions,
}
