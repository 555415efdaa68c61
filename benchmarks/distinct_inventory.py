"""How distinct-2/3 depends on the size of the template inventory (issue 11's distinct-n target).

``fkgen stats`` pools distinct-n over a sample of passages. With template generation, most word
pairs of a passage come from the prose clauses of ``templates/*.yaml``; a build of 130 passages
already uses most of the word pairs those clauses hold. This script measures how far distinct-n
moves with the inventory: it builds the same config (same seed, same world, same facts) with every
relation's clause and opener list cut to its first ``fraction`` of source lines (each source line
keeps all its word alternations), for each fraction, in this process, and prints distinct-2/3 of
the same ``fkgen stats`` sample, beside the number of word pairs the cut inventory holds.

Two least-squares lines, of distinct-n against the fraction and against log2(fraction), then say
roughly how many times today's inventory the targets (distinct-2 >= 0.45, distinct-3 >= 0.70) would
need if the trend held beyond the measured range. Both are extrapolations, printed as such: a
curve that flattens as the inventory grows (diminishing returns) makes the linear figure too low,
and one that rises faster than log2 makes the log2 figure too high.

    python benchmarks/distinct_inventory.py                       # fractions 0.25 0.5 1, 1000 entities
    python benchmarks/distinct_inventory.py --fractions 0.5 1 --entities 300 --sample 50

The cut inventories are for measurement only: they break the loader's own rules (at least 8
clauses per relation), so the script swaps the compiled templates in after loading.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import re
import sys
import tempfile
from pathlib import Path

import yaml

from fictional_knowledge.dataset import builder
from fictional_knowledge.dataset.stats import _ngrams, measure, read_passages, tokens
from fictional_knowledge.generate.templates import expand, load_templates
from fictional_knowledge.models import BuildConfig

REPO = Path(__file__).resolve().parent.parent
TARGETS = {"distinct_2": 0.45, "distinct_3": 0.70}


def _cut(compiled: tuple, sources: list[str], fraction: float) -> tuple:
    """The readings of the first ``fraction`` of ``sources`` (at least one source line)."""
    keep = max(1, math.ceil(len(sources) * fraction))
    n = sum(len(expand(s)) for s in sources[:keep])
    assert sum(len(expand(s)) for s in sources) == len(compiled), "readings and sources disagree"
    return compiled[:n]


def cut_templates(fraction: float) -> tuple[dict, int]:
    """Every type's templates with clause and opener lists cut to ``fraction``, and the number of
    distinct word pairs (inside a clause, slots removed) the cut inventory holds."""
    out, pairs = {}, set()
    for etype, t in load_templates().items():
        spec = yaml.safe_load(t.file.read_text(encoding="utf-8"))["relations"]
        new = {}
        for field in ("clauses", "openers"):
            table = {}
            for rel, compiled in getattr(t, field).items():
                sources = spec[rel].get(field) or []
                table[rel] = _cut(compiled, sources, fraction) if compiled else compiled
                for src in sources[:max(1, math.ceil(len(sources) * fraction))]:
                    for reading in expand(src):
                        for seg in re.split(r"\{\{.*?\}\}", reading):
                            pairs.update(_ngrams(tokens(seg), 2))
            new[field] = table
        out[etype] = dataclasses.replace(t, **new)
    return out, len(pairs)


def measure_fraction(fraction: float, entities: int, sample: int, out: Path) -> dict:
    templates, pairs = cut_templates(fraction)
    original = builder.load_templates
    builder.load_templates = lambda directory=None: templates
    try:
        builder.build(BuildConfig(seed=0, entities=entities), out, workers=1, overwrite=True)
    finally:
        builder.load_templates = original
    s = measure(read_passages(out, sample=sample, seed=0))
    return {"fraction": fraction, "pairs": pairs, "distinct_2": s.distinct_2, "distinct_3": s.distinct_3,
            "words": s.words_per_passage}


def fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares slope and intercept of ys on xs."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return slope, my - slope * mx


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    ap.add_argument("--entities", type=int, default=1000)
    ap.add_argument("--sample", type=int, default=130, help="passages pooled, as `fkgen stats --sample`")
    args = ap.parse_args(argv)
    if any(not 0 < f <= 1 for f in args.fractions) or len(set(args.fractions)) < 2:
        ap.error("--fractions: at least two different values in (0, 1]")
    rows = []
    with tempfile.TemporaryDirectory(prefix="fk-distinct-") as tmp:
        for f in sorted(args.fractions):
            rows.append(measure_fraction(f, args.entities, args.sample, Path(tmp) / f"b{f}"))
            r = rows[-1]
            print(f"fraction {f:5.3f}: {r['pairs']:6d} word pairs in the clauses, "
                  f"distinct-2 {r['distinct_2']:.3f}, distinct-3 {r['distinct_3']:.3f}, "
                  f"{r['words']:.0f} words per passage", flush=True)
    print(f"\nseed 0, {args.entities} entities, {args.sample} passages pooled (fkgen stats' definitions)")
    print("the inventory today's targets need, extrapolated beyond the measured fractions:")
    for key, target in TARGETS.items():
        ys = [r[key] for r in rows]
        need = {}
        for name, xs, back in (("linear in the fraction", [r["fraction"] for r in rows], lambda x: x),
                               ("linear in log2(fraction)", [math.log2(r["fraction"]) for r in rows], lambda x: 2 ** x)):
            slope, intercept = fit(xs, ys)
            need[name] = back((target - intercept) / slope) if slope > 0 else math.inf
        print(f"  {key.replace('_', '-')} >= {target}: " + "; ".join(f"{v:.1f}x today's clauses ({k})" for k, v in need.items()))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
