"""Tests for ``fkgen leaderboard`` (leaderboard.py, the static page) and the Hub eval.yaml writer.

The results below are FIXTURES: hand-made ``Results`` objects for fake models with made-up scores,
which is all a leaderboard needs. The browser test opens the page in Debian's headless Chromium.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from fictional_knowledge.cli import leaderboard as cli_leaderboard
from fictional_knowledge.evaluate.hub_eval import HubEvalError, eval_config, eval_results_entries, validate_eval_config, write_eval_yaml
from fictional_knowledge.evaluate.leaderboard import (LeaderboardError, build_leaderboard, load_results, render_html,
                                             render_markdown, write_leaderboard)
from fictional_knowledge.models import QA, Probe
from fictional_knowledge.evaluate.results import Results

KINDS = ("memorization", "semantic", "compositional")
INJECTION = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>'


def fixture_result(model: str, ems: tuple[float, float, float], losses: tuple[float, float, float],
                   qa: tuple[float, float] | None = (0.5, 0.25), fingerprint: str = "fp-A",
                   revision: str | None = None) -> Results:
    """A FIXTURE results object for a fake model (not a real evaluation)."""
    scores: dict = {k: {"n": n, "loss": l, "loss_sum": 2 * l, "first_token_loss": 1.5 * l, "exact_match": e}
                    for k, e, l, n in zip(KINDS, ems, losses, (100, 100, 50))}
    if qa is not None:
        scores["qa"] = {"n": 40, "mc_accuracy": qa[0], "generation_exact_match": qa[1]}
    return Results(
        package_version="0.1.0", model=model, model_revision=revision,
        dataset={"path": "builds/fixture", "version": "v1.0.0", "package_version": "0.1.0", "seed": 0,
                 "fingerprints": {"probes": fingerprint, "qa": fingerprint + "-qa"}},
        settings={"batch_size": 8, "dtype": "float32", "device": "cpu"},
        scores=scores, created_at="2025-01-02T03:04:05Z",
    )


# Four fake models. Comp. losses 10.5 / 9.5 / 12.25 / 2.5 sort differently as numbers and as text.
FIXTURES = {
    "alpha": fixture_result("fixture/alpha", (0.90, 0.40, 0.10), (1.25, 3.5, 10.5), revision="abc1234"),
    "bravo": fixture_result("fixture/bravo", (0.50, 0.30, 0.35), (2.0, 3.0, 9.5)),
    "charlie": fixture_result("fixture/charlie", (0.10, 0.05, 0.00), (6.0, 7.0, 12.25), qa=None),
    "evil": fixture_result(INJECTION, (0.60, 0.20, 0.05), (1.75, 4.0, 2.5), qa=(0.75, 0.5)),
}


def mean_em(res: Results) -> float:
    return sum(res.scores[k].exact_match for k in KINDS) / 3


@pytest.fixture()
def result_files(tmp_path: Path) -> list[Path]:
    paths = []
    for name, res in FIXTURES.items():
        path = tmp_path / f"{name}.json"
        path.write_text(res.model_dump_json(indent=2))
        paths.append(path)
    return paths


def _app() -> typer.Typer:
    from fictional_knowledge.cli import FKGroup

    app = typer.Typer(cls=FKGroup)  # fkgen's error handling: one `error:` line, exit 2 for bad input

    @app.callback()
    def _root() -> None:  # keeps subcommand names even when only our commands exist
        pass

    cli_leaderboard.register(app)
    return app


# --------------------------------------------------------------------------- leaderboard data


def test_rows_equal_results_and_default_ranking() -> None:
    board = build_leaderboard([(k, v) for k, v in FIXTURES.items()])
    expected_order = sorted(FIXTURES.values(), key=mean_em, reverse=True)
    assert [r["model"] for r in board["rows"]] == [r.model for r in expected_order]
    assert [r["rank"] for r in board["rows"]] == [1, 2, 3, 4]
    for row in board["rows"]:
        res = next(r for r in FIXTURES.values() if r.model == row["model"])
        for k in KINDS:
            assert row[f"{k}_exact_match"] == res.scores[k].exact_match
            assert row[f"{k}_loss"] == res.scores[k].loss
        assert row["mean_exact_match"] == pytest.approx(mean_em(res))
        assert row["mean_loss"] == pytest.approx(sum(res.scores[k].loss for k in KINDS) / 3)
        qa = res.scores.get("qa")
        assert row["qa_mc_accuracy"] == (qa.mc_accuracy if qa else None)
        assert row["qa_generation_exact_match"] == (qa.generation_exact_match if qa else None)
        assert row["package_version"] == "0.1.0" and row["dataset_version"] == "v1.0.0"
        assert re.fullmatch(r"[0-9a-f]{12}", row["dataset_fingerprint"])
    directions = {c["key"]: c["better"] for c in board["columns"]}
    assert directions["memorization_exact_match"] == "higher" and directions["compositional_loss"] == "lower"
    assert directions["qa_mc_accuracy"] == "higher" and directions["model"] is None


def test_sort_by_uses_better_direction_and_missing_last() -> None:
    pairs = list(FIXTURES.items())
    by_loss = build_leaderboard(pairs, sort_by="compositional_loss")
    assert [r["compositional_loss"] for r in by_loss["rows"]] == [2.5, 9.5, 10.5, 12.25]  # numeric, lower first
    assert by_loss["descending"] is False
    forced = build_leaderboard(pairs, sort_by="compositional_loss:desc")
    assert [r["compositional_loss"] for r in forced["rows"]] == [12.25, 10.5, 9.5, 2.5]
    by_qa = build_leaderboard(pairs, sort_by="qa_mc_accuracy")
    assert [r["qa_mc_accuracy"] for r in by_qa["rows"]] == [0.75, 0.5, 0.5, None]
    assert [r["rank"] for r in by_qa["rows"]][:3] == [1, 2, 2]  # equal values share a rank
    asc = build_leaderboard(pairs, sort_by="qa_mc_accuracy:asc")
    assert [r["qa_mc_accuracy"] for r in asc["rows"]] == [0.5, 0.5, 0.75, None]
    by_rank = build_leaderboard(pairs, sort_by="rank:desc")
    assert [r["rank"] for r in by_rank["rows"]] == [4, 3, 2, 1]
    nan = fixture_result("fixture/nan-loss", (0.2, 0.2, 0.2), (float("nan"), 3.0, 3.0))
    row = build_leaderboard([("nan", nan)])["rows"][0]
    assert row["memorization_loss"] is None and row["mean_loss"] == 3.0
    with pytest.raises(LeaderboardError, match="unknown sort key 'nope'"):
        build_leaderboard(pairs, sort_by="nope")


def test_equal_means_share_a_rank_and_break_ties_by_loss() -> None:
    a = fixture_result("fixture/tie-a", (0.1, 0.2, 0.3), (0.91, 3.84, 6.12))  # mean EM 0.2000000000000000x
    b = fixture_result("fixture/tie-b", (0.3, 0.2, 0.1), (1.05, 3.51, 5.87))  # mean EM 0.2, lower mean loss
    c = fixture_result("fixture/tie-c", (0.15, 0.15, 0.15), (9.0, 9.0, 9.0))
    rows = build_leaderboard([("c", c), ("a", a), ("b", b)])["rows"]
    assert [(r["model"], r["rank"]) for r in rows] == [("fixture/tie-b", 1), ("fixture/tie-a", 1), ("fixture/tie-c", 3)]


def test_invalid_results_files_name_file_and_field(tmp_path: Path) -> None:
    good = json.loads(FIXTURES["bravo"].model_dump_json())
    cases = {
        "broken.json": ("{not json", "not valid JSON"),
        "nomodel.json": ({k: v for k, v in good.items() if k != "model"}, "field 'model'"),
        "range.json": ({**good, "scores": {**good["scores"], "semantic": {**good["scores"]["semantic"], "exact_match": 1.5}}},
                       "scores.semantic"),
        "extra.json": ({**good, "surprise": 1}, "field 'surprise'"),
        "swapped.json": ({**good, "scores": {"memorization": good["scores"]["qa"]}}, "field 'scores.memorization'"),
    }
    for name, (content, needle) in cases.items():
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        with pytest.raises(LeaderboardError) as info:
            load_results(path)
        message = str(info.value)
        assert name in message and needle in message and "\n" not in message, message


def test_mixed_fingerprints_refused_unless_allowed(tmp_path: Path) -> None:
    a = tmp_path / "a.json"
    b = tmp_path / "b.json"
    a.write_text(FIXTURES["alpha"].model_dump_json())
    b.write_text(fixture_result("fixture/other-build", (0.2, 0.2, 0.2), (3, 3, 3), fingerprint="fp-B").model_dump_json())
    with pytest.raises(LeaderboardError, match="different dataset fingerprints") as info:
        write_leaderboard([a, b], tmp_path / "out")
    assert str(a) in str(info.value) and str(b) in str(info.value)
    files = write_leaderboard([a, b], tmp_path / "out", allow_mixed=True)
    board = json.loads(files["json"].read_text())
    assert board["dataset"]["mixed"] is True and len(board["dataset"]["fingerprints"]) == 2
    assert 'id="mixed-warning"' in files["html"].read_text()


def test_markdown_and_html_escape_model_names() -> None:
    board = build_leaderboard(list(FIXTURES.items()) + [("pipe", fixture_result("fixture/a|b", (0, 0, 0), (9, 9, 9)))])
    md = render_markdown(board)
    table = [line for line in md.splitlines() if line.startswith("|")]
    assert len(table) == 2 + 5 and all(line.count(" | ") == table[0].count(" | ") for line in table[2:])
    assert "fixture/a\\|b" in md and "<script>" not in md and "&lt;script&gt;" in md
    page = render_html(board)
    assert "<script>window.__pwned" not in page and "<img src=x" not in page
    assert "&lt;img src=x onerror=&#34;window.__pwned=1&#34;&gt;" in page
    # self-contained: a CSP that allows nothing external, no URLs in src/href, one inline script
    assert "default-src 'none'" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert page.count("<script") == 1 and "<link" not in page


def test_cli_writes_three_files_and_reports_errors(tmp_path: Path, result_files: list[Path]) -> None:
    runner = CliRunner()
    out = tmp_path / "board"
    res = runner.invoke(_app(), ["leaderboard", *map(str, result_files), "--out", str(out), "--sort-by", "qa_mc_accuracy"])
    assert res.exit_code == 0, res.output
    assert {p.name for p in out.iterdir()} == {"leaderboard.json", "leaderboard.md", "index.html"}
    board = json.loads((out / "leaderboard.json").read_text())
    assert board["sort_by"] == "qa_mc_accuracy" and board["rows"][0]["model"] == INJECTION
    assert board["rows"][-1]["qa_mc_accuracy"] is None
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    res = runner.invoke(_app(), ["leaderboard", str(bad), "--out", str(out)])
    assert res.exit_code == 2 and "bad.json" in res.output
    res = runner.invoke(_app(), ["leaderboard", str(result_files[0]), "--out", str(out), "--sort-by", "speed"])
    assert res.exit_code == 2 and "unknown sort key" in res.output


# --------------------------------------------------------------------------- headless Chromium


def _chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    found = _chromium()
    if found is None:
        pytest.skip("Debian's chromium and chromium-driver are not installed (apt-get install -y chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common import selenium_manager

    def _no_downloads(*args, **kwargs):
        raise AssertionError("selenium-manager must not run: the driver path is given explicitly")

    original = selenium_manager.SeleniumManager.binary_paths
    selenium_manager.SeleniumManager.binary_paths = _no_downloads
    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1600,900",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=found[1]), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        selenium_manager.SeleniumManager.binary_paths = original


def _table(driver) -> list[dict[str, str]]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#leaderboard tbody tr')).map(tr => "
        "Object.fromEntries(Array.from(tr.cells).map(td => [td.dataset.key, td.textContent.trim()])));")


def _click(driver, key: str) -> str:
    driver.find_element("css selector", f'th[data-key="{key}"] button').click()
    return driver.find_element("css selector", f'th[data-key="{key}"]').get_attribute("aria-sort")


def _num(text: str) -> float | None:
    return None if text == "—" else float(text)


@pytest.mark.browser
def test_page_in_chromium_shows_rows_and_sorts(browser, result_files: list[Path], tmp_path: Path) -> None:
    files = write_leaderboard(result_files, tmp_path / "site")
    browser.get(files["html"].resolve().as_uri())
    rows = _table(browser)

    # the rows shown are the results given, best mean exact match first
    expected = sorted(FIXTURES.values(), key=mean_em, reverse=True)
    assert [r["model"].split(" @ ")[0] for r in rows] == [res.model for res in expected]
    for row, res in zip(rows, expected):
        for k in KINDS:
            assert _num(row[f"{k}_exact_match"]) == pytest.approx(res.scores[k].exact_match, abs=5e-4)
            assert _num(row[f"{k}_loss"]) == pytest.approx(res.scores[k].loss, abs=5e-4)
        qa = res.scores.get("qa")
        assert _num(row["qa_mc_accuracy"]) == (pytest.approx(qa.mc_accuracy, abs=5e-4) if qa else None)
        assert _num(row["mean_exact_match"]) == pytest.approx(mean_em(res), abs=5e-4)
    assert rows[0]["model"] == "fixture/alpha @ abc1234"

    # model names are text, not markup: nothing injected ran
    assert browser.execute_script("return window.__pwned === undefined && document.images.length === 0")
    # nothing was fetched from anywhere, and the inline script ran without errors
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []

    # numeric column, lower is better: first click ascending (numerically), second click descending
    assert _click(browser, "compositional_loss") == "ascending"
    assert [_num(r["compositional_loss"]) for r in _table(browser)] == [2.5, 9.5, 10.5, 12.25]
    assert _click(browser, "compositional_loss") == "descending"
    assert [_num(r["compositional_loss"]) for r in _table(browser)] == [12.25, 10.5, 9.5, 2.5]

    # higher is better: first click descending; a missing value stays last both ways
    assert _click(browser, "qa_mc_accuracy") == "descending"
    shown = [_num(r["qa_mc_accuracy"]) for r in _table(browser)]
    assert shown == [0.75, 0.5, 0.5, None]
    assert _click(browser, "qa_mc_accuracy") == "ascending"
    assert [_num(r["qa_mc_accuracy"]) for r in _table(browser)] == [0.5, 0.5, 0.75, None]

    # text column: ascending then descending; only the clicked header is marked
    assert _click(browser, "model") == "ascending"
    names = [r["model"].split(" @ ")[0] for r in _table(browser)]
    assert names == sorted(names, key=str.lower)
    assert _click(browser, "model") == "descending"
    assert [r["model"].split(" @ ")[0] for r in _table(browser)] == sorted(names, key=str.lower, reverse=True)
    marked = browser.execute_script(
        "return Array.from(document.querySelectorAll('th')).filter(th => th.getAttribute('aria-sort') !== 'none').length")
    assert marked == 1


@pytest.mark.slow
@pytest.mark.browser
def test_fkgen_eval_results_to_page_in_chromium(browser, tiny_build: Path, tmp_path: Path) -> None:
    """End to end: `fkgen eval` on two tiny random models, `fkgen leaderboard`, the page in Chromium."""
    from fictional_knowledge.cli import app
    from fictional_knowledge.dataset.io import read_rows
    from tinymodel import make_tiny_model

    texts = [p["text"] for p in read_rows(tiny_build, "passages")]
    runner, paths = CliRunner(), []
    for seed in (0, 1):
        model = make_tiny_model(tmp_path / f"tiny-{seed}", texts, seed=seed, n_layer=1, n_embd=32)
        out = tmp_path / f"results-{seed}.json"
        res = runner.invoke(app, ["eval", "--model", str(model), "--data", str(tiny_build), "--out", str(out),
                                  "--limit", "6", "--batch-size", "8", "--max-new-tokens", "4", "--no-progress"])
        assert res.exit_code == 0, res.output
        paths.append(out)
    res = runner.invoke(app, ["leaderboard", *map(str, paths), "--out", str(tmp_path / "site")])
    assert res.exit_code == 0, res.output
    results = {str(r.model): r for r in map(load_results, paths)}
    browser.get((tmp_path / "site" / "index.html").resolve().as_uri())
    rows = _table(browser)
    assert sorted(r["model"] for r in rows) == sorted(results)
    for row in rows:
        res_ = results[row["model"]]
        for k in KINDS:
            assert _num(row[f"{k}_loss"]) == pytest.approx(res_.scores[k].loss, abs=5e-4)
            assert _num(row[f"{k}_exact_match"]) == pytest.approx(res_.scores[k].exact_match, abs=5e-4)
        assert _num(row["qa_mc_accuracy"]) == pytest.approx(res_.scores["qa"].mc_accuracy, abs=5e-4)


# --------------------------------------------------------------------------- Hub eval.yaml

# What https://huggingface.co/docs/hub/eval-results requires, restated here independently of hub_eval.py.
DOC_TOP_LEVEL = {"name", "description", "evaluation_framework", "tasks"}
INSPECT_HF_TASK_KEYS = {"id", "config", "split", "field_spec", "shuffle_choices", "epochs", "epoch_reducer",
                        "solvers", "scorers"}


def _manifest(folder: Path, configs: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps({"configs": {c: {"rows": 1, "fingerprint": "x"} for c in configs}}))
    return folder


def test_eval_yaml_is_valid_yaml_with_documented_fields(tmp_path: Path) -> None:
    folder = _manifest(tmp_path / "release", ["entities", "facts", "passages", "probes", "statements", "qa"])
    path = write_eval_yaml(folder, version="v1.0.0")
    assert path == folder / "eval.yaml"
    cfg = yaml.safe_load(path.read_text())
    assert DOC_TOP_LEVEL <= set(cfg) and cfg["evaluation_framework"] == "inspect-ai"
    assert isinstance(cfg["name"], str) and "v1.0.0" in cfg["description"]
    ids = [t["id"] for t in cfg["tasks"]]
    assert ids == ["probes", "qa_mc", "qa_generation"]
    columns = {"probes": set(Probe.model_fields), "qa": set(QA.model_fields)}
    for task in cfg["tasks"]:
        assert set(task) <= INSPECT_HF_TASK_KEYS and {"field_spec", "solvers", "scorers"} <= set(task)
        assert task["split"] == "train" and task["config"] in columns
        spec = task["field_spec"]
        used = [spec["input"], spec["target"], *([spec["choices"]] if "choices" in spec else []), *spec.get("metadata", [])]
        assert set(used) <= columns[task["config"]], (task["id"], used)
        assert all(isinstance(s["name"], str) for s in task["solvers"] + task["scorers"])
    mc = cfg["tasks"][1]
    assert mc["field_spec"]["target"] == "answer_index" and mc["solvers"] == [{"name": "multiple_choice"}]


def test_eval_yaml_follows_the_build_and_rejects_bad_input(tmp_path: Path) -> None:
    only_probes = eval_config(folder=_manifest(tmp_path / "p", ["probes"]))
    assert [t["id"] for t in only_probes["tasks"]] == ["probes"]
    with pytest.raises(HubEvalError, match="neither"):
        eval_config(folder=_manifest(tmp_path / "e", ["entities"]))
    with pytest.raises(HubEvalError, match="evaluation_framework 'lm-eval'"):
        eval_config(framework="lm-eval")
    plain = eval_config(framework="harbor")  # other frameworks need no inspect fields
    assert set(plain["tasks"][0]) == {"id", "config", "split"}
    good = eval_config()
    for broken, needle in [({**good, "name": ""}, "name"),
                           ({**good, "tasks": [{**good["tasks"][0], "prompt": "x"}]}, "prompt"),
                           ({**good, "tasks": [good["tasks"][0], good["tasks"][0]]}, "duplicate")]:
        with pytest.raises(HubEvalError, match=needle):
            validate_eval_config(broken)


def test_eval_results_entries_and_cli(tmp_path: Path) -> None:
    res = FIXTURES["bravo"]
    entries = eval_results_entries(res, "org/fictional-knowledge", revision="v1.0.0")
    values = {e["dataset"]["task_id"]: e["value"] for e in entries}
    assert values["probes"] == pytest.approx((0.5 * 100 + 0.3 * 100 + 0.35 * 50) / 250)
    assert values["qa_mc"] == 0.5 and values["qa_generation"] == 0.25
    assert all(e["dataset"]["id"] == "org/fictional-knowledge" for e in entries)
    assert "qa_mc" not in {e["dataset"]["task_id"] for e in eval_results_entries(FIXTURES["charlie"], "o/n")}
    out = CliRunner().invoke(_app(), ["hub-eval-yaml", str(_manifest(tmp_path / "b", ["probes", "qa"])), "--print"])
    assert out.exit_code == 0, out.output
    assert yaml.safe_load(out.output)["tasks"][0]["id"] == "probes"


def test_our_scores_are_never_passed_off_as_the_hub_tasks_scores() -> None:
    """eval.yaml's Inspect tasks score by generation; fkgen eval by log-likelihood. The file says
    so, and every reported entry is marked self-reported with the difference."""
    from fictional_knowledge.evaluate.hub_eval import SCORING_DIFFERENCES

    cfg = eval_config()
    assert "self-reported" in cfg["description"] and "differ" in cfg["description"]
    assert {t["id"] for t in cfg["tasks"]} == set(SCORING_DIFFERENCES)
    entries = eval_results_entries(FIXTURES["bravo"], "org/fictional-knowledge")
    assert entries and all(e["notes"].startswith("self-reported") and "not computed by this benchmark's Inspect AI task"
                           in e["notes"] and SCORING_DIFFERENCES[e["dataset"]["task_id"]] in e["notes"] for e in entries)


# ------------------------------------------------------------ lm-evaluation-harness results in


def lm_eval_fixture(model_path: str, build: Path | None = None, hub: str | None = None, revision: str | None = None,
                    limit: int | None = 50) -> dict:
    """A FIXTURE in the layout lm-eval 0.4.13 writes to ``OUT/<model>/results_<date>.json``
    (``EvaluationTracker.save_results_aggregated``: ``results``, ``groups``, ``group_subtasks``,
    ``configs``, ``versions``, ``n-shot``, ``higher_is_better``, ``n-samples``, ``config``, then
    ``git_hash``, ``date``, env info and the ``GeneralConfigTracker`` fields); made-up scores."""
    if build is not None:
        source = lambda config: {"dataset_path": "parquet", "test_split": "train",  # noqa: E731
                                 "dataset_kwargs": {"data_files": {"train": str(build.resolve() / "data" / config / "*.parquet")}}}
    else:
        source = lambda config: {"dataset_path": hub, "dataset_name": config, "test_split": "train",  # noqa: E731
                                 **({"dataset_kwargs": {"revision": revision}} if revision else {})}
    tasks = {"fictional_knowledge_memorization": "probes", "fictional_knowledge_semantic": "probes",
             "fictional_knowledge_compositional": "probes", "fictional_knowledge_qa_mc": "qa",
             "fictional_knowledge_qa_gen": "qa"}
    n = {"fictional_knowledge_memorization": 200, "fictional_knowledge_semantic": 200,
         "fictional_knowledge_compositional": 200, "fictional_knowledge_qa_mc": 210, "fictional_knowledge_qa_gen": 210}
    return {
        "results": {
            "fictional_knowledge": {"alias": "fictional_knowledge", "acc,none": 0.15, "acc_stderr,none": 0.0183},
            "fictional_knowledge_cloze": {"alias": " - cloze", "acc,none": 0.0067, "acc_stderr,none": 0.0067},
            "fictional_knowledge_compositional": {"alias": "  - compositional", "perplexity,none": 12319.5104,
                                                  "perplexity_stderr,none": 16652.7768, "acc,none": 0.02,
                                                  "acc_stderr,none": 0.02},
            "fictional_knowledge_memorization": {"alias": "  - memorization", "perplexity,none": 726136.4897,
                                                 "perplexity_stderr,none": 4587395.5158, "acc,none": 0.06,
                                                 "acc_stderr,none": 0.034},
            "fictional_knowledge_semantic": {"alias": "  - semantic", "perplexity,none": 676149.3444,
                                             "perplexity_stderr,none": 4157833.6523, "acc,none": 0.04,
                                             "acc_stderr,none": 0.028},
            "fictional_knowledge_qa_gen": {"alias": " - qa (generation)", "exact_match,strip": 0.1,
                                           "exact_match_stderr,strip": 0.0429},
            "fictional_knowledge_qa_mc": {"alias": " - qa (multiple choice)", "acc,none": 0.58, "acc_stderr,none": 0.0705,
                                          "acc_norm,none": 0.56, "acc_norm_stderr,none": 0.0709},
        },
        "groups": {"fictional_knowledge": {"alias": "fictional_knowledge", "acc,none": 0.15, "acc_stderr,none": 0.0183}},
        "group_subtasks": {"fictional_knowledge_cloze": ["fictional_knowledge_memorization", "fictional_knowledge_semantic",
                                                         "fictional_knowledge_compositional"],
                           "fictional_knowledge": ["fictional_knowledge_cloze", "fictional_knowledge_qa_mc",
                                                   "fictional_knowledge_qa_gen"]},
        "configs": {t: {"task": t, "tag": [], **source(c), "output_type": "loglikelihood", "metadata": {"version": 1.0}}
                    for t, c in tasks.items()},
        "versions": {t: 1.0 for t in tasks},
        "n-shot": {t: 0 for t in tasks},
        "higher_is_better": {t: {"acc": True} for t in tasks},
        "n-samples": {t: {"original": n[t], "effective": min(n[t], limit or n[t])} for t in tasks},
        "config": {"model": "hf", "model_args": f"pretrained={model_path},dtype=float32", "model_num_parameters": 120000,
                   "model_dtype": "torch.float32", "batch_size": "16", "batch_sizes": [], "device": "cpu",
                   "use_cache": None, "limit": limit, "bootstrap_iters": 100000, "gen_kwargs": {}, "random_seed": 0,
                   "numpy_seed": 1234, "torch_seed": 1234, "fewshot_seed": 1234},
        "git_hash": None, "date": 1764384000.0, "pretty_env_info": "PyTorch version: 2.13.0", "transformers_version": "5.0.0",
        "lm_eval_version": "0.4.13", "upper_git_hash": None, "task_hashes": {},
        "model_source": "hf", "model_name": model_path, "model_name_sanitized": model_path.replace("/", "__"),
        "system_instruction": None, "system_instruction_sha": None, "fewshot_as_multiturn": False,
        "chat_template": None, "chat_template_sha": None, "start_time": 100.0, "end_time": 121.0,
        "total_evaluation_time_seconds": "21.0",
    }


def test_lm_eval_results_become_rows_next_to_fkgen_results(tmp_path: Path, tiny_build: Path) -> None:
    from fictional_knowledge.dataset.io import read_manifest
    from fictional_knowledge.evaluate.leaderboard import dataset_fingerprint, is_lm_eval_results, lm_eval_row

    data = lm_eval_fixture("org/model-x", build=tiny_build)
    assert is_lm_eval_results(data) and not is_lm_eval_results(json.loads(FIXTURES["alpha"].model_dump_json()))
    row = lm_eval_row(data, "results_x.json")
    assert row["model"] == "org/model-x" and row["scored_by"] == "lm-eval" and row["limited"] is True
    assert (row["memorization_exact_match"], row["semantic_exact_match"], row["compositional_exact_match"]) == (0.06, 0.04, 0.02)
    assert row["mean_exact_match"] == pytest.approx(0.04)
    assert row["memorization_loss"] is None and row["mean_loss"] is None  # lm-eval has no per-token mean loss
    assert (row["qa_mc_accuracy"], row["qa_generation_exact_match"]) == (0.58, 0.1)
    assert row["memorization_n"] == 50 and row["package_version"] == "lm-eval 0.4.13"
    fps = {k: v.fingerprint for k, v in read_manifest(tiny_build).configs.items()}
    assert row["dataset_fingerprint"] == dataset_fingerprint(fps) and row["dataset_path"] == str(tiny_build.resolve())

    # our own results on the same build rank in the same board (same dataset fingerprint)
    ours = FIXTURES["bravo"].model_copy(update={"dataset": FIXTURES["bravo"].dataset.model_copy(
        update={"fingerprints": fps, "version": None})})
    files = [tmp_path / "ours.json", tmp_path / "org__model-x" / "results_2025-11-29T00-00-00.json"]
    files[0].write_text(ours.model_dump_json())
    files[1].parent.mkdir()
    files[1].write_text(json.dumps(data))
    written = write_leaderboard(files, tmp_path / "board")
    board = json.loads(written["json"].read_text())
    assert [(r["model"], r["scored_by"]) for r in board["rows"]] == [("fixture/bravo", "fkgen"), ("org/model-x", "lm-eval")]
    assert board["dataset"]["mixed"] is False
    result = CliRunner().invoke(_app(), ["leaderboard", *map(str, files), "--out", str(tmp_path / "b2")])
    assert result.exit_code == 0, result.output


def test_lm_eval_results_from_the_hub_and_bad_ones(tmp_path: Path) -> None:
    from fictional_knowledge.evaluate.leaderboard import lm_eval_row

    a = lm_eval_row(lm_eval_fixture("m", hub="org/fictional-knowledge", revision="v1.0.0", limit=None), "a.json")
    b = lm_eval_row(lm_eval_fixture("m", hub="org/fictional-knowledge", revision="v1.1.0"), "b.json")
    assert a["dataset_version"] == "v1.0.0" and a["limited"] is False
    assert a["dataset_fingerprint"] != b["dataset_fingerprint"]  # another revision is other data
    other = lm_eval_fixture("m", hub="x/y")
    other["results"] = {"hellaswag": {"acc,none": 0.3}}
    with pytest.raises(LeaderboardError, match="without any fictional_knowledge_\\* task"):
        lm_eval_row(other, "o.json")
    gone = lm_eval_fixture("m", build=tmp_path / "deleted-build")
    with pytest.raises(LeaderboardError, match="manifest.json is gone"):
        lm_eval_row(gone, "g.json")
