"""All randomness of a build comes from here.

Each item gets its own RNG, derived from ``(seed, stage, key)`` with SHA-256, so an item's data
never depends on how many other items are built, on their order, or on ``PYTHONHASHSEED``.
Never use the global ``random``/numpy state or ``hash()`` anywhere in the package.
"""

from __future__ import annotations

import hashlib
import random

_sha256 = hashlib.sha256


def derive_int(seed: int, stage: str, key: object, bits: int = 64) -> int:
    """A stable integer in [0, 2**bits) for ``(seed, stage, key)``."""
    digest = hashlib.sha256(f"{seed}:{stage}:{key}".encode()).digest()
    return int.from_bytes(digest[: bits // 8], "big")


def item_rng(seed: int, stage: str, key: object) -> random.Random:
    """The RNG of one item: independent of every other item."""
    return random.Random(derive_int(seed, stage, key))


def make_id(prefix: str, seed: int, *content: object) -> str:
    """A content-derived id such as ``person-3f9a1c2b7d04``: SHA-256 of the seed and the content."""
    text = "\x1f".join(map(str, (seed, prefix, *content)))
    return f"{prefix}-{_sha256(text.encode()).hexdigest()[:12]}"
