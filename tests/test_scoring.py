"""Scorer tests on a tiny random GPT-2: values against an unbatched reference computed here,
batching/order/padding invariance, greedy exact match on a model forced to one token, QA, CLI."""

from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from fictional_knowledge.models import QA, Probe  # noqa: E402
from fictional_knowledge.evaluate.scoring import ProbeScorer, encode_pairs  # noqa: E402
from fictional_knowledge.evaluate.scoring_qa import QA_PROMPT, QAScorer, greedy_generate  # noqa: E402

from tinymodel import make_tiny_model  # noqa: E402

N_POSITIONS = 64
TEXTS = [
    f"The river Olvar{i} flows through the city of Kestrin{i % 7} and empties into the Maren Sea. "
    f"It was named in {1800 + i} by the founder of the city, and the river is known for the salt trade."
    for i in range(120)
]


def _probe(i: int, input: str, target: str, kind: str = "memorization") -> dict:
    return Probe(id=f"p{i}", passage_id="pa", entity_id=f"e{i}", kind=kind, input=input, target=target,
                 fact_ids=["f"], relation_path=["r"], in_passage=True).model_dump()


PROBES = [
    _probe(0, "The river Olvar3 flows through the city of", "Kestrin3"),
    _probe(1, "It was named in", "1804", "semantic"),
    _probe(2, "The river Olvar12 empties into the", "Maren Sea", "compositional"),
    _probe(3, "The river is known for the", "salt trade"),
    _probe(4, "Founded by the founder of the city, the river Olvar77 flows into the", "Maren Sea", "semantic"),
    _probe(5, "A", "B"),
    _probe(6, " ".join(["the river"] * 60) + " flows through", "Kestrin5"),  # longer than n_positions
    _probe(7, "It was named in 1899 by the", "founder of the city", "compositional"),
    _probe(8, "Kestrin1 is", "the city"),
]
QA_ROWS = [
    QA(id=f"q{i}", fact_id="f", entity_id=f"e{i}", question=f"Into what does the river Olvar{i} empty?",
       question_paraphrase=f"Where does the river Olvar{i} end?", answer="the Maren Sea",
       choices=["the Maren Sea", f"Kestrin{i}", "the salt trade", "the founder", "the city"][: 4 + i],
       answer_index=0).model_dump()
    for i in range(2)
]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = make_tiny_model(tmp_path_factory.mktemp("tiny") / "model", TEXTS, n_positions=N_POSITIONS)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    return folder, model, AutoTokenizer.from_pretrained(folder)


def reference_span(model, tokenizer, context: str, continuation: str) -> tuple[float, float, int, bool]:
    """(nll sum, first-token nll, n tokens, all argmax match) for one request, unbatched, float64."""
    ctx = tokenizer(context)["input_ids"]
    cont = tokenizer(context + continuation)["input_ids"][len(ctx):]
    inp = (ctx + cont)[-(N_POSITIONS + 1):][:-1]
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([inp])).logits[0].double(), dim=-1)
    rows = range(len(inp) - len(cont), len(inp))
    nll = [-float(logp[r, c]) for r, c in zip(rows, cont)]
    greedy = all(int(logp[r].argmax()) == c for r, c in zip(rows, cont))
    return sum(nll), nll[0], len(cont), greedy


@pytest.mark.parametrize("batch_size", [1, 7])
def test_probe_scores_match_unbatched_reference(tiny, batch_size):
    _, model, tok = tiny
    scores = ProbeScorer(tok, PROBES, batch_size=batch_size).score(model)
    ref = np.array([reference_span(model, tok, p["input"], " " + p["target"]) for p in PROBES])
    np.testing.assert_allclose(scores.loss_sum, ref[:, 0], atol=1e-5, rtol=0)
    np.testing.assert_allclose(scores.first_token_loss, ref[:, 1], atol=1e-5, rtol=0)
    np.testing.assert_array_equal(scores.n_tokens, ref[:, 2])
    np.testing.assert_allclose(scores.loss, ref[:, 0] / ref[:, 2], atol=1e-5, rtol=0)
    np.testing.assert_array_equal(scores.exact_match, ref[:, 3].astype(bool))
    assert scores.n_tokens.max() > 1 and len(set(np.round(scores.loss, 3))) > 3  # a non-degenerate check


