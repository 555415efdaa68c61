"""Text statistics of passages (``fkgen stats``), with the definitions of issue 11's table, so that
any corpus, the original FICTIONAL KNOWLEDGE included, is measured by the same code.

- sentences: a passage split by ``(?<=[.!?])\\s+(?=[A-Z])``; sentence length: its number of
  whitespace-separated words (mean and sample sd over all sentences, pooled);
- tokens: the lower-cased passage split by ``\\w+|[^\\w\\s]``; distinct-n: distinct token n-grams
  / all token n-grams, pooled over the passages (n-grams never cross passages);
- skeleton: a sentence with ``\\b[A-Z][a-z]+\\b`` replaced by ``X``, then ``[\\d,]+`` by ``N``;
  reported as distinct skeletons / sentences;
- pronouns (he she it they him her its their his them) per 100 alphabetic tokens;
- same opening: the share of consecutive sentence pairs of a passage whose first two words are
  equal;
- words per passage (mean of whitespace words);
- facts per 100 words (builds only): facts stated (``fact_ids``) per 100 words, pooled;
- paraphrase Jaccard: the mean over (passage, paraphrase) pairs of the Jaccard index of their
  sets of token bigrams (builds, or files whose rows have ``paraphrases``).
"""

from __future__ import annotations

import json
import math
import random
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Optional

from fictional_knowledge.dataset.io import read_records
from fictional_knowledge.errors import InputError

SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
TOKEN = re.compile(r"\w+|[^\w\s]")
CAPITALISED = re.compile(r"\b[A-Z][a-z]+\b")
NUMBER = re.compile(r"[\d,]+")
PRONOUNS = frozenset("he she it they him her its their his them".split())


class StatsError(InputError):
    """The input cannot be measured; the message is one line for the user."""


@dataclass(frozen=True)
class PassageRow:
    text: str
    paraphrases: tuple[str, ...] = ()
    facts: Optional[int] = None  # number of fact ids, for builds


@dataclass(frozen=True)
class TextStats:
    source: str
    passages: int
    sentences: int
    words_per_passage: float
    sentence_length_mean: float
    sentence_length_sd: float
    distinct_2: float
    distinct_3: float
    skeletons_per_sentence: float
    pronouns_per_100_words: float
    same_opening_rate: float
    facts_per_100_words: Optional[float]
    paraphrase_bigram_jaccard: Optional[float]
    soundness: Optional[dict] = None  # builds only: ``soundness.build_figures``

    def to_dict(self) -> dict:
        return asdict(self)


def sentences(text: str) -> list[str]:
    return [s for s in SENTENCE_SPLIT.split(text.strip()) if s]


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def skeleton(sentence: str) -> str:
    return NUMBER.sub("N", CAPITALISED.sub("X", sentence))


def _ngrams(toks: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(toks[i:i + n]) for i in range(len(toks) - n + 1)]


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def measure(rows: Iterable[PassageRow], source: str = "") -> TextStats:
    """The statistics of ``rows`` (see the module docstring for the definitions)."""
    n_passages = 0
    lengths: list[int] = []
    words_total = 0
    ngram_sets = {2: set(), 3: set()}
    ngram_totals = {2: 0, 3: 0}
    skeletons: set[str] = set()
    pronouns = alphabetic = 0
    pairs = same = 0
    facts_total, fact_words, has_facts = 0, 0, False
    jaccards: list[float] = []
    for row in rows:
        n_passages += 1
        sents = sentences(row.text)
        lengths += [len(s.split()) for s in sents]
        words = len(row.text.split())
        words_total += words
        toks = tokens(row.text)
        for n in (2, 3):
            grams = _ngrams(toks, n)
            ngram_sets[n].update(grams)
            ngram_totals[n] += len(grams)
        skeletons.update(skeleton(s) for s in sents)
        alpha = [t for t in toks if t.isalpha()]
        alphabetic += len(alpha)
        pronouns += sum(t in PRONOUNS for t in alpha)
        openings = [tuple(s.split()[:2]) for s in sents]
        pairs += max(len(openings) - 1, 0)
        same += sum(a == b for a, b in zip(openings, openings[1:]))
        if row.facts is not None:
            has_facts = True
            facts_total += row.facts
            fact_words += words
        if row.paraphrases:
            own = set(_ngrams(toks, 2))
            jaccards += [_jaccard(own, set(_ngrams(tokens(p), 2))) for p in row.paraphrases]
    if not n_passages:
        raise StatsError(f"{source or 'the input'} holds no passages")
    mean = sum(lengths) / len(lengths) if lengths else 0.0
    sd = math.sqrt(sum((x - mean) ** 2 for x in lengths) / (len(lengths) - 1)) if len(lengths) > 1 else 0.0
    return TextStats(
        source=source, passages=n_passages, sentences=len(lengths),
        words_per_passage=words_total / n_passages,
        sentence_length_mean=mean, sentence_length_sd=sd,
        distinct_2=len(ngram_sets[2]) / ngram_totals[2] if ngram_totals[2] else 0.0,
        distinct_3=len(ngram_sets[3]) / ngram_totals[3] if ngram_totals[3] else 0.0,
        skeletons_per_sentence=len(skeletons) / len(lengths) if lengths else 0.0,
        pronouns_per_100_words=100 * pronouns / alphabetic if alphabetic else 0.0,
        same_opening_rate=same / pairs if pairs else 0.0,
        facts_per_100_words=100 * facts_total / fact_words if has_facts and fact_words else None,
        paraphrase_bigram_jaccard=sum(jaccards) / len(jaccards) if jaccards else None,
    )


