"""Training-dynamics metrics (Chang et al. 2024) from a per-probe training log: the compute half
(the report half, plots and files, is :mod:`fictional_knowledge.evaluate.dynamics_report`).

The log is what the Trainer callback appends: one row per (step, probe) with the columns of
``LOG_COLUMNS`` and an optional ``group`` (injection scenario: paraphrase / duplicate / once /
control). :func:`read_regime` reads each group's injection steps (and each probe's group) from an
injection regime folder, so no schedule is written by hand. :func:`compute_dynamics` turns the log
into per-probe and per-(group, kind) metrics (``metrics.py``) and, when the log has a ``control``
group (never injected), each metric **net of the control**: the control's probes are measured
with the same schedule, and the difference gets a bootstrap 95% interval over probes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from fictional_knowledge import __version__
from fictional_knowledge.evaluate.metrics import DecayFit, bootstrap_diff, fit_decay, iqr_filter, local_acquisition_maximum, retainability
from fictional_knowledge.models import PROBE_KINDS

LOG_COLUMNS: dict[str, str] = {"step": "int", "probe_id": "str", "kind": "str", "loss": "float",
                               "loss_sum": "float", "first_token_loss": "float", "n_tokens": "int"}
OPTIONAL_COLUMNS = ("group",)
ALL = "all"  # the group label of a log without groups
CONTROL = "control"  # the never-injected group: the baseline of every net-of-control effect
UNITS = {
    "loss, effectivity, delta": "nats per target token (per-token mean NLL)",
    "t, t_lam, injection steps": "global training steps",
    "alpha, slope": "retainability per decade of steps (R against log10 t)",
    "x_intercept_log10": "log10 of the number of steps after t_LAM at which the fitted R reaches 0",
    "x_intercept_steps": "10 ** x_intercept_log10, steps after t_LAM",
    "x_intercept_tokens": "x_intercept_steps * batch_size * seq_len, training tokens",
}


def read_log(path: str | Path) -> pd.DataFrame:
    """Read a ``.jsonl`` or ``.parquet`` training log and validate it; sorted by probe, step."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"training log not found: {p}")
    if p.suffix == ".parquet":
        df = pd.read_parquet(p)
    elif p.suffix == ".jsonl":
        rows = []
        for n, line in enumerate(p.read_text().splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{p}:{n}: not valid JSON ({e.msg})") from None
        df = pd.DataFrame(rows)
    else:
        raise ValueError(f"{p}: a training log must be .jsonl or .parquet, not {p.suffix!r}")
    if df.empty:
        raise ValueError(f"{p}: the training log has no rows")
    missing = [c for c in LOG_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{p}: missing column(s) {', '.join(missing)}; a training log needs "
                         f"{', '.join(LOG_COLUMNS)} and optionally group")
    for col, typ in LOG_COLUMNS.items():
        if df[col].isna().any():
            raise ValueError(f"{p}: column {col} has empty values")
        if typ == "float":
            df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
            if not np.all(np.isfinite(df[col])):
                raise ValueError(f"{p}: column {col} must hold finite numbers")
        elif typ == "int":
            num = pd.to_numeric(df[col], errors="coerce")
            if num.isna().any() or (num != np.round(num)).any():
                raise ValueError(f"{p}: column {col} must hold integers")
            df[col] = num.astype(np.int64)
        else:
            df[col] = df[col].astype(str)
    bad = sorted(set(df["kind"]) - set(PROBE_KINDS))
    if bad:
        raise ValueError(f"{p}: unknown probe kind(s) {bad}; expected one of {list(PROBE_KINDS)}")
    if "group" not in df:
        df["group"] = None
    df["group"] = [None if pd.isna(g) else str(g) for g in df["group"]]  # object dtype, None
    dup = df.duplicated(["probe_id", "step"])
    if dup.any():
        r = df[dup].iloc[0]
        raise ValueError(f"{p}: probe {r.probe_id} has more than one row at step {r.step}")
    for col in ("kind", "group"):
        n = df.groupby("probe_id")[col].nunique(dropna=False)
        if (n > 1).any():
            raise ValueError(f"{p}: probe {n[n > 1].index[0]} changes {col} between rows")
    return df.sort_values(["probe_id", "step"], kind="stable").reset_index(drop=True)


def read_regime(folder: str | Path) -> tuple[dict[str, list[int]], dict[str, str]]:
    """``(injection steps per group, group per probe id)`` from an injection regime folder
    (``regime_manifest.json`` and the ``probes`` config). ValueError if it is not one."""
    folder = Path(folder)
    path = folder / "regime_manifest.json"
    if not path.is_file():
        raise ValueError(f"{folder} has no regime_manifest.json: is it an injection regime folder?")
    manifest = json.loads(path.read_text())
    if manifest.get("regime") != "injection":
        raise ValueError(f"{folder} is a {manifest.get('regime')!r} regime, not injection")
    notes, opts = manifest.get("notes", {}), manifest.get("options", {})
    schedule = notes.get("schedule")
    if schedule is None:  # made before the schedule was recorded
        steps = list(opts["steps"])
        schedule = {g: (steps[:1] if g == "once" else steps) for g in notes.get("groups", {})}
    import pyarrow.parquet as pq

    files = sorted((folder / "data" / "probes").glob("*.parquet"))
    groups = {r["id"]: r["scenario"] for f in files for r in pq.read_table(f, columns=["id", "scenario"]).to_pylist()}
    return {g: [int(s) for s in v] for g, v in schedule.items()}, groups


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DecaySummary(_Frozen):
    slope: float
    intercept: float
    alpha: float
    r_squared: Optional[float]
    n_points: int
    x_intercept_log10: Optional[float]
    x_intercept_steps: Optional[float]
    x_intercept_tokens: Optional[float]


class KindSummary(_Frozen):
    """Aggregates over the probes of one kind in one group (or in a log without groups)."""
    n_probes: int
    injections: list[int]  # the schedule the metrics were measured with
    effectivity_mean: Optional[float]  # over (probe, injection) pairs left by the IQR filter
    effectivity_n: int
    effectivity_removed: int
    final_delta_mean: float  # Δ at each probe's last logged step, averaged
    retainability_probes: int  # probes whose R curve enters the decay fit
    retainability_skipped: int  # probes with L(t_LAM) >= L(0): nothing acquired, R undefined
    retainability_removed: int  # R values dropped by the per-t IQR filter
    decay: Optional[DecaySummary]  # fit of the per-t mean R against log10 t
    decay_error: Optional[str] = None


class NetEffect(_Frozen):
    """A group's metric minus the control's (measured with the group's schedule): the difference
    of IQR-filtered means of per-probe values, with a percentile-bootstrap 95% interval
    (probes resampled within each group)."""
    metric: str
    group: float
    control: float
    diff: float
    low: float
    high: float
    n_group: int
    n_control: int
    significant: bool  # the interval excludes 0


class DynamicsReport(_Frozen):
    format_version: int = 2
    package_version: str
    log: str
    settings: dict
    units: dict[str, str]
    n_probes: int
    n_rows: int
    first_step: int
    last_step: int
    by_kind: dict[str, KindSummary]  # a log without groups only (pooling schedules would mix them)
    by_group: dict[str, dict[str, KindSummary]]  # group -> kind; empty when the log has no groups
    control: dict[str, dict[str, KindSummary]]  # control probes measured with each group's schedule
    net_of_control: dict[str, dict[str, dict[str, NetEffect]]]  # group -> kind -> metric


@dataclass(frozen=True)
class DynamicsResult:
    report: DynamicsReport
    per_probe: pd.DataFrame  # one row per probe (control: one per schedule it was measured with)
    per_injection: pd.DataFrame
    delta_curves: pd.DataFrame  # group, kind, step, mean_delta, n
    retain_curves: pd.DataFrame  # group, kind, t, mean_r, n, n_removed (control as "control (as G)")
    injections: dict[str, list[int]]  # per group label (ALL when the log has no groups)


#: metrics that get a net-of-control effect: per-probe column -> name in the report
NET_METRICS = {"effectivity_mean": "effectivity", "final_delta": "final_delta", "alpha": "alpha"}


def _clean(x: Optional[float]) -> Optional[float]:
    return None if x is None or not np.isfinite(x) else float(x)


def _decay(fit: DecayFit) -> DecaySummary:
    return DecaySummary(**{k: (_clean(v) if isinstance(v, float) else v)
                           for k, v in vars(fit).items() if k in DecaySummary.model_fields})


def _aggregate(probes: pd.DataFrame, eff: pd.DataFrame, ret: pd.DataFrame, injections: list[int],
               iqr_factor: float, batch_size: Optional[int], seq_len: Optional[int]):
    """One KindSummary and its mean-R curve from the rows of one (group, kind)."""
    e_kept = iqr_filter(eff["effectivity"].to_numpy(), iqr_factor) if len(eff) else None
    curve = []
    for t, r in ret.groupby("t", sort=True)["r"]:
        f = iqr_filter(r.to_numpy(), iqr_factor)
        curve.append((int(t), float(np.mean(f.kept)), len(f.kept), f.n_removed))
    curve_df = pd.DataFrame(curve, columns=["t", "mean_r", "n", "n_removed"])
    decay = err = None
    try:
        decay = _decay(fit_decay(curve_df["t"], curve_df["mean_r"], batch_size=batch_size, seq_len=seq_len))
    except ValueError as e:
        err = str(e)
    summary = KindSummary(
        n_probes=len(probes), injections=list(injections),
        effectivity_mean=float(np.mean(e_kept.kept)) if e_kept else None,
        effectivity_n=len(e_kept.kept) if e_kept else 0,
        effectivity_removed=e_kept.n_removed if e_kept else 0,
        final_delta_mean=float(probes["final_delta"].mean()),
        retainability_probes=int(ret["probe_id"].nunique()) if len(ret) else 0,
        retainability_skipped=int(probes["retainability_skipped"].sum()),
        retainability_removed=int(curve_df["n_removed"].sum()) if len(curve_df) else 0,
        decay=decay, decay_error=err)
    return summary, curve_df


def _probe(pid: str, kind: str, label: str, schedule: list[int], steps: np.ndarray, losses: np.ndarray,
           window: int, reference_step: int, batch_size, seq_len):
    """Per-probe row, per-injection rows and the R curve of one probe under one schedule."""
    try:
        lams = [local_acquisition_maximum(steps, losses, s, window) for s in schedule]
        i0 = int(np.searchsorted(steps, reference_step))
        if i0 >= len(steps) or steps[i0] != reference_step:
            raise ValueError(f"reference step {reference_step} is not in the log")
    except ValueError as e:
        raise ValueError(f"probe {pid}: {e}") from None
    l0 = float(losses[i0])
    inj = [{"probe_id": pid, "kind": kind, "group": label, **vars(lam)} for lam in lams]
    last = lams[-1]
    row = {"probe_id": pid, "kind": kind, "group": label, "reference_loss": l0,
           "final_loss": float(losses[-1]), "final_delta": l0 - float(losses[-1]),
           "effectivity_mean": float(np.mean([x.effectivity for x in lams])),
           "t_lam_last": last.t_lam, "loss_at_lam_last": last.loss_at_lam,
           "retainability_skipped": last.loss_at_lam >= l0}
    fit, ret = None, None
    if not row["retainability_skipped"]:
        curve = retainability(steps, losses, last.t_lam, reference_step)
        ret = pd.DataFrame({"probe_id": pid, "kind": kind, "group": label, "t": curve.t, "r": curve.r})
        try:
            fit = fit_decay(curve.t, curve.r, batch_size=batch_size, seq_len=seq_len)
        except ValueError:
            fit = None
    for k in ("alpha", "r_squared", "x_intercept_log10", "x_intercept_steps", "x_intercept_tokens"):
        row[k] = _clean(getattr(fit, k)) if fit else None
    return row, inj, ret


def _iqr_mean(factor: float):
    """Mean after :func:`~.metrics.iqr_filter` (same fences) of each row of a matrix."""
    def stat(x: np.ndarray) -> np.ndarray:
        q1, q3 = np.percentile(x, [25, 75], axis=-1, keepdims=True)
        keep = (x >= q1 - factor * (q3 - q1)) & (x <= q3 + factor * (q3 - q1))
        return np.where(keep, x, 0.0).sum(axis=-1) / keep.sum(axis=-1)
    return stat


def compute_dynamics(log: pd.DataFrame, injections: Optional[Sequence[int]] = None, *, window: int = 50,
                     iqr_factor: float = 1.5, batch_size: Optional[int] = None,
                     seq_len: Optional[int] = None,
                     group_injections: Optional[Mapping[str, Sequence[int]]] = None,
                     reference_step: int = 0, log_name: str = "", progress: bool = False,
                     n_boot: int = 2000, seed: int = 0) -> DynamicsResult:
    """Effectivity per injection, retainability after the LAST injection's t_LAM, and the decay
    fit, per probe and aggregated per (group, kind). ``injections`` is the schedule of every group
    not named in ``group_injections`` (e.g. ``{"once": [0], "control": []}``, or
    :func:`read_regime`'s schedule). A group with no injections is a control: with a group named
    ``control``, every other group's metrics are also given net of it."""
    has_groups = log["group"].notna().any()
    groups = sorted(str(g) for g in log["group"].dropna().unique())
    given = {g: sorted(set(int(s) for s in v)) for g, v in (group_injections or {}).items()}
    extra = sorted(set(given) - set(groups))
    if extra:
        raise ValueError(f"group(s) {extra} have injection steps but are not in the log "
                         f"(groups in the log: {groups or 'none'})")
    default = sorted(set(int(s) for s in injections)) if injections is not None and len(injections) else None
    sched = {}
    for g in (groups if has_groups else [ALL]):
        sched[g] = given.get(g, default)
        if sched[g] is None:
            raise ValueError(f"no injection steps for group {g!r}: give --injections, --group-injections "
                             f"{g}=STEPS or --regime DIR")
    controls = [g for g, v in sched.items() if not v]
    if controls and controls != [CONTROL]:
        raise ValueError(f"group(s) {controls} have no injection steps; only the group {CONTROL!r} may be a control")
    injected = [g for g in sched if sched[g]]
    if not injected:
        raise ValueError("no group has injection steps")
    probe_rows, inj_rows, ret_rows, delta_parts = [], [], [], []
    grouped = log.groupby("probe_id", sort=True)
    if progress:  # tqdm on stderr, the package's one progress library (none when not a terminal)
        import sys

        from tqdm import tqdm

        grouped = tqdm(grouped, total=log["probe_id"].nunique(), desc="probes", file=sys.stderr, leave=False,
                       dynamic_ncols=True, disable=None)
    for pid, rows in grouped:
        kind, group = rows["kind"].iat[0], rows["group"].iat[0]
        glabel = ALL if group is None or pd.isna(group) else str(group)
        steps, losses = rows["step"].to_numpy(), rows["loss"].to_numpy()
        runs = [(glabel, sched[glabel])] if sched[glabel] else [(f"{CONTROL} (as {g})", sched[g]) for g in injected]
        for label, schedule in runs:
            row, inj, ret = _probe(pid, kind, label, schedule, steps, losses, window, reference_step,
                                   batch_size, seq_len)
            row["group_of_probe"] = glabel
            probe_rows.append(row)
            inj_rows += inj
            if ret is not None:
                ret_rows.append(ret)
        l0 = probe_rows[-1]["reference_loss"]
        delta_parts.append(pd.DataFrame({"group": glabel, "kind": kind, "step": steps, "delta": l0 - losses}))

    per_probe, per_inj = pd.DataFrame(probe_rows), pd.DataFrame(inj_rows)
    ret = (pd.concat(ret_rows, ignore_index=True) if ret_rows
           else pd.DataFrame(columns=["probe_id", "kind", "group", "t", "r"]))
    deltas = pd.concat(delta_parts, ignore_index=True)
    delta_curves = (deltas.groupby(["group", "kind", "step"])["delta"].agg(["mean", "size"])
                    .reset_index().rename(columns={"mean": "mean_delta", "size": "n"}))

    by_kind, by_group, control, curves = {}, {}, {}, []
    labels = sorted(set(per_probe["group"]))
    for label in labels:
        schedule = sched.get(label) or sched[label.removeprefix(f"{CONTROL} (as ").rstrip(")")]
        for kind in PROBE_KINDS:
            sel = lambda d: d[(d["kind"] == kind) & (d["group"] == label)]  # noqa: E731
            probes = sel(per_probe)
            if probes.empty:
                continue
            summary, curve = _aggregate(probes, sel(per_inj), sel(ret), schedule, iqr_factor, batch_size, seq_len)
            curves.append(curve.assign(group=label, kind=kind))
            if label == ALL:
                by_kind[kind] = summary
            elif label.startswith(f"{CONTROL} (as "):
                control.setdefault(label.removeprefix(f"{CONTROL} (as ").rstrip(")"), {})[kind] = summary
            else:
                by_group.setdefault(label, {})[kind] = summary
    net = _net_of_control(per_probe, injected, iqr_factor, n_boot, seed) if controls else {}
    settings = {"injections": default, "window": window, "iqr_factor": iqr_factor,
                "reference_step": reference_step, "batch_size": batch_size, "seq_len": seq_len,
                "group_injections": {g: sched[g] for g in given}, "schedule": sched,
                "bootstrap": {"n_boot": n_boot, "seed": seed, "interval": 0.95} if controls else None}
    report = DynamicsReport(
        package_version=__version__, log=log_name, settings=settings, units=UNITS,
        n_probes=int(log["probe_id"].nunique()), n_rows=len(log), first_step=int(log["step"].min()),
        last_step=int(log["step"].max()), by_kind=by_kind, by_group=by_group, control=control,
        net_of_control=net)
    retain_curves = pd.concat(curves, ignore_index=True)[["group", "kind", "t", "mean_r", "n", "n_removed"]]
    return DynamicsResult(report, per_probe, per_inj, delta_curves, retain_curves, dict(sched))


def _net_of_control(per_probe: pd.DataFrame, injected: list[str], iqr_factor: float, n_boot: int,
                    seed: int) -> dict[str, dict[str, dict[str, NetEffect]]]:
    """Every group's per-probe metrics against the control's, measured with the same schedule."""
    out: dict[str, dict[str, dict[str, NetEffect]]] = {}
    stat = _iqr_mean(iqr_factor)
    for g in injected:
        for kind in PROBE_KINDS:
            mine = per_probe[(per_probe["group"] == g) & (per_probe["kind"] == kind)]
            ctrl = per_probe[(per_probe["group"] == f"{CONTROL} (as {g})") & (per_probe["kind"] == kind)]
            if mine.empty or ctrl.empty:
                continue
            for column, name in NET_METRICS.items():
                a = mine[column].dropna().to_numpy(dtype=float)
                b = ctrl[column].dropna().to_numpy(dtype=float)
                if len(a) < 2 or len(b) < 2:
                    continue
                d = bootstrap_diff(a, b, stat, n_boot=n_boot, seed=seed, batched=True)
                out.setdefault(g, {}).setdefault(kind, {})[name] = NetEffect(
                    metric=name, group=float(stat(a)), control=float(stat(b)), diff=d.diff, low=d.low, high=d.high,
                    n_group=len(a), n_control=len(b), significant=d.significant)
    return out


def __getattr__(name: str):
    # the report half moved to dynamics_report; keep ``from .dynamics import write_report`` working
    if name in ("write_report", "plot_delta", "plot_retainability", "summary_markdown"):
        from fictional_knowledge.evaluate import dynamics_report

        return getattr(dynamics_report, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
