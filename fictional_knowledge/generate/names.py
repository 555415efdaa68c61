"""Unique, pronounceable, well-separated names.

Every entity's name contains one invented *core word*, a codeword of one of two error-detecting
codes over letters, so that any two core words of the world differ in at least 3 letters (edit
distance), however many entities a build has and with no global bookkeeping:

- ``CVCVCVC`` ("Doravel"): consonants ``c1..c4`` and vowels ``v1..v3``; ``c1 c2 v1 v2 v3`` are
  free and ``c3 = c1 + c2 + v1 + v2 + v3``, ``c4 = c1 + 2c2 + 3v1 + 4v2 + 5v3`` (mod 17, letters
  as their indices in ``CONSONANTS``/``VOWELS``);
- ``VCVCVCVCV`` ("Adoravela"): vowels ``u0..u4`` around consonants ``c1..c4``; ``c1 c2 u0..u4``
  are free and ``c3 = c1 + c2 + u1 + u2 + u3 + 1 + u0 + u4``,
  ``c4 = c1 + 2c2 + 3u1 + 4u2 + 5u3 + 6u0 + 7u4`` (mod 17).

Why this works: within one pattern consonant and vowel letters alternate at fixed places, so a
deletion plus an insertion would move letters across classes; two words of one pattern are thus
within edit distance 2 only if they differ in at most 2 letters, and each code's two checks
change in at least 3 - k letters whenever k < 3 free letters change (the coefficient pairs
``(1, b)`` are distinct with ``b`` not 0, 1 or 2, so no 2x2 system of them is singular mod 17). A
9-letter word is within distance 2 of a 7-letter one only if deleting its two outer vowels gives
it, and the offset ``1 + u0 + u4`` (1..9, never 0 mod 17) keeps that inner word out of the first
code. The two patterns also start with different letter classes, and all words of a pattern have
one length, so no core word is a prefix of another; codewords that occur inside a first name or
another name word are never used. Together these make every entity name unique within a build,
never a substring of another entity's name, and at least 3 letters from every other core word.

Positions map to codewords through seeded bijections: in each group of 5 consecutive positions
below ``MIXED`` (about 90k) a seeded 2 get the short pattern and 3 the long one, above it all get
the long one; a Feistel network with cycle-walking per code then picks the word.
"""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Optional

from fictional_knowledge.generate.vocab import ENGLISH_WORDS, FIRST_NAMES, NAME_WORDS

CONSONANTS = "bdfghjklmnprstvwz"  # 17, a prime: the checks are sums mod 17
VOWELS = "aeiou"
_Q = len(CONSONANTS)
assert _Q == 17


@dataclass(frozen=True)
class Code:
    """A code of core words: ``pattern`` (C/V per letter), the free letters (message) and the two
    check consonants computed from them."""

    name: str
    pattern: str
    free: tuple[int, ...]  # letter positions of the message, most significant first
    checks: tuple[int, int]  # letter positions of the two check consonants
    offset: bool  # add 1 + first vowel + last vowel to the first check (the long pattern)

    @property
    def length(self) -> int:
        return len(self.pattern)

    @property
    def size(self) -> int:
        n = 1
        for i in self.free:
            n *= _Q if self.pattern[i] == "C" else len(VOWELS)
        return n

    def _checks(self, idx: list[int]) -> tuple[int, int]:
        consonants = [i for i, c in enumerate(self.pattern) if c == "C"]
        vowels = [i for i, c in enumerate(self.pattern) if c == "V"]
        c1, c2 = idx[consonants[0]], idx[consonants[1]]
        # inner vowels (between the consonants) weigh 1 and 3, 4, 5; outer vowels 1 and 6, 7
        inner = [i for i in vowels if consonants[0] < i < consonants[-1]]
        outer = [i for i in vowels if i not in inner]
        a = c1 + c2 + sum(idx[i] for i in inner)
        b = c1 + 2 * c2 + sum(w * idx[i] for w, i in zip((3, 4, 5), inner))
        if outer:
            a += sum(idx[i] for i in outer)
            b += sum(w * idx[i] for w, i in zip((6, 7), outer))
        if self.offset:
            a += 1
        return a % _Q, b % _Q

    def word(self, message: int) -> str:
        idx = [0] * self.length
        for i in reversed(self.free):
            radix = _Q if self.pattern[i] == "C" else len(VOWELS)
            message, idx[i] = divmod(message, radix)
        idx[self.checks[0]], idx[self.checks[1]] = self._checks(idx)
        return "".join((CONSONANTS if c == "C" else VOWELS)[i] for c, i in zip(self.pattern, idx))

    def message(self, word: str) -> Optional[int]:
        """The message of ``word`` if it is a codeword (lower case), else None."""
        if len(word) != self.length:
            return None
        idx = []
        for ch, c in zip(word, self.pattern):
            pos = (CONSONANTS if c == "C" else VOWELS).find(ch)
            if pos < 0:
                return None
            idx.append(pos)
        if (idx[self.checks[0]], idx[self.checks[1]]) != self._checks(idx):
            return None
        m = 0
        for i in self.free:
            m = m * (_Q if self.pattern[i] == "C" else len(VOWELS)) + idx[i]
        return m


# free letters: c1 v1 c2 v2 . v3 .  /  u0 c1 u1 c2 u2 . u3 . u4
SHORT = Code("CVCVCVC", "CVCVCVC", (0, 1, 2, 3, 5), (4, 6), offset=False)
LONG = Code("VCVCVCVCV", "VCVCVCVCV", (0, 1, 2, 3, 4, 6, 8), (5, 7), offset=True)
CODES = (SHORT, LONG)


