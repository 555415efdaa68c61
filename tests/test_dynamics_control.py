"""Net-of-control dynamics on synthetic logs with a known answer: a planted jump at the injection
steps and a planted log-linear decay are recovered; a flat (noise-only) log gives no significant
effect beyond the interval's nominal error rate; probes that acquired nothing leave α and are
counted; ``fkgen dynamics --regime`` needs no hand-written schedule."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from fictional_knowledge.evaluate.dynamics import compute_dynamics, read_log

KINDS = ("memorization", "semantic", "compositional")
INJ = [0, 20, 40]
DROP = 3


def trajectory(steps, injections, l0, effect, alpha):
    """Loss falls by ``effect`` over DROP steps after each injection, then R(t) = 1 − α log10 t."""
    out = np.full(len(steps), l0, dtype=float)
    level = l0
    for i, s in enumerate(steps):
        past = [j for j in injections if j <= s]
        if not past or effect == 0:
            continue
        inj = past[-1]
        if s == inj:
            level = out[i - 1] if i else l0
            out[i] = level
        elif s <= inj + DROP:
            out[i] = level - effect * (s - inj) / DROP
        else:
            out[i] = l0 + (level - effect - l0) * (1 - alpha * math.log10(s - inj - DROP))
    return out


def make_log(rng, *, effect=1.0, alpha=0.2, noise=0.05, n=12, last=200, flat=False) -> pd.DataFrame:
    steps = np.arange(last + 1)
    rows = []
    for group in ("paraphrase", "control"):
        for kind in KINDS:
            for k in range(n):
                l0 = 5.0 + rng.normal(0, 0.2)
                planted = group == "paraphrase" and not flat
                clean = trajectory(steps, INJ, l0, effect if planted else 0.0, alpha)
                losses = clean + rng.normal(0, noise, len(steps))
                for s, loss in zip(steps, losses):
                    rows.append({"step": int(s), "probe_id": f"{group}-{kind}-{k}", "kind": kind, "loss": float(loss),
                                 "loss_sum": float(loss), "first_token_loss": float(loss), "n_tokens": 1, "group": group})
    return pd.DataFrame(rows)


def load(df, tmp_path):
    path = tmp_path / "log.parquet"
    df.to_parquet(path)
    return read_log(path)


SCHEDULE = {"paraphrase": INJ, "control": []}


def test_a_planted_jump_and_decay_are_recovered_net_of_the_control(tmp_path):
    log = load(make_log(np.random.default_rng(1)), tmp_path)
    res = compute_dynamics(log, group_injections=SCHEDULE, window=10, n_boot=500)
    rep = res.report
    assert set(rep.control) == {"paraphrase"} and rep.control["paraphrase"]["semantic"].injections == INJ
    for kind in KINDS:
        net = rep.net_of_control["paraphrase"][kind]
        e = net["effectivity"]
        # E of the group is the planted 1.0 plus the noise's min-bias; the control has only the bias
        assert e.diff == pytest.approx(1.0, abs=0.08) and e.significant and e.low > 0.8
        s = rep.by_group["paraphrase"][kind]
        assert s.decay.alpha == pytest.approx(0.2, abs=0.03) and s.decay.r_squared > 0.8
        assert s.retainability_skipped == 0
        # the group kept most of what it gained by the last step; the control gained nothing
        assert net["final_delta"].significant and net["final_delta"].diff > 0.5
    assert (res.per_injection.query("group == 'paraphrase'").t_lam.isin([d + DROP for d in INJ] + [
        d + DROP + k for d in INJ for k in (-1, 1, 2)])).mean() > 0.9


def test_a_flat_log_gives_no_significant_effect_beyond_the_nominal_rate(tmp_path):
    hits = total = 0
    for seed in range(12):
        log = load(make_log(np.random.default_rng(100 + seed), flat=True, n=8, last=80), tmp_path)
        rep = compute_dynamics(log, group_injections=SCHEDULE, window=10, n_boot=300, seed=seed).report
        for kind in KINDS:
            for metric in ("effectivity", "final_delta"):
                e = rep.net_of_control["paraphrase"][kind][metric]
                hits += e.significant
                total += 1
                assert abs(e.diff) < 0.1
    assert total == 72 and hits / total <= 0.15  # a 95% interval: about 5% expected


def test_probes_that_acquired_nothing_leave_alpha_and_are_counted(tmp_path):
    df = make_log(np.random.default_rng(2), noise=0.0, n=4)
    up = df["probe_id"].eq("paraphrase-semantic-0") & (df["step"] > 0)
    df.loc[up, "loss"] = 9.0  # the loss rises after the injection: L(t_LAM) > L(0)
    res = compute_dynamics(load(df, tmp_path), group_injections=SCHEDULE, window=10, n_boot=200)
    s = res.report.by_group["paraphrase"]["semantic"]
    assert s.retainability_skipped == 1 and s.retainability_probes == 3
    assert s.decay.alpha == pytest.approx(0.2, abs=1e-6)
    row = res.per_probe.set_index(["probe_id", "group"]).loc[("paraphrase-semantic-0", "paraphrase")]
    assert bool(row["retainability_skipped"]) and pd.isna(row["alpha"])
    noiseless_control = res.report.control["paraphrase"]["semantic"]
    assert noiseless_control.retainability_skipped == 4  # flat: L(t_LAM) == L(0), nothing acquired


def test_cli_reads_schedule_and_groups_from_the_regime(tiny_build, tmp_path):
    from typer.testing import CliRunner

    from fictional_knowledge.cli import app
    from fictional_knowledge.regimes import make_regime

    regime = tmp_path / "regime"
    make_regime("injection", tiny_build, regime, steps=[0, 20, 40], group_sizes=[1, 1, 1, 2], background=False)
    import pyarrow.parquet as pq

    probes = [r for f in sorted((regime / "data" / "probes").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    rng = np.random.default_rng(3)
    steps = np.arange(121)
    sched = {"paraphrase": INJ, "duplicate": INJ, "once": [0], "control": []}
    rows = []
    for p in probes:
        losses = trajectory(steps, sched[p["scenario"]], 5.0, 0.0 if p["scenario"] == "control" else 1.0, 0.2)
        losses = losses + rng.normal(0, 0.03, len(steps))
        rows += [{"step": int(s), "probe_id": p["id"], "kind": p["kind"], "loss": float(v), "loss_sum": float(v),
                  "first_token_loss": float(v), "n_tokens": 1} for s, v in zip(steps, losses)]  # no group column
    log = tmp_path / "log.jsonl"
    pd.DataFrame(rows).to_json(log, orient="records", lines=True)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["dynamics", str(log), "--regime", str(regime), "--window", "10",
                                   "--out", str(out), "--no-progress", "--n-boot", "200"])
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["schedule"] == sched
    assert set(metrics["net_of_control"]) == {"paraphrase", "duplicate", "once"}
    net = metrics["net_of_control"]["duplicate"]["memorization"]["effectivity"]
    assert net["diff"] == pytest.approx(1.0, abs=0.1) and net["significant"]
    summary = (out / "summary.md").read_text()
    assert "## Net of the control" in summary and "## Significant findings" in summary
    assert "duplicate, memorization: effectivity above the control" in summary
    # rerun into the same folder: every file is replaced, no temporary folder is left behind
    res = CliRunner().invoke(app, ["dynamics", str(log), "--regime", str(regime), "--window", "10",
                                   "--out", str(out), "--no-progress", "--n-boot", "200"])
    assert res.exit_code == 0 and not list(tmp_path.glob(".out.tmp-*"))
