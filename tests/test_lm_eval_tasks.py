"""The shipped lm-evaluation-harness tasks: they load, `lm-eval validate` accepts them, and a real
lm-eval run on a tiny model gives per-probe log-likelihoods equal to our scorer's."""

from __future__ import annotations

import math
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from fictional_knowledge.lm_eval_tasks import (
    ALL_NAMES, CLOZE_GROUP, CLOZE_TASKS, GROUP, QA_GEN_TASK, QA_MC_TASK, TASK_NAMES, TASKS_DIR, write_tasks,
)

LIMIT = 12  # docs per task in the lm-eval run: enough to see disagreements, small enough to be quick
TOL = 1e-4  # |Δ log-likelihood| allowed per probe (float32)


@pytest.fixture(scope="module")
def fk_build(tiny_build) -> Path:
    return Path(tiny_build)


def _first_rows(build: Path) -> tuple[dict[str, list[dict]], list[dict]]:
    """The rows lm-eval sees with `limit=LIMIT`: the first LIMIT probes of each kind (stored
    order, as process_docs keeps it) and the first LIMIT QA rows."""
    from fictional_knowledge.dataset.io import read_rows

    probes = read_rows(build, "probes")
    by_kind = {kind: [p for p in probes if p["kind"] == kind][:LIMIT] for kind in CLOZE_TASKS}
    return by_kind, read_rows(build, "qa")[:LIMIT]


@contextmanager
def _one_torch_thread():
    """Tiny matrices: one thread is as fast, and far faster when other jobs share the cores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_lm(fk_build, tmp_path_factory) -> Path:
    """A tiny GPT-2 trained for a few dozen steps on the scored texts, so that some probes are
    greedy-correct and the acc / exact-match columns are not all zero."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tinymodel import make_tiny_model

    by_kind, qa = _first_rows(fk_build)
    texts = [f"{p['input']} {p['target']}" for rows in by_kind.values() for p in rows]
    texts += [f"Question: {q['question']}\nAnswer: {q['answer']}" for q in qa]
    out = make_tiny_model(tmp_path_factory.mktemp("tiny_lm"), texts)
    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out)
    enc = [tok(t)["input_ids"] + [tok.eos_token_id] for t in texts]
    width = max(map(len, enc))
    ids = torch.tensor([e + [tok.eos_token_id] * (width - len(e)) for e in enc])
    labels = torch.tensor([e + [-100] * (width - len(e)) for e in enc])
    torch.manual_seed(0)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-3)
    model.train()
    with _one_torch_thread():
        for _ in range(100):
            loss = model(input_ids=ids, labels=labels).loss
            loss.backward()
            opt.step()
            opt.zero_grad()
    model.eval()
    model.save_pretrained(out)
    return out


# --- the task files ------------------------------------------------------------------------------

def test_shipped_folder_indexes_exactly_our_tasks_and_groups():
    from lm_eval.tasks import TaskManager

    tm = TaskManager(include_path=str(TASKS_DIR), include_defaults=False)
    assert sorted(tm.all_subtasks) == sorted(TASK_NAMES)
    assert sorted(tm.all_groups) == sorted([GROUP, CLOZE_GROUP])
    group_cfg = tm.task_index[GROUP].cfg
    assert group_cfg["task"] == [CLOZE_GROUP, QA_MC_TASK, QA_GEN_TASK]
    assert tm.task_index[CLOZE_GROUP].cfg["task"] == list(CLOZE_TASKS.values())
    cloze = tm.task_index[CLOZE_TASKS["semantic"]].cfg  # includes resolved
    assert cloze["output_type"] == "loglikelihood"
    assert cloze["doc_to_target"] == "{{' ' + target}}"
    assert cloze["dataset_name"] == "probes" and tm.task_index[QA_MC_TASK].cfg["dataset_name"] == "qa"
    from fictional_knowledge.release.core import DEFAULT_HUB_REPO  # as shipped, the tasks read the release repo

    assert cloze["dataset_path"] == tm.task_index[QA_GEN_TASK].cfg["dataset_path"] == DEFAULT_HUB_REPO