def test_order_is_restored_and_padding_side_ignored(tiny):
    _, model, tok = tiny
    base = ProbeScorer(tok, PROBES, batch_size=4).score(model)
    perm = [6, 2, 0, 8, 5, 1, 7, 3, 4]
    shuffled = ProbeScorer(tok, [PROBES[i] for i in perm], batch_size=4).score(model)
    np.testing.assert_allclose(shuffled.loss_sum, base.loss_sum[perm], atol=1e-5, rtol=0)
    for side in ("left", "right"):
        tok_side = copy.deepcopy(tok)
        tok_side.padding_side = side
        again = ProbeScorer(tok_side, PROBES, batch_size=4).score(model)
        np.testing.assert_allclose(again.loss_sum, base.loss_sum, atol=1e-5, rtol=0)


def test_encoding_follows_lm_eval_conventions(tiny):
    _, _, tok = tiny
    plain, moved = encode_pairs(tok, [("It was named in", " 1804"), ("It was named in ", "1804")])
    assert plain == moved  # a trailing context space moves into the continuation
    assert plain.context + plain.continuation == tuple(tok("It was named in 1804")["input_ids"])
    # a tokenizer that adds BOS (like Llama's): BOS on the context only, never twice
    bos_tok = _bos_tokenizer(tok)
    with_bos, prefixed = encode_pairs(bos_tok, [("It was named in", " 1804"), ("<|endoftext|>It was named in", " 1804")])
    assert with_bos == prefixed and with_bos.context == (tok.bos_token_id,) + plain.context
    assert with_bos.continuation == plain.continuation
    assert encode_pairs(bos_tok, [("It was named in", " 1804")], add_bos_token=False) == [plain]
    (empty,) = encode_pairs(tok, [("", "Kestrin")])
    assert empty.context == (tok.bos_token_id,) and empty.continuation == tuple(tok("Kestrin")["input_ids"])


def _bos_tokenizer(tok):
    """A copy of ``tok`` whose default encoding prepends BOS."""
    from tokenizers import processors

    bos_tok = copy.deepcopy(tok)
    bos_tok.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{tok.bos_token} $A", special_tokens=[(tok.bos_token, tok.bos_token_id)])
    return bos_tok


def _forced_model(model, token_id: int):
    """A copy of ``model`` whose every position predicts ``token_id`` with probability ~1."""
    forced = copy.deepcopy(model)
    with torch.no_grad():
        forced.lm_head.weight[token_id] *= 50
        forced.transformer.ln_f.weight.zero_()
        forced.transformer.ln_f.bias.copy_(forced.lm_head.weight[token_id])
    return forced


def test_exact_match_on_forced_and_on_independent_greedy(tiny):
    _, model, tok = tiny
    the = tok(" the the")["input_ids"]
    assert len(the) == 2 and the[0] == the[1]
    forced = _forced_model(model, the[0])
    probes = [_probe(0, "Kestrin1 is", "the the the"), _probe(1, "Kestrin1 is", "the the city"),
              _probe(2, "The river Olvar3 flows through", "the")]
    scores = ProbeScorer(tok, probes, batch_size=2).score(forced)
    assert scores.exact_match.tolist() == [True, False, True]
    assert scores.loss[0] < 1e-3 and scores.loss[1] > 1.0
    # on the random model, compare with greedy decoding done step by step, independently
    plain = ProbeScorer(tok, PROBES, batch_size=3).score(model)
    for p, em in zip(PROBES, plain.exact_match):
        ctx = tok(p["input"])["input_ids"]
        cont = tok(p["input"] + " " + p["target"])["input_ids"][len(ctx):]
        ids = ctx[-(N_POSITIONS - len(cont)):]
        out = []
        with torch.no_grad():
            for _ in cont:
                out.append(int(model(torch.tensor([ids + out])).logits[0, -1].argmax()))
        assert em == (out == cont)


