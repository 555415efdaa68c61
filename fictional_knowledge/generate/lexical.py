"""Lexical overlap between a passage and its paraphrases."""

from __future__ import annotations

import re
from statistics import mean

_TOKEN = re.compile(r"\w+|[^\w\s]")


def bigrams(text: str) -> set[tuple[str, str]]:
    tokens = _TOKEN.findall(text.lower())
    return set(zip(tokens, tokens[1:]))


def bigram_jaccard(a: str, b: str) -> float:
    """Jaccard similarity of the token-bigram sets of two texts (1 = same bigrams)."""
    x, y = bigrams(a), bigrams(b)
    return len(x & y) / len(x | y) if x | y else 1.0


def paraphrase_overlap(passages) -> dict[str, float]:
    """Mean, min and max bigram Jaccard between each passage and each of its paraphrases."""
    values = [bigram_jaccard(p["text"], q) for p in passages for q in p["paraphrases"]]
    if not values:
        raise ValueError("no paraphrases to compare")
    return {"mean": mean(values), "min": min(values), "max": max(values), "pairs": len(values)}