def test_write_tasks_points_every_task_at_the_build(fk_build, tmp_path):
    from lm_eval.tasks._yaml_loader import load_yaml

    out = write_tasks(tmp_path / "tasks", fk_build)
    for name in TASK_NAMES:
        cfg = load_yaml(out / f"{name}.yaml")  # resolves includes and !function
        config = "qa" if name in (QA_MC_TASK, QA_GEN_TASK) else "probes"
        assert cfg["dataset_path"] == "parquet" and "dataset_name" not in cfg
        assert cfg["dataset_kwargs"]["data_files"]["train"] == str(fk_build.resolve() / "data" / config / "*.parquet")
    mem = load_yaml(out / f"{CLOZE_TASKS['memorization']}.yaml")
    assert mem["process_docs"].__module__.endswith(str(out / "utils"))  # the copy, not the package
    hub = load_yaml(write_tasks(tmp_path / "hub", "someone/fk-v1", revision="v1.0.0") / f"{QA_MC_TASK}.yaml")
    assert (hub["dataset_path"], hub["dataset_name"], hub["dataset_kwargs"]) == ("someone/fk-v1", "qa", {"revision": "v1.0.0"})


def test_write_tasks_rejects_bad_data_before_writing(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="no data/probes"):
        write_tasks(tmp_path / "a", tmp_path)
    with pytest.raises(ValueError, match="neither a build folder nor a Hub repo id"):
        write_tasks(tmp_path / "b", str(tmp_path / "missing"))
    (tmp_path / "builds").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="neither a build folder nor a Hub repo id"):
        write_tasks(tmp_path / "b", "builds/seed-0")  # a mistyped local path, not a Hub repo
    with pytest.raises(ValueError, match="shipped task folder"):
        write_tasks(TASKS_DIR, "org/x")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_cli_prints_the_shipped_folder_and_writes_a_copy(fk_build, tmp_path):
    import typer
    from typer.testing import CliRunner

    from fictional_knowledge.cli.lmeval import register

    app = typer.Typer()
    app.callback()(lambda: None)  # keep `lm-eval-tasks` a subcommand, as in fkgen
    register(app)
    runner = CliRunner()
    shown = runner.invoke(app, ["lm-eval-tasks"])
    assert shown.exit_code == 0 and Path(shown.stdout.strip()) == TASKS_DIR
    written = runner.invoke(app, ["lm-eval-tasks", "--data", str(fk_build), "--out", str(tmp_path / "t")])
    assert written.exit_code == 0, written.output
    assert Path(written.stdout.strip()) == (tmp_path / "t").resolve()
    assert "dataset_path: parquet" in (tmp_path / "t" / "_probes_source.yaml").read_text()
    bad = runner.invoke(app, ["lm-eval-tasks", "--data", str(fk_build), "--revision", "v1"])
    assert bad.exit_code == 2 and "Hub repo id" in bad.output


