"""The dynamics report on synthetic logs whose effectivity and decay constant are known."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from fictional_knowledge.evaluate.dynamics import compute_dynamics, read_log
from fictional_knowledge.evaluate.dynamics_report import write_report

ALPHA = {"memorization": 0.10, "semantic": 0.15, "compositional": 0.25}
EFFECT = {"memorization": 1.0, "semantic": 0.6, "compositional": 0.3}
JITTER = (-0.02, -0.01, 0.0, 0.0, 0.01, 0.02)  # per-probe spread of α, mean 0
DROP_STEPS = 3  # the loss reaches its minimum 3 steps after each injection


def probe_losses(steps: np.ndarray, injections: list[int], l0: float, effect: float,
                 alpha: float) -> np.ndarray:
    """L(0) = l0; after each injection the loss falls linearly by `effect` over DROP_STEPS
    steps (so t_LAM = injection + 3 and E = effect), then relaxes towards l0 as
    L(t_LAM + t) = l0 + (L(t_LAM) - l0) * (1 - alpha * log10 t), i.e. R(t) = 1 - alpha log10 t."""
    out = np.full(len(steps), l0, dtype=float)
    level = l0
    for i, s in enumerate(steps):
        past = [j for j in injections if j <= s]
        if not past:
            continue
        inj = past[-1]
        if s == inj:
            level = out[i - 1] if i else l0  # loss just before the injected batch
            out[i] = level
        elif s <= inj + DROP_STEPS:
            out[i] = level - effect * (s - inj) / DROP_STEPS
        else:
            lam_loss = level - effect
            out[i] = l0 + (lam_loss - l0) * (1 - alpha * math.log10(s - inj - DROP_STEPS))
    return out


def synthetic_log(last_step: int = 400, schedules: dict | None = None,
                  outlier: bool = True) -> pd.DataFrame:
    """Rows for 6 regular probes per (group, kind), plus one outlier probe (α = 1.5) each."""
    schedules = schedules or {"paraphrase": [0, 20, 40], "once": [0]}
    steps = np.arange(last_step + 1)
    rows = []
    for group, injections in schedules.items():
        for kind in ALPHA:
            alphas = [ALPHA[kind] + j for j in JITTER] + ([1.5] if outlier else [])
            for n, a in enumerate(alphas):
                l0 = 5.0 + 0.1 * n
                losses = probe_losses(steps, injections, l0, EFFECT[kind], a)
                pid = f"{group}-{kind}-{n}"
                for s, loss in zip(steps, losses):
                    rows.append({"step": int(s), "probe_id": pid, "kind": kind, "loss": loss,
                                 "loss_sum": 2 * loss, "first_token_loss": loss + 1.0,
                                 "n_tokens": 2, "group": group})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def log_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("log") / "train_log.jsonl"
    synthetic_log().to_json(path, orient="records", lines=True)
    return path


def test_recovers_known_alpha_and_effectivity(log_path):
    log = read_log(log_path)
    res = compute_dynamics(log, [0, 20, 40], window=10, group_injections={"once": [0]},
                           batch_size=8, seq_len=128)
    for group in ("paraphrase", "once"):
        for kind, alpha in ALPHA.items():
            s = res.report.by_group[group][kind]
            assert s.n_probes == 7
            assert s.decay.alpha == pytest.approx(alpha, abs=1e-6)
            assert s.decay.r_squared == pytest.approx(1.0)
            assert s.effectivity_mean == pytest.approx(EFFECT[kind])
            # R = 1 - alpha x reaches 0 at x = 1/alpha: 10**(1/alpha) steps, * 8 * 128 tokens
            assert s.decay.x_intercept_log10 == pytest.approx(1 / alpha)
            assert s.decay.x_intercept_tokens == pytest.approx(10 ** (1 / alpha) * 8 * 128)
            assert s.retainability_removed > 0  # the α = 1.5 probe is filtered out
    pp = res.per_probe.set_index("probe_id")
    assert pp.loc["paraphrase-semantic-2", "t_lam_last"] == 40 + DROP_STEPS
    assert pp.loc["once-semantic-2", "t_lam_last"] == DROP_STEPS
    assert pp.loc["paraphrase-semantic-0", "alpha"] == pytest.approx(0.13)
    inj = res.per_injection
    assert sorted(inj[inj.probe_id == "paraphrase-memorization-1"].t_lam) == [3, 23, 43]
    assert res.report.by_kind == {}  # groups with different schedules are never pooled


def test_iqr_filter_matters(log_path):
    log = read_log(log_path)
    loose = compute_dynamics(log, [0, 20, 40], window=10, group_injections={"once": [0]},
                             iqr_factor=1e9)  # keeps the outlier probe
    s = loose.report.by_group["paraphrase"]["semantic"]
    # mean α over the 7 probes: (6 * 0.15 + 1.5) / 7
    assert s.decay.alpha == pytest.approx((6 * 0.15 + 1.5) / 7, abs=1e-6)
    assert s.retainability_removed == 0


def test_write_report_files(log_path, tmp_path):
    res = compute_dynamics(read_log(log_path), [0, 20, 40], window=10,
                           group_injections={"once": [0]}, log_name=str(log_path))
    paths = write_report(res, tmp_path / "out")
    names = {p.name for p in paths}
    assert {"metrics.json", "per_probe.csv", "delta.png", "retainability.png",
            "summary.md"} <= names
    for png in ("delta.png", "retainability.png"):
        data = (tmp_path / "out" / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["by_group"]["once"]["semantic"]["decay"]["alpha"] == pytest.approx(0.15)
    assert metrics["by_group"]["once"]["memorization"]["decay"]["x_intercept_tokens"] is None
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "No `control` group in the log" in summary
    assert "![delta](delta.png)" in summary and "| once | semantic | 7 |" in summary
    assert len(pd.read_csv(tmp_path / "out" / "per_probe.csv")) == 42


@pytest.mark.parametrize("groups", ["absent", "null"])
def test_read_log_parquet_and_no_groups(tmp_path, groups):
    import pyarrow as pa
    import pyarrow.parquet as pq

    df = synthetic_log(last_step=120, schedules={"x": [0, 20]}, outlier=False)
    if groups == "absent":
        df = df.drop(columns="group")
    else:  # the callback's parquet schema: group is a string column, null without groups
        df["group"] = None
    table = pa.Table.from_pandas(df, preserve_index=False)
    if groups == "null":
        table = table.set_column(table.schema.get_field_index("group"), "group",
                                 pa.array([None] * len(df), pa.string()))
    pq.write_table(table, tmp_path / "log.parquet")
    log = read_log(tmp_path / "log.parquet")
    assert log["group"].isna().all()
    res = compute_dynamics(log, [0, 20], window=10)
    assert res.report.by_group == {}
    assert res.report.by_kind["compositional"].decay.alpha == pytest.approx(0.25)


def test_read_log_errors(tmp_path):
    df = synthetic_log(last_step=30, schedules={"x": [0]}, outlier=False)
    bad = tmp_path / "bad.jsonl"
    df.drop(columns="n_tokens").to_json(bad, orient="records", lines=True)
    with pytest.raises(ValueError, match="missing column.*n_tokens"):
        read_log(bad)
    df.assign(kind="episodic").to_json(bad, orient="records", lines=True)
    with pytest.raises(ValueError, match="unknown probe kind"):
        read_log(bad)
    pd.concat([df, df.iloc[:1]]).to_json(bad, orient="records", lines=True)
    with pytest.raises(ValueError, match="more than one row at step 0"):
        read_log(bad)
    bad.write_text('{"step": 0,\n')
    with pytest.raises(ValueError, match="bad.jsonl:1: not valid JSON"):
        read_log(bad)
    with pytest.raises(ValueError, match="must be .jsonl or .parquet"):
        (tmp_path / "log.csv").write_text("x")
        read_log(tmp_path / "log.csv")


def test_compute_errors_name_the_probe(tmp_path):
    log = read_log_from(synthetic_log(last_step=60, schedules={"x": [0]}, outlier=False), tmp_path)
    with pytest.raises(ValueError, match=r"probe x-\w+-0: injection step 500 is not in the log"):
        compute_dynamics(log, [0, 500], window=10)
    with pytest.raises(ValueError, match=r"group\(s\) \['typo'\]"):
        compute_dynamics(log, [0], group_injections={"typo": [0]})


def read_log_from(df: pd.DataFrame, tmp_path) -> pd.DataFrame:
    path = tmp_path / "log.jsonl"
    df.to_json(path, orient="records", lines=True)
    return read_log(path)


def _cli():
    # the real command line: its root group turns errors into one line and an exit code
    from fictional_knowledge.cli import app

    return app


def test_cli_writes_report(log_path, tmp_path):
    from typer.testing import CliRunner

    out = tmp_path / "report"
    res = CliRunner().invoke(_cli(), [
        "dynamics", str(log_path), "--injections", "0", "20", "40", "--out", str(out),
        "--window", "10", "--group-injections", "once=0", "--batch-size", "8", "--seq-len", "128",
        "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "once      semantic: 7 probes, mean E=0.600, α=0.1500" in res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["injections"] == [0, 20, 40]
    assert metrics["settings"]["group_injections"] == {"once": [0]}
    assert metrics["by_group"]["paraphrase"]["compositional"]["decay"]["x_intercept_tokens"] == pytest.approx(
        1e4 * 8 * 128)
    # comma form, options before LOG
    res2 = CliRunner().invoke(_cli(), [
        "dynamics", "--injections", "0,20,40", "--group-injections", "once=0", "--window", "10",
        str(log_path), "--out", str(tmp_path / "r2"), "--no-progress"])
    assert res2.exit_code == 0, res2.output


def test_cli_errors(log_path, tmp_path):
    from typer.testing import CliRunner

    run = lambda *a: CliRunner().invoke(_cli(), ["dynamics", *a, "--no-progress"])  # noqa: E731
    r = run(str(log_path), "--injections", "0", "5000", "--out", str(tmp_path), "--window", "10")
    assert r.exit_code == 2 and "injection step 5000 is not in the log" in r.output
    r = run(str(log_path), "--injections", "0", "--out", str(tmp_path), "--batch-size", "8")
    assert r.exit_code == 2 and "--seq-len" in r.output
    r = run(str(log_path), "--injections", "0", "--out", str(tmp_path),
            "--group-injections", "once")
    assert r.exit_code == 2 and "GROUP=STEP" in r.output
    r = run(str(tmp_path / "nope.jsonl"), "--injections", "0", "--out", str(tmp_path))
    assert r.exit_code == 2 and "not found" in r.output
    r = run(str(log_path), "--out", str(tmp_path))
    assert r.exit_code == 2 and "error: give --regime DIR" in r.output
    r = run(str(log_path), "--regime", str(tmp_path), "--out", str(tmp_path / "x"))
    assert r.exit_code == 2 and "no regime_manifest.json" in r.output
