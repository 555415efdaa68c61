"""A frequency-controlled corpus (after Wang et al. 2024, "Generalization v.s. Memorization:
Tracing Language Models' Capabilities Back to Pretraining Data"): every fact of the build occurs
exactly ``k`` times, with ``k`` drawn per fact from a bounded Zipf law, so a model's probability of
a fact can be correlated with a frequency known exactly.

``P(k) = k^-s / H(K, s)`` on ``k = 1..K`` (``s = exponent``, ``K = max_count``), sampled by
inverting the cumulative weights with the fact's own seeded RNG (a fact's ``k`` does not depend on
any other fact). The default ``s = 1.5, K = 100`` gives a long tail like entity frequencies in
web text: P(1) = 41%, P(2) = 15%, a median of 2, a mean of 7.7, and a few facts near 100.

Occurrence ``i`` of a fact is sentence ``i`` (cycling) of: the fact's passage templates in its
statement order (occurrence 0 is the build's statement), then those sentences led by each of the
connectives that paraphrases use. Every corpus row is one sentence stating one fact.

Configs: ``corpus`` (``train``: sentences in a seeded order), ``frequencies`` (``train``:
``fact_id, k``), ``probes`` (``test``: one cloze per fact from the semantic templates, which no
corpus sentence uses, with its ``k``).
"""

from __future__ import annotations

import bisect
from collections import Counter
from itertools import accumulate
from typing import Literal

from fictional_knowledge.generate.facts import WorldFact
from fictional_knowledge.generate.probes import split_cloze
from fictional_knowledge.generate.render import CONNECTIVES, render_fact, statement_variants
from fictional_knowledge.generate.seeding import item_rng, make_id
from fictional_knowledge.regimes.common import Row, Source, seeded_stream
from fictional_knowledge.regimes.options import FrequencyOptions

SUMMARY = ("A frequency-controlled corpus after Wang et al. (2024): each fact occurs exactly k times, k "
           "drawn per fact from a bounded Zipf law, in sentences that vary over its templates and "
           "connectives; `frequencies` records k and `probes` has an unseen cloze per fact, so model "
           "probability can be correlated with an exactly known frequency.")
DESCRIPTIONS = {
    "corpus": "one sentence stating one fact (occurrence i of its k)",
    "frequencies": "a fact and the number of corpus sentences that state it",
    "probes": "a cloze probe of a fact from a semantic template (never in the corpus), with its k",
}


def describe(opts) -> dict[str, str]:
    """What one row of each config is (for the README)."""
    return DESCRIPTIONS


class CorpusSentence(Row):
    id: str
    fact_id: str
    entity_id: str
    occurrence: int
    text: str


class FactFrequency(Row):
    fact_id: str
    entity_id: str
    relation: str
    object: str
    k: int


class FrequencyProbe(Row):
    id: str
    kind: Literal["semantic"] = "semantic"
    fact_id: str
    entity_id: str
    relation: str
    input: str
    target: str
    k: int


class ZipfSampler:
    """Bounded Zipf: ``P(k) = k^-s / sum_{j<=K} j^-s`` for ``k`` in ``1..K``."""

    def __init__(self, exponent: float, max_count: int):
        self.cumulative = list(accumulate(k ** -exponent for k in range(1, max_count + 1)))

    def sample(self, u: float) -> int:
        """The ``k`` of a uniform ``u`` in [0, 1) (inverse CDF)."""
        return min(bisect.bisect_right(self.cumulative, u * self.cumulative[-1]), len(self.cumulative) - 1) + 1

    def probability(self, k: int) -> float:
        return (self.cumulative[k - 1] - (self.cumulative[k - 2] if k > 1 else 0.0)) / self.cumulative[-1]


def sentences_of(seed: int, f: WorldFact, templates) -> list[str]:
    """The sentences occurrences of ``f`` cycle through (see the module docstring)."""
    options = templates[f.subject.type].passage[f.relation]
    plain = statement_variants(seed, f, templates, len(options))
    lower = {render_fact(t, f): render_fact(t, f, CONNECTIVES[0])[len(CONNECTIVES[0]) + 1:]
             for t in options if t.source.startswith("{{ Subject }}")}
    return plain + [f"{c} {lower[s]}" for c in CONNECTIVES for s in plain if s in lower]


def probe_of(seed: int, f: WorldFact, templates) -> tuple[str, str]:
    options = templates[f.subject.type].semantic[f.relation]
    text = render_fact(options[item_rng(seed, "frequency:probe", f.id).randrange(len(options))], f)
    return split_cloze(text, f.object), f.object


def make(source: Source, opts: FrequencyOptions, seed: int):
    """``(configs, notes)``: every split streams over the build's facts (computed per entity from
    the world), so memory does not grow with the build; the corpus goes through
    :func:`seeded_stream`, and ``notes`` is filled while the corpus is written."""
    sampler = ZipfSampler(opts.exponent, opts.max_count)
    counts: Counter[int] = Counter()  # k -> facts with that k, filled by the corpus pass

    def facts():
        for _, fs in source.entity_facts():
            for f in fs:
                yield f, sampler.sample(item_rng(seed, "frequency:k", f.id).random())

    def corpus():
        counts.clear()
        for f, k in facts():
            counts[k] += 1
            sentences = sentences_of(source.seed, f, source.templates)
            for i in range(k):
                yield CorpusSentence(id=make_id("sentence", source.seed, f.id, i), fact_id=f.id,
                                     entity_id=f.subject.id, occurrence=i, text=sentences[i % len(sentences)])

    def freqs():
        for f, k in facts():
            yield FactFrequency(fact_id=f.id, entity_id=f.subject.id, relation=f.relation, object=f.object, k=k)

    def probes():
        for f, k in facts():
            inp, target = probe_of(seed, f, source.templates)
            yield FrequencyProbe(id=make_id("probe", source.seed, f.id, inp), fact_id=f.id, entity_id=f.subject.id,
                                 relation=f.relation, input=inp, target=target, k=k)

    def notes() -> dict:
        n = sum(counts.values())
        sentences = sum(k * c for k, c in counts.items())
        median, seen = None, 0
        for k in sorted(counts):  # ks[n // 2] of the sorted list of every fact's k
            seen += counts[k]
            if seen > n // 2:
                median = k
                break
        return {"facts": n, "sentences": sentences, "k_max": max(counts), "k_median": median,
                "k_mean": round(sentences / n, 4), "share_k1": round(counts[1] / n, 4)}

    configs = {"corpus": {"train": lambda: seeded_stream(seed, "frequency:corpus", corpus(), key=lambda s: s.id)},
               "frequencies": {"train": freqs}, "probes": {"test": probes}}
    return configs, notes
