"""fkgen experiment: the shared harness (statistics, packing, schedule, reports) and a smoke run of
every registered experiment through the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from fictional_knowledge.cli import app
from fictional_knowledge.experiments import EXPERIMENTS
from fictional_knowledge.experiments.common import (SCALES, Finding, Scale, bootstrap_ci, diff_ci, excludes_zero,
                                                    is_experiment_output, lr_at, spearman, write_report)

runner = CliRunner()


# ---------------------------------------------------------------- statistics on known answers


def test_bootstrap_ci_covers_the_true_mean_and_narrows_with_n():
    rng = np.random.default_rng(1)
    small, large = rng.normal(1.0, 1.0, 50), rng.normal(1.0, 1.0, 2000)
    lo_s, hi_s = bootstrap_ci(small)
    lo_l, hi_l = bootstrap_ci(large)
    assert lo_l < 1.0 < hi_l
    assert hi_l - lo_l < (hi_s - lo_s) / 3  # ~ 1/sqrt(40) of the width
    assert lo_s <= small.mean() <= hi_s


def test_bootstrap_ci_is_deterministic_and_level_widens():
    x = np.random.default_rng(2).normal(size=100)
    assert bootstrap_ci(x, seed=3) == bootstrap_ci(x, seed=3)
    lo90, hi90 = bootstrap_ci(x, level=0.90)
    lo99, hi99 = bootstrap_ci(x, level=0.99)
    assert lo99 < lo90 and hi99 > hi90


def test_diff_ci_detects_a_planted_paired_difference():
    rng = np.random.default_rng(4)
    b = rng.normal(0, 1, 300)
    a = b + 0.3 + rng.normal(0, 0.2, 300)  # planted +0.3, small per-item noise
    lo, hi = diff_ci(a, b)
    assert lo > 0 and lo < 0.3 < hi
    assert excludes_zero((lo, hi))
    # unpaired, the between-item spread swamps it less tightly but the sign is still clear at n=300
    lo_u, hi_u = diff_ci(a, b, paired=False)
    assert hi_u - lo_u > hi - lo


def test_diff_ci_of_identical_or_exchangeable_samples_contains_zero():
    x = np.random.default_rng(5).normal(size=200)
    assert diff_ci(x, x.copy()) == (0.0, 0.0)
    y = np.random.default_rng(6).normal(size=200)
    lo, hi = diff_ci(x, y, paired=False)
    assert lo < 0 < hi and not excludes_zero((lo, hi))
    em_a = np.zeros(50, dtype=bool)
    assert diff_ci(em_a, em_a) == (0.0, 0.0)


def test_diff_ci_paired_needs_equal_lengths():
    with pytest.raises(ValueError, match="equal lengths"):
        diff_ci([1.0, 2.0], [1.0])


def test_spearman_matches_scipy_and_batches():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(7)
    x = np.stack([rng.integers(1, 8, 80), rng.normal(size=80)], axis=1)  # ties in the first column
    assert spearman(x) == pytest.approx(spearmanr(x[:, 0], x[:, 1]).statistic)
    from fictional_knowledge.evaluate.metrics import distributional_memorization

    assert spearman(x) == pytest.approx(distributional_memorization(x[:, 0], x[:, 1]).rho)
    batch = np.stack([x, x[::-1], np.stack([x[:, 0], -x[:, 0]], 1)])
    out = spearman(batch, axis=1)
    assert out[0] == pytest.approx(out[1]) and out[2] == pytest.approx(-1.0)
    assert math.isnan(spearman(np.ones((10, 2))))


def test_bootstrap_ci_of_a_correlation_resamples_pairs():
    rng = np.random.default_rng(8)
    k = rng.integers(1, 50, 400).astype(float)
    planted = np.stack([k, np.log(k) + rng.normal(0, 1, 400)], axis=1)
    lo, hi = bootstrap_ci(planted, spearman)
    assert lo > 0.3
    # no correlation: the 95% interval holds 0 in about 95% of independent data sets
    covered = 0
    for i in range(40):
        r = np.random.default_rng(100 + i)
        flat = np.stack([r.integers(1, 50, 200), r.normal(0, 1, 200)], axis=1)
        lo, hi = bootstrap_ci(flat, spearman, n=500)
        covered += lo < 0 < hi
    assert covered >= 34  # P(fewer than 34 of 40 | 0.95) < 1%


# ---------------------------------------------------------------- findings, reports, scales


def test_finding_verdict_is_validated():
    Finding(name="x", claim="c", verdict="inconclusive", evidence="e")
    with pytest.raises(ValidationError):
        Finding(name="x", claim="c", verdict="sort of", evidence="e")
    f = Finding(name="x", claim="c", verdict="reproduced", evidence="e")
    with pytest.raises(ValidationError):
        f.verdict = "not reproduced"  # frozen


def test_write_report_writes_parseable_metrics_and_the_command(tmp_path):
    findings = [Finding(name="a", claim="c", verdict="not reproduced", evidence="rho 0.1 [-0.1, 0.3]",
                        numbers={"rho": 0.1, "nan": float("nan")})]
    path = write_report(tmp_path / "out", name="demo", title="Demo", command="fkgen experiment demo --scale smoke",
                        settings={"seed": 3, "arr": np.arange(3)}, findings=findings, metrics={"x": np.float32(1.5)},
                        figures=[], notes=["n1"], elapsed_s=12.34)
    text = path.read_text()
    assert "fkgen experiment demo --scale smoke" in text and "**not reproduced**" in text and "12 s" in text
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert m["experiment"] == "demo" and m["settings"] == {"seed": 3, "arr": [0, 1, 2]}
    assert m["findings"][0]["numbers"]["nan"] is None and m["metrics"]["x"] == 1.5
    assert m["elapsed_s"] == 12.3 and m["package_version"]
    assert is_experiment_output(tmp_path / "out")
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temp files left


def test_report_files_get_the_umask_mode(tmp_path):
    """report.md and metrics.json are readable like any other output (they were mkstemp's 0600)."""
    import os

    old = os.umask(0o022)
    try:
        write_report(tmp_path / "out", name="demo", title="Demo", command="fkgen experiment demo", settings={},
                     findings=[], metrics={}, figures=[], notes=[], elapsed_s=1.0)
    finally:
        os.umask(old)
    for name in ("report.md", "metrics.json"):
        assert (tmp_path / "out" / name).stat().st_mode & 0o777 == 0o644, name


def test_scales():
    assert set(SCALES) >= {"smoke", "cpu", "gpu"}
    gpu = SCALES["gpu"]
    assert gpu.batch_size >= 128 and gpu.seq_len >= 512
    assert 80e6 < gpu.params_estimate() < 150e6
    with pytest.raises(ValidationError):
        Scale(**{**SCALES["cpu"].model_dump(), "bogus": 1})


def test_lr_schedule_warms_up_and_decays():
    sc = SCALES["cpu"]
    steps = 200
    lrs = [lr_at(s, steps, sc) for s in range(steps)]
    assert lrs[0] == pytest.approx(sc.lr / sc.warmup_steps)
    assert max(lrs) == pytest.approx(sc.lr) and lrs[sc.warmup_steps - 1] == pytest.approx(sc.lr)
    assert lrs[-1] == pytest.approx(sc.lr * sc.min_lr_ratio)
    assert all(b <= a for a, b in zip(lrs[sc.warmup_steps:], lrs[sc.warmup_steps + 1:]))
    const = sc.model_copy(update={"schedule": "constant"})
    assert lr_at(steps - 1, steps, const) == sc.lr
    assert lr_at(0, 1, sc) > 0


# ---------------------------------------------------------------- packing (needs torch/tokenizers)


@pytest.mark.slow
def test_pack_never_drops_tokens(one_torch_thread):
    from fictional_knowledge.experiments.common import batches, pack, train_tokenizer

    texts = [f"Entity number {i} was founded in {1800 + i} by Person {i * 7}." * (1 + i % 5) for i in range(60)]
    tok = train_tokenizer(texts, 300)
    encoded = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    expected = [t for ids in encoded for t in ids + [tok.eos_token_id]]
    for seq_len in (8, 37, 64, len(expected), len(expected) + 5):
        p = pack(tok, texts, seq_len)
        flat = p.input_ids.reshape(-1).tolist()
        assert flat[:len(expected)] == expected  # every token, in order
        assert p.tokens == len(expected) and p.cut_tokens == 0
        assert p.pad_tokens == p.rows * seq_len - len(expected) < seq_len
        labels = p.labels.reshape(-1).tolist()
        assert labels[:len(expected)] == expected and set(labels[len(expected):]) <= {-100}
    p = pack(tok, texts, 16)
    seen = np.zeros(p.rows, dtype=int)
    for b in batches(p, 5, 3 * p.rows // 5 + 1, seed=0):
        for row in b["input_ids"]:
            seen[[i for i in range(p.rows) if (p.input_ids[i] == row).all()][0]] += 1
    assert seen.max() - seen.min() <= 1 and seen.min() >= 3


@pytest.mark.slow
def test_shuffled_batches_repack_every_pass_without_dropping(one_torch_thread):
    from collections import Counter

    from fictional_knowledge.experiments.common import pack, shuffled_batches, train_tokenizer

    texts = [f"Fact {i}: the river Ulo{i} flows into lake Mar{i % 7}." for i in range(40)]
    tok = train_tokenizer(texts, 300)
    assert tok("x")["input_ids"][0] == tok.eos_token_id  # scored prompts start after an EOS, like training texts
    p = pack(tok, texts, 16)
    expected = Counter(t for ids in tok(texts, add_special_tokens=False)["input_ids"] for t in ids + [tok.eos_token_id])
    out = list(shuffled_batches(tok, texts, 16, 1, 2 * p.rows, seed=0))  # two passes, one row per batch
    passes = [out[:p.rows], out[p.rows:]]
    for rows in passes:
        got = Counter(t for b in rows for t in b["labels"][0].tolist() if t != -100)
        assert got == expected  # every token of every text, once per pass
    assert [b["input_ids"].tolist() for b in passes[0]] != [b["input_ids"].tolist() for b in passes[1]]
    first = {tuple(b["input_ids"][0].tolist()) for b in passes[0]}
    second = {tuple(b["input_ids"][0].tolist()) for b in passes[1]}
    assert first != second  # rows are repacked, not only reordered


# ---------------------------------------------------------------- the CLI


def test_cli_refuses_unknown_experiment_scale_and_settings(tmp_path):
    out = tmp_path / "o"
    r = runner.invoke(app, ["experiment", "nosuch", "--scale", "smoke", "--out", str(out)])
    assert r.exit_code == 2 and "error: unknown experiment 'nosuch'" in r.output
    r = runner.invoke(app, ["experiment", "frequency", "--scale", "huge", "--out", str(out)])
    assert r.exit_code == 2 and "error: unknown scale 'huge'" in r.output
    for bad, message in [("bogus=1", "--set bogus: no such setting"), ("n_layer=0", "--set n_layer: Input should be"),
                         ("epochs", "expected KEY=VALUE"), ("name=gpu", "choose the scale with --scale")]:
        r = runner.invoke(app, ["experiment", "frequency", "--scale", "smoke", "--out", str(out), "--set", bad])
        assert r.exit_code == 2 and message in r.output, (bad, r.output)
        assert len(r.output.strip().splitlines()) == 1
    assert not out.exists()


def test_set_overrides_cast_to_the_setting_type():
    from fictional_knowledge.experiments.common import ExperimentError, override_scale, scale_settings

    per_scale = {"smoke": {"epochs": 1.0, "checkpoints": 2}, "gpu": {"epochs": 9.0, "checkpoints": 3}}
    sc = SCALES["smoke"]
    assert scale_settings(sc, per_scale, {"epochs": "2.5", "lr": "0.1"}) == {"epochs": 2.5, "checkpoints": 2}
    with pytest.raises(ExperimentError, match="expected a int"):
        scale_settings(sc, per_scale, {"checkpoints": "x"})
    assert override_scale(sc, {"lr": "0.1", "epochs": "3"}, per_scale["smoke"]).lr == 0.1
    assert override_scale(sc, {"epochs": "3"}, per_scale["smoke"]) == sc  # the experiment's epochs win
    assert scale_settings(SCALES["cpu"], per_scale) == per_scale["gpu"]


@pytest.mark.slow
def test_cli_refuses_a_foreign_non_empty_out(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    r = runner.invoke(app, ["experiment", "frequency", "--scale", "smoke", "--out", str(foreign), "--threads", "1"])
    assert r.exit_code == 2 and "is not empty" in r.output and len(r.output.strip().splitlines()) == 1
    assert (foreign / "notes.txt").read_text() == "mine"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_experiment_smoke_run_writes_a_report(name, tmp_path, one_torch_thread):
    out = tmp_path / name
    args = ["experiment", name, "--scale", "smoke", "--out", str(out), "--threads", "1", "--device", "cpu", "--quiet"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["experiment"] == name and m["settings"]["seed"] == 0 and m["elapsed_s"] > 0
    assert m["command"].startswith(f"fkgen experiment {name} --scale smoke --out ")
    assert m["findings"] and all(f["verdict"] in ("reproduced", "not reproduced", "inconclusive") for f in m["findings"])
    assert m["figures"] and all((out / f).stat().st_size > 0 for f in m["figures"])
    report = (out / "report.md").read_text()
    assert m["command"] in report and "measured wall time" in report
    # a previous output may be overwritten by a rerun
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output


def test_help_names_every_registered_experiment():
    from fictional_knowledge.experiments import experiment_module

    out = runner.invoke(app, ["experiment", "--help"], terminal_width=200).output
    for name in EXPERIMENTS:
        assert name in out
        module = experiment_module(name)
        assert module.TITLE and callable(module.run)