def test_lm_eval_validate_accepts_the_tasks(fk_build, tmp_path):
    out = write_tasks(tmp_path / "tasks", fk_build)
    proc = subprocess.run(
        [sys.executable, "-m", "lm_eval", "validate", "--tasks", ",".join(ALL_NAMES), "--include_path", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "All tasks found and valid" in proc.stdout


# --- a real lm-eval run against our scorer -------------------------------------------------------

@pytest.fixture(scope="module")
def lm_eval_run(fk_build, tiny_lm, tmp_path_factory) -> dict:
    import lm_eval
    from lm_eval.tasks import TaskManager

    tasks_dir = write_tasks(tmp_path_factory.mktemp("tasks"), fk_build)
    with _one_torch_thread():
        return lm_eval.simple_evaluate(
            model="hf", model_args=f"pretrained={tiny_lm},dtype=float32", tasks=[GROUP], device="cpu",
            batch_size=8, limit=LIMIT, log_samples=True, bootstrap_iters=0,
            task_manager=TaskManager(include_path=str(tasks_dir), include_defaults=False),
        )


def _load(model_dir: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(model_dir).eval(), AutoTokenizer.from_pretrained(model_dir)


@pytest.mark.slow
def test_lm_eval_cloze_loglikelihoods_match_our_scorer(lm_eval_run, fk_build, tiny_lm):
    from fictional_knowledge.evaluate.scoring import ProbeScorer

    model, tok = _load(tiny_lm)
    by_kind, _ = _first_rows(fk_build)
    greedy_seen = 0
    for kind, task in CLOZE_TASKS.items():
        samples = lm_eval_run["samples"][task]
        assert [s["doc"]["kind"] for s in samples] == [kind] * len(by_kind[kind])
        theirs = {s["doc"]["id"]: s["filtered_resps"][0] for s in samples}
        assert sorted(theirs) == sorted(p["id"] for p in by_kind[kind])
        scorer = ProbeScorer(tok, by_kind[kind], batch_size=5)
        ours = scorer.score(model)
        for i, pid in enumerate(scorer.ids):
            ll, is_greedy = float(theirs[pid][0]), theirs[pid][1] in (True, "True")
            assert abs(ll - float(ours.loglikelihood[i])) < TOL, (kind, pid, ll, ours.loglikelihood[i])
            assert is_greedy == bool(ours.exact_match[i]), (kind, pid)
        greedy_seen += int(ours.exact_match.sum())
        metrics = lm_eval_run["results"][task]
        assert metrics["acc,none"] == pytest.approx(float(ours.exact_match.mean()))
        assert metrics["perplexity,none"] == pytest.approx(math.exp(-float(ours.loglikelihood.mean())), rel=1e-5)
    assert greedy_seen > 0, "the trained tiny model should get some probes right"
    n_by_kind = [len(v) for v in by_kind.values()]
    accs = [lm_eval_run["results"][t]["acc,none"] for t in CLOZE_TASKS.values()]
    assert lm_eval_run["results"][CLOZE_GROUP]["acc,none"] == pytest.approx(
        sum(a * n for a, n in zip(accs, n_by_kind)) / sum(n_by_kind))


@pytest.mark.slow
def test_lm_eval_qa_matches_our_qa_scorer(lm_eval_run, fk_build, tiny_lm):
    from fictional_knowledge.evaluate.scoring_qa import QAScorer

    model, tok = _load(tiny_lm)
    _, qa = _first_rows(fk_build)
    scorer = QAScorer(tok, qa, batch_size=5, paraphrase=False, max_new_tokens=16)
    ours = scorer.score(model)
    mc = {s["doc"]["id"]: s for s in lm_eval_run["samples"][QA_MC_TASK]}
    gen = {s["doc"]["id"]: s for s in lm_eval_run["samples"][QA_GEN_TASK]}
    assert sorted(mc) == sorted(gen) == sorted(scorer.ids)
    for i, qid in enumerate(scorer.ids):
        lls = [float(r[0]) for r in mc[qid]["filtered_resps"]]
        assert max(abs(a - b) for a, b in zip(lls, ours.choice_loglik[i])) < TOL, qid
        assert mc[qid]["acc"] == float(ours.mc_correct[i])
        per_char = ours.choice_loglik[i] / np.array([len(c) for c in qa[i]["choices"]])
        assert mc[qid]["acc_norm"] == float(np.argmax(per_char) == qa[i]["answer_index"])
        assert gen[qid]["filtered_resps"][0] == ours.generation[i].strip(), qid
    em = scorer.generation_exact_match(ours)
    assert lm_eval_run["results"][QA_GEN_TASK]["exact_match,strip"] == pytest.approx(float(em.mean()))
    assert lm_eval_run["results"][QA_MC_TASK]["acc,none"] == pytest.approx(float(ours.mc_correct.mean()))
