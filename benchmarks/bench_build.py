"""Speed and memory of a full build, against a naive baseline run in the same process.

A *bundle* is everything the build writes for one focal entity: the entity, its facts, a passage
with K paraphrases, 15 probes, statements and QA — validated with Pydantic and written to
parquet. The naive baseline runs the same pipeline the way one would write it first: Faker's
per-call API for every generated value (``seed_instance`` + a call per value) and one jinja2
``Template.render()`` per sentence, with no sentence reuse between a passage and its paraphrases.

    python benchmarks/bench_build.py                       # 1k ours vs naive, then 10k and 100k
    python benchmarks/bench_build.py --sizes 10000 --compare 500

Memory is the peak RSS of a build at each size, measured in a fresh subprocess (main process and
the largest worker), so the sizes can be compared.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fictional_knowledge import bundle as bundle_mod
from fictional_knowledge import render as render_mod
from fictional_knowledge import templates as templates_mod
from fictional_knowledge import world as world_mod
from fictional_knowledge.models import BuildConfig

build_mod = importlib.import_module("fictional_knowledge.build")  # the module (the package attribute is the function)

CHILD = """
import json, resource, sys, time
from fictional_knowledge.build import build
from fictional_knowledge.models import BuildConfig
start = time.perf_counter()
m = build(BuildConfig(seed=0, entities=int(sys.argv[2])), sys.argv[1], workers=int(sys.argv[3]))
seconds = time.perf_counter() - start
peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(json.dumps({"seconds": seconds, "peak_rss_mb": peak / 1024, "probes": m.configs["probes"].rows}))
"""


def timed_build(n: int, workers: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        build_mod.build(BuildConfig(seed=0, entities=n), Path(tmp) / "b", workers=workers)
        return time.perf_counter() - start


class _NaiveBank(render_mod.SentenceBank):
    """Renders every sentence anew instead of reusing the passage's renderings."""

    def __init__(self, plan, templates):
        self.templates = templates
        self.facts = {f.id: f for f in plan.own + tuple(x for g in plan.linked for x in g)}

    def pick(self, fact_id, rand, avoid):
        f = self.facts[fact_id]
        options = self.templates[f.subject.type].passage[f.relation]
        n = len(options)
        v = int(rand() * n) if avoid is None else (avoid + 1 + int(rand() * (n - 1))) % n
        connective = render_mod.CONNECTIVES[int(rand() * 6)] if rand() < render_mod.CONNECTIVE_RATE else None
        return render_mod.render_fact(options[v], f, connective), v


def naive_patches():
    """Patch the pipeline into the naive baseline; returns an undo function."""
    from faker import Faker

    fake = Faker()
    jinja_templates = {}
    for etype, t in templates_mod.load_templates().items():
        def slow(c):
            template = templates_mod.ENV.from_string(c.source)
            return dataclasses.replace(c, render=lambda ctx, _t=template: _t.render(ctx))

        def slow_map(d):
            return {k: tuple(slow(c) for c in v) for k, v in d.items()}

        jinja_templates[etype] = dataclasses.replace(
            t, intro=tuple(slow(c) for c in t.intro), passage=slow_map(t.passage), semantic=slow_map(t.semantic),
            question=slow_map(t.question), compositions=tuple((p, tuple(slow(c) for c in cs)) for p, cs in t.compositions))
    original_entity_at = world_mod.entity_at

    def faker_entity_at(seed, position, _cache={}):
        if (seed, position) not in _cache:
            fake.seed_instance(seed * 1_000_003 + position)
            e = original_entity_at.__wrapped__(seed, position)
            for _ in range(len(e.values) + 1):  # one Faker call per generated value, plus the name
                fake.first_name() if e.type == "person" else fake.word()
            _cache[(seed, position)] = e
        return _cache[(seed, position)]

    saved = (build_mod.load_templates, render_mod.SentenceBank, bundle_mod.SentenceBank, world_mod.entity_at)
    build_mod.load_templates = lambda directory=None: jinja_templates
    render_mod.SentenceBank = bundle_mod.SentenceBank = _NaiveBank
    world_mod.entity_at = faker_entity_at
    for module in (render_mod, bundle_mod):
        if hasattr(module, "entity_at"):
            module.entity_at = faker_entity_at
    import fictional_knowledge.facts as facts_mod
    facts_mod.entity_at = faker_entity_at

    def undo():
        build_mod.load_templates, render_mod.SentenceBank, bundle_mod.SentenceBank, world_mod.entity_at = saved
        for module in (render_mod, bundle_mod, facts_mod):
            if hasattr(module, "entity_at"):
                module.entity_at = saved[3]
    return undo


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--compare", type=int, default=1000, help="entities for the ours-vs-naive comparison")
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000], help="sizes for speed and memory")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()

    print(f"machine: {os.cpu_count()} cores; workers={args.workers}")
    timed_build(50, 1)  # warm-up: imports, template loading
    ours = timed_build(args.compare, args.workers)
    undo = naive_patches()
    try:
        naive = timed_build(args.compare, args.workers)
    finally:
        undo()
    ours_rate, naive_rate = args.compare / ours, args.compare / naive
    print(f"\n{args.compare:,} bundles   ours: {ours:7.2f} s = {ours_rate:8.0f} bundles/s")
    print(f"{args.compare:,} bundles  naive: {naive:7.2f} s = {naive_rate:8.0f} bundles/s")
    print(f"speed-up over the naive baseline: {ours_rate / naive_rate:.1f}x")

    print("\nsize        seconds   bundles/s   probes/s   peak RSS (MB)")
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            out = subprocess.run([sys.executable, "-c", CHILD, str(Path(tmp) / "b"), str(n), str(args.workers)],
                                 capture_output=True, text=True, check=True)
        r = json.loads(out.stdout)
        print(f"{n:>8,}  {r['seconds']:9.1f}  {n / r['seconds']:10.0f}  {r['probes'] / r['seconds']:9.0f}  {r['peak_rss_mb']:12.0f}")


if __name__ == "__main__":
    main()
