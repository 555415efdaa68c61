"""Build speed and memory, against the pipeline of an earlier commit run in the same process.

A *bundle* is everything the build writes for one focal entity: the entity, its facts, a passage
with K paraphrases, 15 probes, statements and QA, every row validated with Pydantic and written
to parquet.

The baseline is the package as it was at ``--baseline-rev`` (default: the commit before the
speed work of issue 8), taken from git with ``git archive`` into a temporary folder and imported
under the name ``fk_baseline``. Ours and the baseline then build the same config in the same
process, alternately, ``--repeats`` times, and the script prints each ratio. It also checks that
both produce the same fingerprints (the speed work must not change the data).

    python benchmarks/bench_build.py                       # 20k ratio x3, then 20k/100k whole-process
    python benchmarks/bench_build.py --compare 2000 --repeats 3 --sizes

Whole-process figures (``--sizes``) run a build in a fresh ``python`` (start-up and imports
included) for ours and, up to ``--baseline-max`` entities, for the baseline, and report the peak
RSS (main process or largest worker).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fictional_knowledge.dataset.builder import build
from fictional_knowledge.models import BuildConfig

REPO = Path(__file__).resolve().parent.parent
BASELINE_REV = "dcdacb6"  # main before the issue-8 speed work

CHILD = """
import importlib, json, resource, sys, time
start = time.perf_counter()
pkg, builder = sys.argv[4], sys.argv[5]
build = importlib.import_module(builder).build
BuildConfig = importlib.import_module(pkg + ".models").BuildConfig
m = build(BuildConfig(seed=0, entities=int(sys.argv[2])), sys.argv[1], workers=int(sys.argv[3]), overwrite=True)
seconds = time.perf_counter() - start
peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(json.dumps({"seconds": seconds, "peak_rss_mb": peak / 1024, "probes": m.configs["probes"].rows}))
"""


def import_baseline(rev: str, into: Path):
    """The package at ``rev`` as the module ``fk_baseline`` (its templates beside it)."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "fictional_knowledge", "templates", "schemas"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    (into / "fictional_knowledge").rename(into / "fk_baseline")
    for py in (into / "fk_baseline").rglob("*.py"):  # absolute imports (since issue 8) must point at the copy
        text = py.read_text()
        fixed = re.sub(r"\bfictional_knowledge(?=[.\s])", "fk_baseline", text)
        if fixed != text:
            py.write_text(fixed)
    sys.path.insert(0, str(into))
    return importlib.import_module(baseline_builder(into)), importlib.import_module("fk_baseline.models")


def baseline_builder(into: Path) -> str:
    """The baseline's build module: ``dataset/builder.py`` since the layout of issue 8, ``build.py`` before."""
    return "fk_baseline.dataset.builder" if (into / "fk_baseline" / "dataset" / "builder.py").exists() else "fk_baseline.build"


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the build's workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(build_fn, config, out: Path, workers: int) -> tuple[float, float, dict]:
    """Wall seconds, CPU seconds (less sensitive to other load on the machine), fingerprints."""
    start, cpu = time.perf_counter(), _cpu()
    manifest = build_fn(config, out, workers=workers, overwrite=True)
    seconds, cpu = time.perf_counter() - start, _cpu() - cpu
    return seconds, cpu, {k: v.fingerprint for k, v in manifest.configs.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--compare", type=int, default=20_000, help="entities for the ours-vs-baseline ratio")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--baseline-rev", default=BASELINE_REV)
    ap.add_argument("--sizes", type=int, nargs="*", default=[20_000, 100_000],
                    help="whole-process builds (fresh subprocess) for bundles/s and peak RSS")
    ap.add_argument("--baseline-max", type=int, default=20_000, help="largest whole-process size also run for the baseline")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--allow-data-change", action="store_true",
                    help="compare speed against a baseline that generates other data (a new data version): "
                         "the fingerprints are then not required to match, and the output says so")
    args = ap.parse_args()

    print(f"machine: {os.cpu_count()} cores; workers={args.workers}; load average {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        tmp = Path(tmp)
        base_build, base_models = import_baseline(args.baseline_rev, tmp)
        build(BuildConfig(seed=0, entities=50), tmp / "warm", workers=1, overwrite=True)  # imports, templates
        base_build.build(base_models.BuildConfig(seed=0, entities=50), tmp / "warm", workers=1, overwrite=True)
        n = args.compare
        print(f"\n{n:,} bundles in this process; baseline = {args.baseline_rev}")
        print("         wall s: ours  baseline  ratio   CPU s: ours  baseline  ratio   ours bundles/s (wall, CPU)")
        walls, cpus = [], []
        for r in range(args.repeats):
            ours, ours_cpu, fp_ours = timed(build, BuildConfig(seed=0, entities=n), tmp / "ours", args.workers)
            base, base_cpu, fp_base = timed(base_build.build, base_models.BuildConfig(seed=0, entities=n),
                                            tmp / "base", args.workers)
            if fp_ours != fp_base and not args.allow_data_change:
                sys.exit(f"error: the fingerprints differ from the baseline's: "
                         f"{sorted(k for k in fp_ours if fp_ours[k] != fp_base.get(k))}")
            walls.append(base / ours)
            cpus.append(base_cpu / ours_cpu)
            print(f"  run {r + 1}  {ours:11.2f}  {base:8.2f}  {walls[-1]:4.2f}x  {ours_cpu:11.2f}  {base_cpu:8.2f}  "
                  f"{cpus[-1]:4.2f}x   {n / ours:8.0f}  {n / ours_cpu:6.0f}")
        print(f"  speed-up over the baseline, wall: {', '.join(f'{x:.2f}x' for x in walls)}; "
              f"CPU: {', '.join(f'{x:.2f}x' for x in cpus)} "
              f"({'other data: --allow-data-change' if fp_ours != fp_base else 'same fingerprints'})")
        print(f"  load average after: {os.getloadavg()}")

        if args.sizes:
            print(f"\nwhole process (fresh `python`, start-up included); baseline only up to {args.baseline_max:,}")
            print("        size  package       seconds   bundles/s   probes/s   peak RSS (MB)   ratio")
        for n in args.sizes:
            seconds = {}
            for label, pkg, builder, path in (
                    ("ours", "fictional_knowledge", "fictional_knowledge.dataset.builder", str(REPO)),
                    ("baseline", "fk_baseline", baseline_builder(tmp), str(tmp))):
                if label == "baseline" and n > args.baseline_max:
                    continue
                env = dict(os.environ, PYTHONPATH=path)
                out = subprocess.run([sys.executable, "-c", CHILD, str(tmp / f"whole-{label}"), str(n), str(args.workers), pkg, builder],
                                     capture_output=True, text=True, check=True, env=env)
                r = json.loads(out.stdout)
                seconds[label] = r["seconds"]
                ratio = f"{seconds['baseline'] / seconds['ours']:5.2f}x" if label == "baseline" else ""
                print(f"  {n:>10,}  {label:9s} {r['seconds']:9.1f}  {n / r['seconds']:10.0f}  {r['probes'] / r['seconds']:9.0f}"
                      f"  {r['peak_rss_mb']:14.0f}   {ratio}")
        print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