def test_qa_choices_generation_and_accuracy(tiny):
    _, model, tok = tiny
    scorer = QAScorer(tok, QA_ROWS, batch_size=3, max_new_tokens=4)
    s = scorer.score(model)
    for i, row in enumerate(QA_ROWS):
        ref = [-reference_span(model, tok, QA_PROMPT.format(question=row["question"]), " " + c)[0] for c in row["choices"]]
        par = [-reference_span(model, tok, QA_PROMPT.format(question=row["question_paraphrase"]), " " + c)[0]
               for c in row["choices"]]
        np.testing.assert_allclose(s.choice_loglik[i], ref, atol=1e-5, rtol=0)
        np.testing.assert_allclose(s.paraphrase_choice_loglik[i], par, atol=1e-5, rtol=0)
        assert s.pred_index[i] == int(np.argmax(ref))
        assert s.choice_n_tokens[i].tolist() == [len(tok(" " + c)["input_ids"]) for c in row["choices"]]
    hand_acc = np.mean([int(np.argmax(ll)) == r["answer_index"] for ll, r in zip(s.choice_loglik, QA_ROWS)])
    assert s.mc_correct.mean() == hand_acc
    # generation: batched equals one-by-one; a forced model generates exactly "the the the the"
    prompts = [QA_PROMPT.format(question=r["question"]) for r in QA_ROWS] + ["Kestrin1 is", "A"]
    assert greedy_generate(model, tok, prompts, max_new_tokens=5, batch_size=4) == [
        greedy_generate(model, tok, [p], max_new_tokens=5, batch_size=1)[0] for p in prompts]
    forced = _forced_model(model, tok(" the")["input_ids"][0])
    rows = [dict(r, answer="the the the the", choices=["the the the the", "a", "b", "c"]) for r in QA_ROWS]
    forced_scorer = QAScorer(tok, rows, max_new_tokens=4, paraphrase=False)
    fs = forced_scorer.score(forced)
    assert fs.generation == [" the the the the"] * 2 and forced_scorer.generation_exact_match(fs).all()
    assert fs.mc_correct.all() and fs.paraphrase_choice_loglik is None