def _banned(code: Code) -> list[int]:
    """Messages whose word occurs inside a first name, a name word or an English word."""
    banned = set()
    for word in (*FIRST_NAMES, *NAME_WORDS, *ENGLISH_WORDS):
        w = word.lower()
        for start in range(len(w) - code.length + 1):
            m = code.message(w[start:start + code.length])
            if m is not None:
                banned.add(m)
    return sorted(banned)


_BANNED = {c.name: _banned(c) for c in CODES}
_ALLOWED = {c.name: c.size - len(_BANNED[c.name]) for c in CODES}
_GROUPS = _ALLOWED[SHORT.name] // 2  # groups of 5 positions: 2 short words and 3 long ones
MIXED = _GROUPS * 5  #: positions below this: 40% short words, after it long ones only
ALLOWED = MIXED + _ALLOWED[LONG.name] - 3 * _GROUPS  #: world positions that have a core word


def _round(seed: int, tag: str, r: int, value: int, mask: int) -> int:
    digest = hashlib.blake2b(f"{seed}:{tag}:{r}:{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & mask


def _permute(seed: int, tag: str, x: int, n: int) -> int:
    """A seeded permutation of [0, n): a 4-round Feistel network with cycle-walking."""
    bits = (n - 1).bit_length()
    bits += bits % 2  # even, for a balanced Feistel
    half = bits // 2
    mask = (1 << half) - 1
    while True:
        left, right = x >> half, x & mask
        for r in range(4):
            left, right = right, left ^ _round(seed, tag, r, right, mask)
        x = (left << half) | right
        if x < n:
            return x


def _select_allowed(banned: list[int], rank: int) -> int:
    """The ``rank``-th message that is not banned."""
    index = rank
    while True:
        nxt = rank + bisect.bisect_right(banned, index)
        if nxt == index:
            return index
        index = nxt


def code_rank(seed: int, position: int) -> tuple[Code, int]:
    """The code of the entity at ``position`` and its rank among that code's allowed words."""
    if not 0 <= position < ALLOWED:
        raise ValueError(f"world position {position} is outside [0, {ALLOWED})")
    if position >= MIXED:
        return LONG, 3 * _GROUPS + position - MIXED
    group, offset = divmod(position, 5)
    slot = _group_order(seed, group).index(offset)  # which of the group's 5 words this one gets
    return (SHORT, 2 * group + slot) if slot < 2 else (LONG, 3 * group + slot - 2)


@lru_cache(maxsize=4096)
def _group_order(seed: int, group: int) -> tuple[int, ...]:
    """A seeded order of the 5 positions of a group: the first two get short words."""
    order = list(range(5))
    digest = int.from_bytes(hashlib.blake2b(f"{seed}:mix:{group}".encode(), digest_size=8).digest(), "big")
    for i in range(4, 0, -1):
        digest, j = divmod(digest, i + 1)
        order[i], order[j] = order[j], order[i]
    return tuple(order)


@lru_cache(maxsize=8192)
def core_word(seed: int, position: int) -> str:
    """The capitalised core word of the entity at world ``position`` (injective in position)."""
    code, rank = code_rank(seed, position)
    message = _select_allowed(_BANNED[code.name], _permute(seed, code.name, rank, _ALLOWED[code.name]))
    return code.word(message).capitalize()


def invented_word(rng, syllables: int = 2) -> str:
    """A pronounceable word for attribute values (currencies, awards, seas). Not unique."""
    onset = "bdfgklmnprstvz"
    parts = [rng.choice(onset) + rng.choice(VOWELS) for _ in range(syllables)]
    return ("".join(parts) + rng.choice("nlrs")).capitalize()


# --- checking names: close pairs without comparing every pair --------------------------------------


def phonotactic_pattern(word: str) -> str:
    """``word``'s consonant/vowel shape, e.g. ``Doravel`` -> ``CVCVCVC`` (y counts as a vowel)."""
    return "".join("V" if ch in "aeiouy" else "C" for ch in word.lower())


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Levenshtein distance of ``a`` and ``b``, or ``limit`` when it is at least ``limit``."""
    if abs(len(a) - len(b)) >= limit:
        return limit
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        if min(cur) >= limit:
            return limit
        prev = cur
    return min(prev[-1], limit)


def _deletions(word: str, k: int) -> set[str]:
    out, frontier = {word}, {word}
    for _ in range(k):
        frontier = {w[:i] + w[i + 1:] for w in frontier for i in range(len(w))}
        out |= frontier
    return out


def close_pairs(words: Iterable[str], max_distance: int = 2) -> list[tuple[str, str, int]]:
    """The pairs of distinct ``words`` (case-insensitive) within ``max_distance`` edits, found by
    bucketing: two words within k edits share a string that both reach by at most k deletions, so
    only words sharing a deletion variant are compared (no comparison of every pair). Variants
    are kept as 64-bit hashes in numpy arrays (a few tens of bytes per variant)."""
    import numpy as np

    unique = sorted({w.lower() for w in words})
    keys: list[int] = []
    owners: list[int] = []
    for i, w in enumerate(unique):
        for v in _deletions(w, max_distance):
            keys.append(hash(v))
            owners.append(i)
    if not keys:
        return []
    k = np.array(keys, dtype=np.int64)
    o = np.array(owners, dtype=np.int64)
    order = np.argsort(k, kind="stable")
    k, o = k[order], o[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    ends = np.r_[starts[1:], len(k)]
    multi = np.flatnonzero(ends - starts > 1)
    candidates = set()
    for g in multi.tolist():
        members = sorted(set(o[starts[g]:ends[g]].tolist()))
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                candidates.add((members[x], members[y]))
    out = []
    for x, y in sorted(candidates):
        d = edit_distance(unique[x], unique[y], max_distance + 1)
        if d <= max_distance:
            out.append((unique[x], unique[y], d))
    return out
