"""``fkgen dynamics``: Chang et al. 2024's training-dynamics metrics and plots from a probe log."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

HELP_INJECTIONS = ("Injection steps, space- or comma-separated: --injections 0 100 200 or "
                   "--injections 0,100,200.")


def _ints(token: str, what: str) -> list[int]:
    try:
        return [int(x) for x in token.split(",") if x.strip()]
    except ValueError:
        raise typer.BadParameter(f"{token!r} is not a step number (or comma-separated steps)",
                                 param_hint=what) from None


def split_positionals(tokens: list[str]) -> tuple[str, list[int]]:
    """Click cannot give one option several values, so ``--injections 0 100 200`` leaves 100 and
    200 as extra arguments. Exactly one token must be the LOG path; the others are steps."""
    paths = [t for t in tokens if not t.replace(",", "").lstrip("-").isdigit()]
    if len(paths) != 1:
        raise typer.BadParameter(f"expected one LOG path and step numbers, got {tokens}",
                                 param_hint="LOG")
    return paths[0], [s for t in tokens if t != paths[0] for s in _ints(t, "--injections")]


def parse_group_injections(items: list[str]) -> dict[str, list[int]]:
    """``["once=0", "late=500,600"]`` -> ``{"once": [0], "late": [500, 600]}``."""
    out: dict[str, list[int]] = {}
    for item in items:
        group, sep, steps = item.partition("=")
        if not sep or not group.strip():
            raise typer.BadParameter(f"{item!r} is not GROUP=STEP[,STEP...]",
                                     param_hint="--group-injections")
        out[group.strip()] = _ints(steps, "--group-injections")  # "control=" gives []
    return out


#: What ``fkgen dynamics`` writes: a folder holding only these (or fkgen's marker) is replaced.
DYNAMICS_FILES = ("metrics.json", "per_probe.csv", "per_injection.csv", "delta_curves.csv",
                  "retainability_curves.csv", "delta.png", "retainability.png", "summary.md")


def register(app: typer.Typer) -> None:
    @app.command("dynamics", context_settings={"allow_extra_args": True})
    def dynamics_command(
        ctx: typer.Context,
        log: str = typer.Argument(..., help="Probe-loss log (.jsonl or .parquet) written by "
                                            "ProbeLossCallback / score_and_log."),
        out: Path = typer.Option(..., "--out", help="Folder for metrics.json, CSVs, PNGs and summary.md."),
        regime: Optional[Path] = typer.Option(
            None, "--regime", help="Injection regime folder: each group's injection steps (and each "
                                   "probe's group, if the log has none) come from its regime_manifest.json."),
        injections: Optional[list[str]] = typer.Option(None, "--injections", help=HELP_INJECTIONS +
                                                        " Not needed with --regime."),
        window: int = typer.Option(50, "--window", min=1,
                                   help="t_LAM is searched in the WINDOW steps after an injection."),
        iqr_factor: float = typer.Option(1.5, "--iqr-factor", min=0.0,
                                         help="IQR outlier fences (paper: 1.5; released code: 2.0)."),
        batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1,
                                                 help="Sequences per step, for x-intercepts in tokens."),
        seq_len: Optional[int] = typer.Option(None, "--seq-len", min=1,
                                              help="Tokens per sequence, for x-intercepts in tokens."),
        group_injections: Optional[list[str]] = typer.Option(
            None, "--group-injections",
            help="Injection steps of one group, GROUP=STEP[,STEP...]; repeatable (e.g. once=0); "
                 "overrides --regime for that group. An empty list (control=) makes a control."),
        reference_step: int = typer.Option(0, "--reference-step", help="The step whose loss is L(0)."),
        n_boot: int = typer.Option(2000, "--n-boot", min=100, help="Bootstrap resamples for net-of-control intervals."),
        seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
        progress: bool = typer.Option(True, "--progress/--no-progress", " /--quiet", help="Progress bars on stderr; --quiet (or --no-progress) hides them."),
    ) -> None:
        """Effectivity, retainability and decay constant per group and probe kind, net of the control
        group when there is one, with plots."""
        from fictional_knowledge.evaluate.dynamics import compute_dynamics, read_log, read_regime
        from fictional_knowledge.evaluate.dynamics_report import write_report

        from fictional_knowledge.atomic import check_out_path, check_replace
        from fictional_knowledge.errors import FKError, InputError

        check_replace(check_out_path(out), overwrite=True, names=DYNAMICS_FILES)  # before any work
        log_path, extra = split_positionals([log, *ctx.args])
        steps = [s for t in (injections or []) for s in _ints(t, "--injections")] + extra
        if (batch_size is None) != (seq_len is None):
            raise typer.BadParameter("give both --batch-size and --seq-len, or neither", param_hint="--batch-size")
        try:
            frame = read_log(log_path)
            schedule: dict[str, list[int]] = {}
            if regime is not None:
                schedule, probe_groups = read_regime(regime)
                if frame["group"].isna().all():
                    frame["group"] = [probe_groups.get(p) for p in frame["probe_id"]]
                    missing = int(frame["group"].isna().sum())
                    if missing:
                        raise ValueError(f"{missing} log rows have probes that are not in {regime}")
                present = set(frame["group"].dropna())
                schedule = {g: v for g, v in schedule.items() if g in present}
            schedule.update(parse_group_injections(group_injections or []))
            if not steps and not schedule:
                raise ValueError("give --regime DIR (or --injections STEPS)")
            result = compute_dynamics(
                frame, steps or None, window=window, iqr_factor=iqr_factor, batch_size=batch_size,
                seq_len=seq_len, group_injections=schedule, reference_step=reference_step,
                log_name=Path(log_path).name, progress=progress, n_boot=n_boot, seed=seed)
        except FileNotFoundError as exc:
            raise typer.BadParameter(str(exc), param_hint="LOG") from None
        except ValueError as exc:
            if isinstance(exc, FKError):
                raise
            raise InputError(str(exc)) from None
        paths = write_report(result, out)  # atomic: all files or none
        rep = result.report
        for group, kinds in ({"all": rep.by_kind} if rep.by_kind else rep.by_group).items():
            for kind, s in kinds.items():
                d = s.decay
                alpha = (f"α={d.alpha:.4f} (R²={d.r_squared:.3f})" if d and d.r_squared is not None
                         else (f"α={d.alpha:.4f}" if d else f"no fit: {s.decay_error}"))
                eff = "–" if s.effectivity_mean is None else f"{s.effectivity_mean:.3f}"
                net = rep.net_of_control.get(group, {}).get(kind, {}).get("effectivity")
                vs = "" if net is None else (f", E net of control {net.diff:+.3f} [{net.low:+.3f}, {net.high:+.3f}]"
                                             + (" *" if net.significant else ""))
                typer.echo(f"{group:>10} {kind:>13}: {s.n_probes} probes, mean E={eff}{vs}, {alpha}")
        typer.echo(f"wrote {len(paths)} files to {out}")