def test_cli_eval_writes_valid_results_and_rejects_bad_paths(tiny, tiny_build, tmp_path):
    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from fictional_knowledge.cli import app
    from fictional_knowledge.dataset.io import read_manifest, read_rows
    from fictional_knowledge.evaluate.results import Results

    folder, model, tok = tiny
    out, rows_path = tmp_path / "res" / "results.json", tmp_path / "rows.parquet"
    args = ["eval", "--model", str(folder), "--data", str(tiny_build), "--out", str(out), "--per-probe",
            str(rows_path), "--device", "cpu", "--batch-size", "4", "--limit", "3", "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    res = Results.model_validate_json(out.read_text())
    assert {k: s.n for k, s in res.scores.items()} == {"memorization": 3, "semantic": 3, "compositional": 3, "qa": 3}
    manifest = read_manifest(tiny_build)
    assert res.dataset.fingerprints == {k: v.fingerprint for k, v in manifest.configs.items()}
    assert res.settings["batch_size"] == 4 and res.model == str(folder)
    rows = pq.read_table(rows_path).to_pylist()
    qa_rows = read_rows(tiny_build, "qa")[:3]
    assert len(rows) == 12 and [r["id"] for r in rows[-3:]] == [q["id"] for q in qa_rows]
    assert [len(r["choice_loglik"]) for r in rows[-3:]] == [len(q["choices"]) for q in qa_rows]
    mem_probes = [p for p in read_rows(tiny_build, "probes") if p["kind"] == "memorization"][:3]
    mem = [r for r in rows if r["kind"] == "memorization"]
    assert [r["id"] for r in mem] == [p["id"] for p in mem_probes]
    assert res.scores["memorization"].loss == pytest.approx(np.mean([r["loss"] for r in mem]), abs=1e-9)
    np.testing.assert_allclose([r["loss"] for r in mem], ProbeScorer(tok, mem_probes).score(model).loss, atol=1e-5)

    result = CliRunner().invoke(app, args[:2] + [str(tmp_path / "no-such-model")] + args[3:])
    assert result.exit_code == 2 and "does not exist" in result.output
    result = CliRunner().invoke(app, args[:4] + [str(tmp_path / "no-build")] + args[5:])
    assert result.exit_code == 2 and "manifest.json" in result.output
    result = CliRunner().invoke(app, args + ["--kinds", "qa,bogus"])
    assert result.exit_code == 2 and "bogus" in result.output


@pytest.mark.parametrize("bos", [False, True])
def test_agrees_with_lm_eval_loglikelihood(tiny, bos):
    """Our per-probe log-likelihoods equal lm-eval 0.4's HFLM.loglikelihood (float32), with a
    tokenizer that adds no special tokens and with one that prepends BOS."""
    pytest.importorskip("lm_eval")
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    _, model, tok = tiny
    tok = _bos_tokenizer(tok) if bos else tok
    lm = HFLM(pretrained=model, tokenizer=tok, batch_size=3)
    reqs = [Instance("loglikelihood", {}, (p["input"], " " + p["target"]), i) for i, p in enumerate(PROBES)]
    theirs = lm.loglikelihood(reqs, disable_tqdm=True)
    ours = ProbeScorer(tok, PROBES, batch_size=5).score(model)
    np.testing.assert_allclose(ours.loglikelihood, [ll for ll, _ in theirs], atol=1e-4, rtol=0)
    assert ours.exact_match.tolist() == [g for _, g in theirs]


# ---------------------------------------------------------------------------------- threads


def _threads_during_forward(model):
    import torch

    seen: list[int] = []
    handle = model.register_forward_pre_hook(lambda *_: seen.append(torch.get_num_threads()))
    return seen, handle


def test_available_cpus_is_the_affinity_mask():
    import os

    from fictional_knowledge.evaluate.scoring import available_cpus, resolve_threads

    assert available_cpus() == len(os.sched_getaffinity(0))
    assert resolve_threads(None) == available_cpus() and resolve_threads(3) == 3
    with pytest.raises(ValueError, match="at least 1"):
        resolve_threads(0)


@pytest.mark.parametrize("threads", [None, 1, 3])
def test_scorer_uses_the_requested_threads_and_restores_them(tiny, threads):
    import torch

    from fictional_knowledge.evaluate.callback import score_and_log
    from fictional_knowledge.evaluate.scoring import available_cpus

    _, model, tok = tiny
    want = available_cpus() if threads is None else threads
    torch.set_num_threads(2 if want != 2 else 1)
    before = torch.get_num_threads()
    seen, handle = _threads_during_forward(model)
    try:
        ProbeScorer(tok, PROBES[:3], threads=threads).score(model)
        ProbeScorer(tok, PROBES[:3]).score(model, threads=threads)
        assert seen and set(seen) == {want}
        assert torch.get_num_threads() == before
        seen.clear()
        score_and_log(model, ProbeScorer(tok, PROBES[:2]), 0, tmp_log(), threads=threads)
        assert seen and set(seen) == {want} and torch.get_num_threads() == before
    finally:
        handle.remove()
        torch.set_num_threads(1)


def tmp_log():
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp(prefix="fk-threads-")) / "log.jsonl"


def test_bad_threads_refused(tiny):
    _, _, tok = tiny
    with pytest.raises(ValueError):
        ProbeScorer(tok, PROBES[:1], threads=0)


def test_cli_eval_threads_option(tiny, tiny_build, tmp_path):
    from typer.testing import CliRunner

    from fictional_knowledge.cli import app
    from fictional_knowledge.evaluate.results import Results
    from fictional_knowledge.evaluate.scoring import available_cpus

    folder, _, _ = tiny
    base = ["eval", "--model", str(folder), "--data", str(tiny_build), "--device", "cpu", "--limit", "2",
            "--kinds", "memorization", "--no-progress"]
    for extra, want in (([], available_cpus()), (["--threads", "1"], 1)):
        out = tmp_path / f"r{want}.json"
        result = CliRunner().invoke(app, base + ["--out", str(out)] + extra)
        assert result.exit_code == 0, result.output
        assert Results.model_validate_json(out.read_text()).settings["threads"] == want
    result = CliRunner().invoke(app, base + ["--out", str(tmp_path / "x.json"), "--threads", "0"])
    assert result.exit_code == 2 and "--threads" in result.output
