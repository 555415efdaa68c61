"""``fkgen experiment NAME --scale cpu|gpu|smoke --out DIR``: reproduce a seed paper's finding by
training small GPT-2-style models from scratch on the package's data (see
``fictional_knowledge.experiments``)."""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import typer

from fictional_knowledge.cli.build import fail

HELP = """Run an experiment that reproduces a seed paper's finding: build the data, train GPT-2-style
models from scratch (tokenizer trained on the experiment's own corpus), and write report.md
(verdict per finding, with numbers and bootstrap 95% intervals), metrics.json and plots to --out.

\b
frequency  Wang et al. 2024: model probability of a fact vs its exact training count k.
two-stage  Zhang et al. 2025: mixed vs two-stage training, QA of held-out entities.
continual  Chen et al. 2024: stage-1 retention after stage 2, with and without REMIX mixing.
injection  Chang et al. 2024: knowledge injection dynamics (when installed).

\b
Scales: smoke (seconds, for tests), cpu (about 10 minutes each on 2 CPU cores),
gpu (about 100M parameters, 128 x 512 tokens per step; the recipe for a CUDA machine)."""


def _command(name: str, scale: str, out: Path, seed: int, threads: int | None, device: str,
             sets: dict[str, str]) -> str:
    parts = ["fkgen", "experiment", name, "--scale", scale, "--out", str(out), "--seed", str(seed)]
    for key, value in sets.items():
        parts += ["--set", f"{key}={value}"]
    if threads is not None:
        parts += ["--threads", str(threads)]
    if device != "auto":
        parts += ["--device", device]
    return shlex.join(parts)


def _previous_files(out: Path) -> list[str]:
    """Check ``--out`` before any work: new, empty, or a previous output of this command (whose
    files the new run replaces, all at once). Returns the names of those files."""
    from fictional_knowledge.atomic import check_out_path, ours
    from fictional_knowledge.experiments.common import is_experiment_output

    check_out_path(out)  # "", a file, a path under a file, an unwritable parent: one line, exit 2
    if not out.is_dir() or not any(out.iterdir()):
        return []
    if is_experiment_output(out):
        return [p.name for p in out.iterdir()]
    if ours(out):
        fail(f"--out {out} holds another fkgen output; choose an empty or new folder")
    fail(f"--out {out} is not empty and holds no previous experiment output (metrics.json); "
         "choose an empty or new folder")


def experiment_cmd(
    name: str = typer.Argument(..., help="Experiment: frequency, two-stage, continual (or injection)."),
    scale: str = typer.Option("cpu", "--scale", help="smoke, cpu or gpu."),
    out: Path = typer.Option(..., "--out", help="Output folder (new, empty, or a previous output of this command)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the build, the regime, the model init and data order."),
    threads: int = typer.Option(None, "--threads", min=1, help="torch CPU threads [default: the CPUs this process may use]."),
    device: str = typer.Option("auto", "--device", help="auto (cuda if available), cpu or cuda."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress output."),
    set_: list[str] = typer.Option([], "--set", help="KEY=VALUE: override one setting of the scale (e.g. lr, "
                                   "entities) or of the experiment (e.g. epochs); repeatable; recorded in the report."),
) -> None:
    from fictional_knowledge.experiments import EXPERIMENTS, experiment_module
    from fictional_knowledge.experiments.common import (ExperimentError, RunContext, check_setting_keys, get_scale, override_scale,
                                     resolve_device, set_threads)

    if name not in EXPERIMENTS:
        fail(f"unknown experiment {name!r}; expected one of {', '.join(EXPERIMENTS)}")
    sets: dict[str, str] = {}
    for item in set_:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            fail(f"--set {item!r}: expected KEY=VALUE")
        sets[key.strip()] = value.strip()
    try:
        per_scale = getattr(experiment_module(name), "PER_SCALE", {})
        mine = per_scale.get(scale, per_scale.get("gpu", {}))
        sc = override_scale(get_scale(scale), sets, mine)
        check_setting_keys(sets, mine)
        dev = resolve_device(device)
        n_threads = set_threads(threads)
    except ExperimentError as exc:
        fail(str(exc))
    from fictional_knowledge.atomic import atomic_folder

    previous = _previous_files(out)
    started = time.perf_counter()
    # the run writes into a temporary folder that replaces --out only when the report is complete:
    # a crash or Ctrl-C leaves the previous output as it was
    with atomic_folder(out, overwrite=True, need_overwrite=False, names=previous, marker="experiment") as tmp:
        ctx = RunContext(name=name, scale=sc, out=tmp, seed=seed, device=dev, threads=n_threads, progress=not quiet,
                         command=_command(name, scale, out, seed, threads, device, sets), started=started,
                         overrides=sets)
        try:
            report = experiment_module(name).run(ctx)
        except ExperimentError as exc:
            fail(str(exc))
    typer.echo(f"wrote {out / Path(report).name} in {time.perf_counter() - started:.0f}s")


def register(app: typer.Typer) -> None:
    app.command("experiment", help=HELP)(experiment_cmd)
