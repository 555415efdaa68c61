"""The options of every regime, as frozen Pydantic models (import-light: the CLI reads their
defaults and descriptions for ``--help`` without loading the generator)."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from ..models import FrozenModel


class Options(FrozenModel):
    """Base of every regime's options; unknown options are an error."""


SCENARIOS: tuple[str, ...] = ("paraphrase", "duplicate", "once")
Scenario = Literal["paraphrase", "duplicate", "once"]
PAPER_STEPS = [100 * i for i in range(10)]


class InjectionOptions(Options):
    steps: list[int] = Field(default_factory=lambda: list(PAPER_STEPS),
                             description="Injection steps (0-based batch index), strictly increasing.")
    group_sizes: list[int] = Field(default_factory=lambda: [40, 40, 40],
                                   description="Passages per scenario: paraphrase, duplicate, once (0 skips one).")
    select: Literal["first", "random"] = Field("first", description="Take the first passages in build order, or a seeded sample.")
    passages: Optional[list[str]] = Field(None, description="Explicit passage ids, in group order (overrides select).")
    background: bool = Field(True, description="Write the background stream.")

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
        if len(v) != len(SCENARIOS) or any(n < 0 for n in v) or not any(v):
            raise ValueError("need three sizes >= 0 (paraphrase, duplicate, once), not all 0")
        return v


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
