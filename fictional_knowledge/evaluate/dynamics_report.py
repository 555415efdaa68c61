"""The report half of the training-dynamics metrics: plots, ``summary.md`` and the files of
``fkgen dynamics`` (the numbers come from :mod:`fictional_knowledge.evaluate.dynamics`).

Everything is written through :func:`fictional_knowledge.atomic.atomic_folder` (matplotlib is
imported before any file is written): the folder is replaced in one step, so an interrupted run
leaves the old folder or the new one, never a mix or a half-written file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from fictional_knowledge.evaluate.dynamics import ALL, CONTROL, DynamicsResult
from fictional_knowledge.kinds import KIND_COLORS  # one colour per probe kind, from the probe-kind table
FILES = ("metrics.json", "per_probe.csv", "per_injection.csv", "delta_curves.csv", "retainability_curves.csv",
         "delta.png", "retainability.png", "summary.md")


def _panels(result: DynamicsResult) -> list[str]:
    """Injected groups in Chang et al.'s order (paraphrase, duplicate, once), then the rest."""
    order = {"paraphrase": 0, "duplicate": 1, "once": 2}
    return sorted(result.report.by_group, key=lambda g: (order.get(g, 3), g)) or [ALL]


def _figure(n: int, dpi: int = 110):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.6 * n, 4.4), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(1, n, squeeze=False)[0]


def plot_delta(result: DynamicsResult, path: str | Path, dpi: int = 110) -> Path:
    """Mean Δ(t) per probe kind against the step, one panel per group; the control's curves
    dashed in every panel; injections as dotted lines."""
    panels = _panels(result)
    fig, axes = _figure(len(panels), dpi)
    curves = result.delta_curves
    for ax, g in zip(axes, panels):
        for kind, color in KIND_COLORS.items():
            c = curves[(curves["group"] == g) & (curves["kind"] == kind)]
            if len(c):
                ax.plot(c["step"], c["mean_delta"], color=color, lw=1.4, label=kind)
            c = curves[(curves["group"] == CONTROL) & (curves["kind"] == kind)]
            if len(c):
                ax.plot(c["step"], c["mean_delta"], color=color, lw=1.0, ls="--", alpha=0.8,
                        label=f"{kind} (control)")
        for i, s in enumerate(result.injections.get(g, [])):
            ax.axvline(s, color="0.35", ls=":", lw=1, label="injection" if i == 0 else None)
        ax.axhline(0, color="0.6", lw=0.6)
        ax.set(title=f"group: {g}", xlabel="training step", ylabel="mean Δ(t) = L(0) − L(t)  [nats/token]")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    fig.suptitle("Improvement of the target's loss over training, mean per probe kind (dashed: control)")
    fig.savefig(path)
    return Path(path)


