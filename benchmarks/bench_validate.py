"""Peak memory of ``fkgen validate`` at two build sizes: is it flat in the build's size?

Each size is validated in its own subprocess, whose peak RSS is read with
``resource.getrusage(RUSAGE_CHILDREN)`` after it ends. The builds are made once (about 10 s and
90 s on an idle 2-core machine) and reused:

    python benchmarks/bench_validate.py [--small 10000] [--large 100000] [--dir /tmp/val-bench]

The target (issue 9): peak at the large size <= 2x the peak at the small size.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

CHILD = """
import json, resource, sys, time
from fictional_knowledge.dataset.validate import validate_build
t = time.perf_counter()
report = validate_build(sys.argv[1])
print(json.dumps({"ok": report.ok, "seconds": time.perf_counter() - t, "rows": report.rows,
                  "failures": report.lines()[:5]}))
"""


def ensure_build(folder: Path, entities: int) -> None:
    if (folder / "manifest.json").is_file():
        manifest = json.loads((folder / "manifest.json").read_text())
        if manifest["config"]["entities"] == entities and manifest.get("shard") is None:
            return
    subprocess.run([sys.executable, "-m", "fictional_knowledge", "build", "--seed", "0", "--entities",
                    str(entities), "--out", str(folder), "--overwrite"], check=True)


def measure(folder: Path) -> tuple[float, dict]:
    """(peak RSS in MB of a fresh process validating ``folder``, its report summary)."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(folder)], stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate()
    # RUSAGE_CHILDREN is the max over the children waited for so far: one size per wait, the
    # smaller size first, so the second reading belongs to the larger build
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        raise SystemExit(f"validate failed on {folder} (exit {proc.returncode})")
    return peak_kb / 1024, json.loads(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=10_000)
    ap.add_argument("--large", type=int, default=100_000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/val-bench"))
    args = ap.parse_args()
    sizes = sorted({args.small, args.large})
    folders = {n: args.dir / f"seed0-{n}" for n in sizes}
    for n, folder in folders.items():
        ensure_build(folder, n)
    peaks = {}
    for n in sizes:  # smallest first: RUSAGE_CHILDREN keeps the maximum
        peak, summary = measure(folders[n])
        peaks[n] = peak
        rows = sum(summary["rows"].values())
        print(f"{n:>9,} entities  {rows:>11,} rows  peak RSS {peak:8.1f} MB  {summary['seconds']:7.1f} s  "
              f"{'OK' if summary['ok'] else 'FAILED ' + '; '.join(summary['failures'])}", flush=True)
    ratio = peaks[sizes[-1]] / peaks[sizes[0]]
    print(f"peak memory ratio {sizes[-1]:,}/{sizes[0]:,} entities: {ratio:.2f} (target <= 2.00)")


if __name__ == "__main__":
    main()
