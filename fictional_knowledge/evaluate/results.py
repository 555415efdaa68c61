"""The results format written by ``fkgen eval`` and read by ``fkgen leaderboard``."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from fictional_knowledge.models import FrozenModel as _Frozen


class ProbeKindScore(_Frozen):
    """Scores over the probes of one kind (memorization, semantic or compositional)."""

    n: int = Field(ge=0)
    loss: float = Field(description="Mean over probes of the per-token mean NLL of ' ' + target.")
    loss_sum: float = Field(description="Mean over probes of the summed NLL of the target span.")
    first_token_loss: float = Field(description="Mean over probes of the first target token's NLL.")
    exact_match: float = Field(ge=0, le=1, description="Share of probes whose greedy continuation is the target.")


class QAScore(_Frozen):
    n: int = Field(ge=0)
    mc_accuracy: float = Field(ge=0, le=1, description="Share of questions whose answer has the highest log-likelihood among choices.")
    generation_exact_match: float = Field(ge=0, le=1)


class DatasetRef(_Frozen):
    """Where the scored data came from."""

    path: str = Field(description="Local build folder, data file or folder, or Hub repo id.")
    version: Optional[str] = Field(None, description="Release tag such as v1.0.0, when known.")
    source: Literal["build", "file", "folder", "hub"] = Field(
        "build", description="A build of this package, or FK-schema data from a file, a folder or the Hub.")
    revision: Optional[str] = Field(None, description="Hub revision (tag, branch or commit) the data was read at.")
    config: Optional[str] = None
    split: Optional[str] = None
    sha256: Optional[str] = Field(None, description="SHA-256 over the data file(s) read (names and bytes, in order).")
    package_version: Optional[str] = Field(None, description="fkgen version that built the data (builds only).")
    seed: Optional[int] = Field(None, description="Build seed (builds only).")
    fingerprints: dict[str, str] = Field(description="Content fingerprint per config (manifest.json's, or of the rows read).")


class Results(_Frozen):
    format_version: Literal[1] = 1
    package_version: str
    model: str = Field(description="Model name or local path as given to fkgen eval.")
    model_revision: Optional[str] = None
    dataset: DatasetRef
    settings: dict[str, str | int | float | bool | None]
    scores: dict[str, ProbeKindScore | QAScore] = Field(
        description="Keys: memorization, semantic, compositional (ProbeKindScore) and qa (QAScore)."
    )
    created_at: str = Field(description="ISO-8601 UTC time of the run.")