def plot_retainability(result: DynamicsResult, path: str | Path, dpi: int = 110) -> Path:
    """Mean retainability against log t after the last injection's t_LAM, with fitted lines."""
    panels = _panels(result)
    fig, axes = _figure(len(panels), dpi)
    rep = result.report
    for ax, g in zip(axes, panels):
        summaries = rep.by_kind if g == ALL else rep.by_group.get(g, {})
        cur = result.retain_curves[result.retain_curves["group"] == g]
        for kind, color in KIND_COLORS.items():
            c = cur[(cur["kind"] == kind) & (cur["t"] > 0)]
            fit = summaries[kind].decay if kind in summaries else None
            if c.empty:
                continue
            label = kind if fit is None else (f"{kind}: α={fit.alpha:.3f}" + (
                f", R²={fit.r_squared:.2f}" if fit.r_squared is not None else ""))
            ax.plot(c["t"], c["mean_r"], "o", ms=2.5, alpha=0.45, color=color, label=label)
            if fit is not None:
                xs = np.logspace(0, np.log10(c["t"].max()), 50)
                ax.plot(xs, fit.slope * np.log10(xs) + fit.intercept, color=color, lw=1.8)
        ax.axhline(0, color="0.6", lw=0.6)
        ax.set_xscale("log")
        ax.set(title=f"group: {g}", xlabel="t = steps after t_LAM of the last injection (log)",
               ylabel="mean retainability R(p, t)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, loc="best")
    fig.suptitle("Retainability after the last injection; lines: R = −α·log10(t) + b")
    fig.savefig(path)
    return Path(path)


def _fmt(x: Optional[float], spec: str = ".3f") -> str:
    return "–" if x is None else format(x, spec)


def summary_markdown(result: DynamicsResult, images: Sequence[str] = ()) -> str:
    """Markdown: the per-(group, kind) metrics, the control measured with each group's schedule,
    the net-of-control effects with their intervals, and which of them are significant."""
    rep = result.report
    s = rep.settings
    lines = [
        "# Training dynamics", "",
        f"Log `{rep.log}`: {rep.n_probes} probes, {rep.n_rows} rows, steps {rep.first_step}–{rep.last_step}. "
        f"Injection steps per group: {s['schedule']}; t_LAM window {s['window']} steps; IQR factor "
        f"{s['iqr_factor']}; batch size {s['batch_size']}, sequence length {s['seq_len']}.", "",
        "| group | kind | probes | mean E (nats/token) | mean final Δ | α | R² | R skipped (no acquisition) "
        "| x-intercept (steps after t_LAM) | x-intercept (tokens) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    rows = [(g, k, v) for g, d in rep.by_group.items() for k, v in d.items()]
    rows += [(f"{CONTROL} (as {g})", k, v) for g, d in rep.control.items() for k, v in d.items()]
    rows += [(ALL, k, v) for k, v in rep.by_kind.items()]
    for g, k, v in rows:
        d = v.decay
        lines.append(
            f"| {g} | {k} | {v.n_probes} | {_fmt(v.effectivity_mean)} | {_fmt(v.final_delta_mean)} | "
            f"{_fmt(d and d.alpha, '.4f')} | {_fmt(d and d.r_squared, '.3f')} | {v.retainability_skipped} | "
            f"{_fmt(d and d.x_intercept_steps, '.3g')} | {_fmt(d and d.x_intercept_tokens, '.3g')} |")
    lines += ["", "E = L(t_inj) − L(t_LAM), averaged over probes and injections after IQR filtering. α and the "
              "x-intercept come from a least-squares line through the per-t mean retainability (IQR-filtered per "
              "t) against log10 t. Probes whose loss at t_LAM is not below L(0) acquired nothing; their R is "
              "undefined, so they are left out of α and counted (R skipped). `control (as G)` is the control "
              "group measured with group G's schedule.", ""]
    if rep.net_of_control:
        b = s["bootstrap"]
        lines += ["## Net of the control", "",
                  f"Group minus control (same schedule), difference of IQR-filtered means of per-probe values; "
                  f"{int(b['interval'] * 100)}% percentile-bootstrap interval over probes ({b['n_boot']} resamples, "
                  f"seed {b['seed']}). α here is the mean of per-probe fits (probes with an R curve only).", "",
                  "| group | kind | metric | group | control | difference | 95% interval | n (group/control) | significant |",
                  "|---|---|---|---:|---:|---:|---|---|---|"]
        found = []
        for g, kinds in rep.net_of_control.items():
            for k, metrics in kinds.items():
                for m, e in metrics.items():
                    lines.append(f"| {g} | {k} | {m} | {e.group:.3f} | {e.control:.3f} | {e.diff:+.3f} | "
                                 f"[{e.low:+.3f}, {e.high:+.3f}] | {e.n_group}/{e.n_control} | "
                                 f"{'yes' if e.significant else 'no'} |")
                    if e.significant:
                        found.append(f"- {g}, {k}: {m} {'above' if e.diff > 0 else 'below'} the control by "
                                     f"{e.diff:+.3f} [{e.low:+.3f}, {e.high:+.3f}]")
        lines += ["", "## Significant findings", ""] + (found or ["- none: no net-of-control interval excludes 0"])
        lines.append("")
    else:
        lines += ["No `control` group in the log: nothing here tells acquisition from noise (E is positive with "
                  "no injection at all, since t_LAM is a minimum). Make the regime with a control group.", ""]
    lines += [f"![{Path(i).stem}]({i})" for i in images]
    return "\n".join(lines) + "\n"


def write_report(result: DynamicsResult, out: str | Path) -> list[Path]:
    """Write ``FILES`` into ``out`` atomically (:func:`fictional_knowledge.atomic.atomic_folder`):
    all files or none; a folder holding anything but these files (or fkgen's marker) is refused."""
    import matplotlib  # noqa: F401  (fail before any file is written)

    from fictional_knowledge.atomic import atomic_folder

    out = Path(out)
    with atomic_folder(out, overwrite=True, names=FILES, marker="dynamics") as tmp:
        (tmp / "metrics.json").write_text(result.report.model_dump_json(indent=2) + "\n")
        for name, df in (("per_probe", result.per_probe), ("per_injection", result.per_injection),
                         ("delta_curves", result.delta_curves), ("retainability_curves", result.retain_curves)):
            df.to_csv(tmp / f"{name}.csv", index=False)
        plot_delta(result, tmp / "delta.png")
        plot_retainability(result, tmp / "retainability.png")
        (tmp / "summary.md").write_text(summary_markdown(result, ["delta.png", "retainability.png"]))
    return [out / name for name in FILES]
