"""The frequency-controlled corpus (Wang et al. 2024): counted occurrences equal the recorded k."""

from __future__ import annotations

import math
import random
from collections import Counter

import pyarrow.parquet as pq
import pytest

from fictional_knowledge.dataset.io import read_rows
from fictional_knowledge.regimes import make_regime
from fictional_knowledge.regimes.frequency import ZipfSampler
from fictional_knowledge.generate.render import CONNECTIVES
from fictional_knowledge.generate.templates import load_templates
from fictional_knowledge.generate.world import RELATIONS


def _rows(folder, config, split):
    return [r for f in sorted((folder / "data" / config).glob(f"{split}-*.parquet")) for r in pq.read_table(f).to_pylist()]


@pytest.fixture(scope="module")
def regime(tiny_build, tmp_path_factory):
    out = tmp_path_factory.mktemp("frequency") / "r"
    manifest = make_regime("frequency", tiny_build, out, seed=0, exponent=1.2, max_count=40)
    data = {(c, s): _rows(out, c, s) for c, splits in manifest.configs.items() for s in splits}
    return manifest, data


def _sentences_of_fact(tiny_build) -> dict[str, set[str]]:
    """Every sentence that states each fact, rendered here from the template sources (jinja2)."""
    import jinja2

    from fictional_knowledge.generate.templates import a_an

    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters["a_an"] = a_an
    templates = load_templates()
    entities = {e["id"]: e for e in read_rows(tiny_build, "entities")}
    out = {}
    for f in read_rows(tiny_build, "facts"):
        subject = entities[f["subject_id"]]
        ref = subject["name"] if subject["type"] not in ("river", "event") else f"the {subject['name']}"
        ctx = {"subject": ref, "Subject": ref[0].upper() + ref[1:], "object": f["object"]}
        forms = set()
        for t in templates[subject["type"]].passage[f["relation"]]:
            forms.add(env.from_string(t.source).render(ctx))
            if t.source.startswith("{{ Subject }}"):
                lower = env.from_string(t.source).render(dict(ctx, Subject=ref))
                forms.update(f"{c} {lower}" for c in CONNECTIVES)
        out[f["id"]] = forms
    return out


def test_counted_occurrences_equal_the_recorded_k_exactly(regime, tiny_build):
    _, data = regime
    sentences = _sentences_of_fact(tiny_build)
    states = {}
    for fid, forms in sentences.items():
        for s in forms:
            assert states.setdefault(s, fid) == fid, "one sentence states two facts"
    counted = Counter(states[row["text"]] for row in data[("corpus", "train")])  # KeyError: a sentence of no fact
    recorded = {r["fact_id"]: r["k"] for r in data[("frequencies", "train")]}
    assert set(recorded) == {f["id"] for f in read_rows(tiny_build, "facts")}
    assert dict(counted) == recorded
    assert all(1 <= k <= 40 for k in recorded.values()) and max(recorded.values()) > 10


def test_occurrences_vary_over_templates_and_connectives(regime, tiny_build):
    _, data = regime
    statements = {s["fact_id"]: s["text"] for s in read_rows(tiny_build, "statements")}
    forms = _sentences_of_fact(tiny_build)
    by_fact: dict[str, list[tuple[int, str]]] = {}
    for row in data[("corpus", "train")]:
        by_fact.setdefault(row["fact_id"], []).append((row["occurrence"], row["text"]))
    for fid, occ in by_fact.items():
        occ.sort()
        assert [i for i, _ in occ] == list(range(len(occ)))
        assert occ[0][1] == statements[fid]
        assert len({t for _, t in occ}) == min(len(occ), len(forms[fid]))  # no repeat before all forms are used
    big = max(by_fact.values(), key=len)
    assert len(big) > 3 and any(t.startswith(tuple(CONNECTIVES)) for _, t in big)


def test_probes_are_unseen_clozes_with_their_k(regime):
    _, data = regime
    corpus = {row["text"] for row in data[("corpus", "train")]}
    k = {r["fact_id"]: r["k"] for r in data[("frequencies", "train")]}
    for p in data[("probes", "test")]:
        assert p["k"] == k[p["fact_id"]]
        assert f"{p['input']} {p['target']}." not in corpus
    assert {p["relation"] for p in data[("probes", "test")]} <= {r for rels in RELATIONS.values() for r in rels}


@pytest.mark.parametrize("exponent,max_count", [(1.5, 100), (1.0, 10), (0.0, 5)])
def test_bounded_zipf_sampler_matches_its_distribution(exponent, max_count):
    sampler = ZipfSampler(exponent, max_count)
    weights = [j ** -exponent for j in range(1, max_count + 1)]
    probs = [w / sum(weights) for w in weights]
    assert all(math.isclose(sampler.probability(j), p) for j, p in zip(range(1, max_count + 1), probs))
    rng = random.Random(7)
    n = 40_000
    counts = Counter(sampler.sample(rng.random()) for _ in range(n))
    assert set(counts) <= set(range(1, max_count + 1))
    for j in (1, 2, max_count):
        expected = n * probs[j - 1]
        assert abs(counts[j] - expected) < 5 * math.sqrt(expected) + 2, (j, counts[j], expected)
    assert sampler.sample(0.0) == 1 and sampler.sample(0.999999999) == max_count
