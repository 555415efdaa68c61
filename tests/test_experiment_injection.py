"""The injection experiment at smoke scale: it runs end to end through the CLI, trains every
injected token (spread, never cut), and reports the four findings with the dynamics it used."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from fictional_knowledge.cli import app


def test_injection_experiment_smoke(tmp_path, one_torch_thread):
    out = tmp_path / "inj"
    r = CliRunner().invoke(app, ["experiment", "injection", "--scale", "smoke", "--out", str(out), "--threads", "1",
                                 "--device", "cpu", "--quiet"])
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert [f["name"] for f in m["findings"]] == [
        "Δ rises at each injection, decays after", "effectivity mem ≥ sem ≥ comp", "retainability linear in log t",
        "duplicate vs paraphrase"]
    assert {f["verdict"] for f in m["findings"]} <= {"reproduced", "not reproduced", "inconclusive"}
    s = m["settings"]
    assert s["schedule"] == {"paraphrase": [0, 4, 8], "duplicate": [0, 4, 8], "once": [0], "control": []}
    assert s["longest_injected_text_tokens"] <= s["seq_len_used"]
    p = m["metrics"]["placements"]
    # 3 injections of 2 paraphrase + 2 duplicate passages, plus 2 once: every text placed, none cut
    assert p["texts"] == 14 and p["cut_tokens"] == 0 and p["max_delay_steps"] <= s["window"]
    dyn = m["metrics"]["dynamics"]
    assert set(dyn["net_of_control"]) == {"paraphrase", "duplicate", "once"}
    assert set(dyn["by_group"]) == {"paraphrase", "duplicate", "once"} and dyn["by_kind"] == {}
    assert m["metrics"]["background"]["tokens"] > 0
    report = (out / "report.md").read_text()
    assert "![delta](delta.png)" in report and (out / "retainability.png").stat().st_size > 10_000


def test_injection_style_settings_are_checked(tmp_path, one_torch_thread):
    """``--set style=...`` picks the passages' style; a bad style, or prose passages longer than
    ``passage_max_words``, stop the run with one line before any training, and --out is not made."""
    runner = CliRunner()
    base = ["experiment", "injection", "--scale", "smoke", "--threads", "1", "--device", "cpu", "--quiet"]
    r = runner.invoke(app, base + ["--out", str(tmp_path / "a"), "--set", "style=poetry"])
    assert r.exit_code != 0 and "style=poetry: expected prose or plain" in r.output
    r = runner.invoke(app, base + ["--out", str(tmp_path / "b"), "--set", "style=prose", "--set", "passage_max_words=80"])
    assert r.exit_code != 0 and "--set passage_max_words=N" in r.output and r.output.count("\n") == 1, r.output
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
