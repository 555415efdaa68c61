"""Loading the template folder, against ``generate/templates.py`` of an earlier commit, in one process.

Every command that builds text loads ``templates/*.yaml`` once per process: it parses ~9,000
readings and runs the load-time ambiguity checks. The baseline is the file
``fictional_knowledge/generate/templates.py`` at ``--baseline-rev`` (``git show``), imported as a
module of its own on top of *this* package, so only the loader's code differs. The two load the
same folder (uncached) in alternation, ``--repeats`` times, and the script prints each ratio; it
checks that both compile the same templates (same sources, same rendering of every clause) and
exits with an error otherwise.

    python benchmarks/bench_templates.py                       # 3 repeats, against 24f48f2
    python benchmarks/bench_templates.py --repeats 5 --baseline-rev HEAD~1
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from bench_planner import import_module_at  # a sibling script: benchmarks/ is on sys.path when run
from fictional_knowledge.generate import templates
from fictional_knowledge.resources import templates_dir

BASELINE_REV = "24f48f2"  # main before the loader speed work


def import_baseline(rev: str, into: Path):
    """``generate/templates.py`` at ``rev`` as the module ``templates_baseline``."""
    return import_module_at(rev, "fictional_knowledge/generate/templates.py", "templates_baseline", into)


def load(module) -> tuple[float, dict]:
    start = time.process_time()
    got = module._load_folder.__wrapped__(str(templates_dir()))  # uncached
    return time.process_time() - start, got


def same(a: dict, b: dict) -> bool:
    """Both loads compiled the same clauses, openers and sentences, rendering alike."""
    ctx = {"object": "Vado", "subject": "Kiro", "Subject": "Kiro", "their": "its"}
    for etype in a:
        for field in ("clauses", "openers", "passage", "semantic", "question"):
            x, y = getattr(a[etype], field), getattr(b[etype], field)
            if x.keys() != y.keys():
                return False
            for rel in x:
                if [c.source for c in x[rel]] != [c.source for c in y[rel]]:
                    return False
                if [c.render(ctx) for c in x[rel]] != [c.render(ctx) for c in y[rel]]:
                    return False
    return True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--baseline-rev", default=BASELINE_REV)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fk-bench-templates-") as tmp:
        baseline = import_baseline(args.baseline_rev, Path(tmp))
        ratios = []
        for i in range(args.repeats):
            order = [(templates, "ours"), (baseline, "base")] if i % 2 == 0 else [(baseline, "base"), (templates, "ours")]
            got = {name: load(module) for module, name in order}
            if i == 0 and not same(got["ours"][1], got["base"][1]):
                print("error: the two loaders compiled different templates", file=sys.stderr)
                return 1
            ratio = got["base"][0] / got["ours"][0]
            ratios.append(ratio)
            print(f"repeat {i + 1}: ours {got['ours'][0]:.2f} s, baseline ({args.baseline_rev}) "
                  f"{got['base'][0]:.2f} s CPU: {ratio:.2f}x faster", flush=True)
    print(f"median {sorted(ratios)[len(ratios) // 2]:.2f}x over {args.repeats} repeats")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
