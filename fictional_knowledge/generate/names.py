"""Unique, pronounceable names.

Every entity's name contains one invented *core word* of the shape CVCVCVC ("Doravel",
"Kimatos"). Core words are given out by a seeded bijection from the entity's world position, so
two entities never share one, whatever the build size. Since all core words have the same length,
none is a substring of another; and no core word occurs inside a first name or any other word that
names are made of. Together these make every entity name unique within a build and never a
substring of another entity's name, with no global bookkeeping.
"""

from __future__ import annotations

import bisect
import hashlib
from functools import lru_cache

from fictional_knowledge.generate.vocab import ENGLISH_WORDS, FIRST_NAMES, NAME_WORDS

CONSONANTS = "bdfgklmnprstvz"
VOWELS = "aeiou"
_PATTERN = (CONSONANTS, VOWELS, CONSONANTS, VOWELS, CONSONANTS, VOWELS, CONSONANTS)
WORD_LENGTH = len(_PATTERN)
SPACE = 1
for _letters in _PATTERN:
    SPACE *= len(_letters)


def _index_of(word: str) -> int | None:
    """Mixed-radix index of a CVCVCVC word, or None when ``word`` has another shape."""
    if len(word) != WORD_LENGTH:
        return None
    index = 0
    for ch, letters in zip(word, _PATTERN):
        pos = letters.find(ch)
        if pos < 0:
            return None
        index = index * len(letters) + pos
    return index


def _word_of(index: int) -> str:
    chars = []
    for letters in reversed(_PATTERN):
        index, pos = divmod(index, len(letters))
        chars.append(letters[pos])
    return "".join(reversed(chars))


def _banned_indices() -> list[int]:
    """Core words that occur inside other name parts or are English words."""
    banned = set()
    for word in (*FIRST_NAMES, *NAME_WORDS, *ENGLISH_WORDS):
        w = word.lower()
        for start in range(len(w) - WORD_LENGTH + 1):
            index = _index_of(w[start : start + WORD_LENGTH])
            if index is not None:
                banned.add(index)
    return sorted(banned)


_BANNED = _banned_indices()
ALLOWED = SPACE - len(_BANNED)
_BITS = (ALLOWED - 1).bit_length() + ((ALLOWED - 1).bit_length() % 2)  # even, for a balanced Feistel
_HALF = _BITS // 2
_MASK = (1 << _HALF) - 1


def _round(seed: int, r: int, value: int) -> int:
    digest = hashlib.blake2b(f"{seed}:{r}:{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & _MASK


def _permute(seed: int, x: int) -> int:
    """A seeded permutation of [0, ALLOWED): a 4-round Feistel network with cycle-walking."""
    while True:
        left, right = x >> _HALF, x & _MASK
        for r in range(4):
            left, right = right, left ^ _round(seed, r, right)
        x = (left << _HALF) | right
        if x < ALLOWED:
            return x


def _select_allowed(rank: int) -> int:
    """Index of the ``rank``-th core word that is not banned."""
    index = rank
    while True:
        nxt = rank + bisect.bisect_right(_BANNED, index)
        if nxt == index:
            return index
        index = nxt


@lru_cache(maxsize=8192)
def core_word(seed: int, position: int) -> str:
    """The capitalised core word of the entity at world ``position`` (injective in position)."""
    if not 0 <= position < ALLOWED:
        raise ValueError(f"world position {position} is outside [0, {ALLOWED})")
    return _word_of(_select_allowed(_permute(seed, position))).capitalize()


def invented_word(rng, syllables: int = 2) -> str:
    """A pronounceable word for attribute values (currencies, awards, seas). Not unique."""
    onset = "bdfgklmnprstvz"
    parts = [rng.choice(onset) + rng.choice(VOWELS) for _ in range(syllables)]
    return ("".join(parts) + rng.choice("nlrs")).capitalize()
