"""The prose planner alone, against ``generate/planner.py`` of an earlier commit, in the same process.

Times what the planner does for a bundle: plan a focal entity's content, write its passage and its
K paraphrases (``plan_content``, ``write_passage``, ``paraphrase_sentences``). The baseline is the
file ``fictional_knowledge/generate/planner.py`` at ``--baseline-rev`` (``git show``), imported as a
module of its own on top of *this* package's world, templates and renderer, so only the planner's
own code differs. The two run bundle by bundle in alternation (which one goes first alternates
too), so a load from other processes that comes and goes falls on both alike: on a shared
machine this ratio is far steadier than a whole build's. The script checks that both write the same
text, the same facts per sentence and the same clause choices, and exits with an error otherwise.

    python benchmarks/bench_planner.py                          # 400 bundles x 3, against 6012004
    python benchmarks/bench_planner.py --entities 1000 --baseline-rev HEAD~3
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fictional_knowledge.generate import planner
from fictional_knowledge.generate.seeding import item_rng
from fictional_knowledge.generate.templates import load_templates
from fictional_knowledge.generate.world import entity_at
from fictional_knowledge.models import BuildConfig

REPO = Path(__file__).resolve().parent.parent
BASELINE_REV = "6012004"  # main before the planner speed work


def import_module_at(rev: str, path: str, name: str, into: Path):
    """The file ``path`` of the repository at ``rev`` as the module ``name`` (on top of this package)."""
    source = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:{path}"],
                            capture_output=True, text=True, check=True).stdout
    file = into / f"{name}.py"
    file.write_text(source)
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def import_baseline_planner(rev: str, into: Path):
    """``generate/planner.py`` at ``rev`` as the module ``planner_baseline``."""
    return import_module_at(rev, "fictional_knowledge/generate/planner.py", "planner_baseline", into)


def plan_bundle(module, seed: int, position: int, config: BuildConfig, templates, digest) -> None:
    """The planner's work for one bundle (as ``bundle._passage`` and ``bundle.prose_sentences`` do
    it, less the rare re-plan of an over-long passage), fed into ``digest``."""
    entity = entity_at(seed, position)
    rng = item_rng(seed, "passage", entity.id)
    target = rng.randint(config.passage_min_words, min(config.passage_max_words, config.passage_min_words + 150))
    content = module.plan_content(seed, entity, templates, rng, target_words=target)
    sentences, used = module.write_passage(seed, content, templates, rng, config.memorization_probes)
    paraphrases = module.paraphrase_sentences(seed, content, templates, item_rng(seed, "paraphrases", entity.id),
                                              used, config.paraphrases)
    for text in [sentences] + paraphrases:
        digest.update(module.join(text).encode())
        for s in (s for para in text for s in para):
            digest.update(repr((s.fact.id if s.fact else None, [f.id for f in s.facts], s.variant, s.named)).encode())
    digest.update(repr(sorted(used.items())).encode())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entities", type=int, default=400, help="bundles (world positions 0..N-1) per repeat")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--baseline-rev", default=BASELINE_REV)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    config = BuildConfig(seed=args.seed, entities=args.entities)
    templates = load_templates()
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="bench-planner-") as tmp:
        baseline = import_baseline_planner(args.baseline_rev, Path(tmp))
        for position in range(args.entities):  # the world's caches, for both alike
            plan_bundle(baseline, args.seed, position, config, templates, hashlib.sha256())
        gc.disable()  # as the build does while it makes a chunk
        clock = time.perf_counter
        print(f"\n{args.entities:,} bundles (passage + {config.paraphrases} paraphrases); baseline = planner.py at "
              f"{args.baseline_rev}")
        print("          ours ms/bundle  baseline ms/bundle  ratio")
        ratios = []
        for r in range(args.repeats):
            seconds = {"ours": 0.0, "baseline": 0.0}
            digests = {"ours": hashlib.sha256(), "baseline": hashlib.sha256()}
            for position in range(args.entities):
                order = (("ours", planner), ("baseline", baseline))
                for label, module in (order if position % 2 else order[::-1]):
                    start = clock()
                    plan_bundle(module, args.seed, position, config, templates, digests[label])
                    seconds[label] += clock() - start
            if digests["ours"].digest() != digests["baseline"].digest():
                sys.exit("error: the planner writes other text or other choices than the baseline's")
            ratios.append(seconds["baseline"] / seconds["ours"])
            print(f"  run {r + 1}  {seconds['ours'] / args.entities * 1e3:14.2f}  "
                  f"{seconds['baseline'] / args.entities * 1e3:18.2f}  {ratios[-1]:5.2f}x")
        print(f"  speed-up over the baseline: {', '.join(f'{x:.2f}x' for x in ratios)} (same output)")
        print(f"  load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