# ------------------------------------------------------------------------------------------------
# reading passages


def _row(record: dict, where: str) -> PassageRow:
    text = record.get("train_context", record.get("text"))
    if not isinstance(text, str):
        raise StatsError(f"{where}: no string field 'train_context' or 'text'")
    paras = record.get("paraphrases") or ()
    if not isinstance(paras, (list, tuple)) or not all(isinstance(p, str) for p in paras):
        raise StatsError(f"{where}: 'paraphrases' is not a list of strings")
    facts = record.get("fact_ids")
    return PassageRow(text, tuple(paras), len(facts) if isinstance(facts, list) else None)


def _file_records(path: Path) -> list[dict]:
    if path.suffix.lower() not in (".json", ".jsonl", ".parquet"):
        raise StatsError(f"{path}: expected a build folder or a .json, .jsonl or .parquet file")
    data = read_records(path, StatsError)
    if isinstance(data, dict):  # {"train": [...]} or {"data": [...]}
        lists = [v for v in data.values() if isinstance(v, list)]
        data = lists[0] if len(lists) == 1 else [data]
    return data if isinstance(data, list) else [data]


def read_passages(path: str | Path, sample: Optional[int] = None, seed: int = 0) -> list[PassageRow]:
    """The passages of a build folder (config ``passages``) or of a JSON/JSONL/parquet file with a
    ``train_context`` or ``text`` field; ``sample`` of them drawn with ``random.Random(seed)``
    (all of them, in order, when ``sample`` is None or not smaller than their number)."""
    path = Path(path)
    if not path.exists():
        raise StatsError(f"{path} does not exist")
    if path.is_dir():
        if not (path / "data" / "passages").is_dir():
            raise StatsError(f"{path} is not a build folder (no data/passages)")
        records = _build_passages(path)
    else:
        records = _file_records(path)
    if sample is not None and sample < len(records):
        keep = sorted(random.Random(seed).sample(range(len(records)), sample))
        records = [records[i] for i in keep]
    rows = []
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise StatsError(f"{path}: row {i} is not an object")
        rows.append(_row(record, f"{path}: row {i}"))
    return rows


def _build_passages(build: Path) -> list[dict]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    records = []
    for file in sorted((build / "data" / "passages").glob("*.parquet")):
        try:
            records += pq.read_table(file, columns=["text", "paraphrases", "fact_ids"]).to_pylist()
        except (pa.ArrowException, OSError, KeyError) as err:
            raise StatsError(f"{file}: unreadable parquet: {str(err).splitlines()[0]}") from None
    return records


# ------------------------------------------------------------------------------------------------
# output

ROWS = [
    ("passages", "passages", "{:d}"),
    ("sentences", "sentences", "{:d}"),
    ("words per passage", "words_per_passage", "{:.1f}"),
    ("mean sentence length, words (sd)", ("sentence_length_mean", "sentence_length_sd"), "{:.1f} ({:.1f})"),
    ("distinct-2 / distinct-3", ("distinct_2", "distinct_3"), "{:.3f} / {:.3f}"),
    ("distinct sentence skeletons / sentences", "skeletons_per_sentence", "{:.3f}"),
    ("pronouns per 100 words", "pronouns_per_100_words", "{:.2f}"),
    ("consecutive sentences opening with the same two words", "same_opening_rate", "{:.3f}"),
    ("facts per 100 words", "facts_per_100_words", "{:.2f}"),
    ("paraphrase-passage bigram Jaccard", "paraphrase_bigram_jaccard", "{:.3f}"),
]


def format_table(stats: TextStats) -> str:
    """A Markdown table: metric | value (``—`` where the input has no such data)."""
    lines = ["| metric | value |", "|---|---|"]
    d = stats.to_dict()
    for label, keys, fmt in ROWS:
        keys = keys if isinstance(keys, tuple) else (keys,)
        values = [d[k] for k in keys]
        lines.append(f"| {label} | {'—' if any(v is None for v in values) else fmt.format(*values)} |")
    return "\n".join(lines)


def write_json(stats: TextStats, path: str | Path) -> Path:
    """Write the statistics as JSON atomically (:func:`fictional_knowledge.atomic.write_text`)."""
    from fictional_knowledge.atomic import write_text

    return write_text(path, json.dumps(stats.to_dict(), indent=2) + "\n", flag="--json")

