"""Peak memory of ``fkgen regime NAME`` at two build sizes: is it flat in the build's size?

Each (regime, size) runs in its own fresh process, which reports its own peak RSS
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) when done. The builds are made once and reused
(``fkgen build --entities 100000`` takes several minutes on 2 cores); the regime outputs go to a
temporary folder and are deleted:

    python benchmarks/bench_regimes.py [--small 10000] [--large 100000] [--dir /tmp/regime-bench]
                                       [--regimes frequency,continual,...]

The target (issue 9): for every regime, peak at the large size <= 2x the peak at the small size.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, resource, sys, time
from fictional_knowledge.regimes import make_regime
t = time.perf_counter()
manifest = make_regime(sys.argv[1], sys.argv[2], sys.argv[3])
print(json.dumps({"seconds": time.perf_counter() - t,
                  "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "rows": sum(s.rows for splits in manifest.configs.values() for s in splits.values())}))
"""
REGIMES = ("frequency", "two-stage", "continual", "forget", "injection")


def ensure_build(folder: Path, entities: int) -> None:
    if (folder / "manifest.json").is_file():
        manifest = json.loads((folder / "manifest.json").read_text())
        if manifest["config"]["entities"] == entities and manifest.get("shard") is None:
            return
    subprocess.run([sys.executable, "-m", "fictional_knowledge", "build", "--seed", "0", "--entities",
                    str(entities), "--out", str(folder), "--overwrite"], check=True)


def measure(regime: str, build: Path) -> dict:
    """``{"seconds", "peak_kb", "rows"}`` of a fresh process making ``regime`` from ``build``."""
    with tempfile.TemporaryDirectory(prefix="regime-bench-") as tmp:
        proc = subprocess.run([sys.executable, "-c", CHILD, regime, str(build), str(Path(tmp) / "out")],
                              stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"regime {regime} failed on {build} (exit {proc.returncode})")
    return json.loads(proc.stdout.splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=10_000)
    ap.add_argument("--large", type=int, default=100_000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/regime-bench"))
    ap.add_argument("--regimes", default=",".join(REGIMES))
    args = ap.parse_args()
    sizes = sorted({args.small, args.large})
    folders = {n: args.dir / f"seed0-{n}" for n in sizes}
    for n, folder in folders.items():
        ensure_build(folder, n)
    worst = 0.0
    for regime in args.regimes.split(","):
        peaks = {}
        for n in sizes:
            r = measure(regime, folders[n])
            peaks[n] = r["peak_kb"] / 1024
            print(f"{regime:<10} {n:>9,} entities  {r['rows']:>11,} rows  peak RSS {peaks[n]:8.1f} MB  "
                  f"{r['seconds']:7.1f} s", flush=True)
        ratio = peaks[sizes[-1]] / peaks[sizes[0]]
        worst = max(worst, ratio)
        print(f"{regime:<10} peak memory ratio {sizes[-1]:,}/{sizes[0]:,} entities: {ratio:.2f}", flush=True)
    print(f"worst ratio {worst:.2f} (target <= 2.00)")


if __name__ == "__main__":
    main()
