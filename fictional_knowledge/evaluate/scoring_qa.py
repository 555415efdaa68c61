"""QA scoring (multiple choice and greedy generation) and whole-build evaluation into ``Results``.

Multiple choice: each choice is scored as the continuation ``" " + choice`` after
``QA_PROMPT.format(question=...)`` with the lm-eval conventions of :mod:`.scoring`; the predicted
choice has the highest summed log-likelihood (lm-eval's ``acc``; ties go to the first choice).
Generation exact match: greedy decoding from the prompt for at most ``max_new_tokens`` tokens
(stopping at EOS), cut at the first newline, stripped, then compared with ``answer`` exactly
(case- and punctuation-sensitive).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from fictional_knowledge.kinds import PROBE_KINDS
from fictional_knowledge.evaluate.scoring import (ProbeScorer, _field, torch_threads, encode_pairs, encode_texts, model_device, resolve_max_length,
                      score_encoded)

QA_PROMPT = "Question: {question}\nAnswer:"
"""The prompt before a QA choice or generated answer (the continuation starts with a space)."""
DEFAULT_MAX_NEW_TOKENS = 16
ALL_KINDS: tuple[str, ...] = (*PROBE_KINDS, "qa")  # the probe kinds of kinds.PROBE_KIND_TABLE, then QA


@dataclass(frozen=True)
class QAScores:
    """Per-QA-row scores, in row order. ``choice_loglik[i][j]`` is the summed log-probability of
    choice j of row i under the question; ``paraphrase_choice_loglik`` under the paraphrased
    question (None when not computed)."""

    ids: list[str]
    answer_index: np.ndarray
    choice_loglik: list[np.ndarray]
    choice_n_tokens: list[np.ndarray]
    paraphrase_choice_loglik: list[np.ndarray] | None
    generation: list[str] | None

    @property
    def pred_index(self) -> np.ndarray:
        return np.array([int(np.argmax(ll)) for ll in self.choice_loglik], dtype=np.int64)

    @property
    def mc_correct(self) -> np.ndarray:
        return self.pred_index == self.answer_index


def greedy_generate(model: Any, tokenizer: Any, prompts: Sequence[str], *, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
                    batch_size: int = 16, max_length: int | None = None, add_bos_token: bool | None = None,
                    progress: bool = False) -> list[str]:
    """Greedy continuations of ``prompts``, decoded without special tokens and cut at the first
    newline. Prompts are left-padded by us (with an attention mask), longest first."""
    import torch
    from transformers import GenerationConfig
    from tqdm.auto import tqdm

    max_length = max_length or resolve_max_length(model, tokenizer)
    if max_new_tokens >= max_length:
        raise ValueError(f"max_new_tokens ({max_new_tokens}) must be below the model's max length ({max_length})")
    encoded = [ids[-(max_length - max_new_tokens):] for ids in encode_texts(tokenizer, prompts, add_bos_token)]
    pad_id = next((t for t in (tokenizer.pad_token_id, tokenizer.eos_token_id) if t is not None), 0)
    config = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad_id,
                              eos_token_id=tokenizer.eos_token_id)
    order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))
    device = model_device(model)
    out: list[str] = [""] * len(prompts)
    with torch.no_grad(), tqdm(total=len(prompts), desc="qa generation", disable=not progress, leave=False) as bar:
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            width = max(len(encoded[i]) for i in idx)
            ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
            attn = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):
                ids[row, width - len(encoded[i]):] = torch.tensor(encoded[i])
                attn[row, width - len(encoded[i]):] = 1
            gen = model.generate(input_ids=ids.to(device), attention_mask=attn.to(device), generation_config=config)
            for row, i in enumerate(idx):
                text = tokenizer.decode(gen[row, width:].tolist(), skip_special_tokens=True)
                out[i] = text.split("\n")[0]
            bar.update(len(idx))
    return out


class QAScorer:
    """Scores ``qa`` rows (``QA`` models or dicts): choice log-likelihoods under the question and,
    optionally, its paraphrase; and greedy generation. Tokenizes once, at construction."""

    def __init__(self, tokenizer: Any, rows: Iterable[Any], *, batch_size: int = 16,
                 max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, paraphrase: bool = True, generate: bool = True,
                 max_length: int | None = None, add_bos_token: bool | None = None) -> None:
        rows = list(rows)
        self.tokenizer, self.batch_size, self.max_length = tokenizer, batch_size, max_length
        self.max_new_tokens, self.generate, self.add_bos_token = max_new_tokens, generate, add_bos_token
        self.ids = [_field(r, "id") for r in rows]
        self.answers = [_field(r, "answer") for r in rows]
        self.answer_index = np.array([_field(r, "answer_index") for r in rows], dtype=np.int64)
        self.n_choices = [len(_field(r, "choices")) for r in rows]
        self.prompts = [QA_PROMPT.format(question=_field(r, "question")) for r in rows]
        questions = [self.prompts]
        if paraphrase:
            questions.append([QA_PROMPT.format(question=_field(r, "question_paraphrase")) for r in rows])
        pairs = [(prompt, " " + choice) for prompts in questions
                 for prompt, r in zip(prompts, rows) for choice in _field(r, "choices")]
        self.requests = encode_pairs(tokenizer, pairs, add_bos_token)
        self.paraphrase = paraphrase

    def _split(self, values: np.ndarray) -> list[np.ndarray]:
        return np.split(values, np.cumsum(self.n_choices)[:-1]) if self.n_choices else []

    def score(self, model: Any, *, progress: bool = False) -> QAScores:
        max_length = self.max_length or resolve_max_length(model, self.tokenizer)
        spans = score_encoded(model, self.requests, max_length=max_length, batch_size=self.batch_size,
                              progress=progress, desc="qa choices")
        total = sum(self.n_choices)
        loglik, n_tok = spans.loglikelihood, spans.n_tokens
        generation = None
        if self.generate:
            generation = greedy_generate(model, self.tokenizer, self.prompts, max_new_tokens=self.max_new_tokens,
                                         batch_size=self.batch_size, max_length=max_length,
                                         add_bos_token=self.add_bos_token, progress=progress)
        return QAScores(
            ids=self.ids, answer_index=self.answer_index,
            choice_loglik=self._split(loglik[:total]), choice_n_tokens=self._split(n_tok[:total]),
            paraphrase_choice_loglik=self._split(loglik[total:]) if self.paraphrase else None,
            generation=generation,
        )

    def generation_exact_match(self, scores: QAScores) -> np.ndarray:
        if scores.generation is None:
            raise ValueError("generation was not run (generate=False)")
        return np.array([g.strip() == a for g, a in zip(scores.generation, self.answers)], dtype=bool)


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate_build` returns: the validated ``Results`` and one dict per probe/QA row."""

    results: Any  # fictional_knowledge.evaluate.results.Results
    rows: list[dict]


def score_probes(scorer, model, probes: list[dict], kinds, *, progress: bool = False):
    """Score ``probes`` (the scorer's, in order) and return (one row per probe, ``ProbeKindScore``
    per kind of ``kinds`` that has probes): the per-probe file and the results' scores."""
    s = scorer.score(model, progress=progress)
    rows = [{"id": p["id"], "kind": p["kind"], "entity_id": p["entity_id"], "loss": float(s.loss[i]),
             "loss_sum": float(s.loss_sum[i]), "first_token_loss": float(s.first_token_loss[i]),
             "n_tokens": int(s.n_tokens[i]), "exact_match": bool(s.exact_match[i]),
             "boundary_ok": scorer.requests[i].boundary_ok} for i, p in enumerate(probes)]
    from fictional_knowledge.evaluate.results import ProbeKindScore

    kinds_arr = np.array([p["kind"] for p in probes])
    scores = {}
    for k in kinds:
        m = kinds_arr == k
        if m.any():
            scores[k] = ProbeKindScore(n=int(m.sum()), loss=float(s.loss[m].mean()), loss_sum=float(s.loss_sum[m].mean()),
                                       first_token_loss=float(s.first_token_loss[m].mean()),
                                       exact_match=float(s.exact_match[m].mean()))
    return rows, scores


def evaluate_build(model: Any, tokenizer: Any, build_dir: str | Path, *, model_name: str,
                   kinds: Sequence[str] = ALL_KINDS, limit: int | None = None, batch_size: int = 16,
                   max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, progress: bool = False,
                   settings: dict | None = None, threads: int | None = None) -> Evaluation:
    """Score ``model`` on a build's probes (per kind) and QA. ``limit`` keeps the first N rows of
    each kind. Rows: ``id``, ``kind``, span scores for probes; choices and generation for QA."""
    with torch_threads(threads) as n:
        return _evaluate_build(model, tokenizer, build_dir, model_name=model_name, kinds=kinds, limit=limit,
                               batch_size=batch_size, max_new_tokens=max_new_tokens, progress=progress,
                               settings={"threads": n, **(settings or {})}, threads=n)


def _evaluate_build(model: Any, tokenizer: Any, build_dir: str | Path, *, model_name: str, kinds: Sequence[str],
                    limit: int | None, batch_size: int, max_new_tokens: int, progress: bool,
                    settings: dict, threads: int) -> Evaluation:
    from fictional_knowledge import __version__
    from fictional_knowledge.dataset.io import read_manifest, read_rows
    from fictional_knowledge.evaluate.results import DatasetRef, ProbeKindScore, QAScore, Results

    unknown = set(kinds) - set(ALL_KINDS)
    if unknown:
        raise ValueError(f"unknown kinds {sorted(unknown)}; expected some of {', '.join(ALL_KINDS)}")
    manifest = read_manifest(build_dir)
    scores: dict[str, Any] = {}
    rows: list[dict] = []
    probe_kinds = [k for k in PROBE_KINDS if k in kinds]
    if probe_kinds:
        probes = [p for p in read_rows(build_dir, "probes") if p["kind"] in probe_kinds]
        probes = [p for k in probe_kinds for p in [q for q in probes if q["kind"] == k][:limit]]
        scorer = ProbeScorer(tokenizer, probes, batch_size=batch_size, threads=threads)
        probe_rows, probe_scores = score_probes(scorer, model, probes, probe_kinds, progress=progress)
        rows += probe_rows
        scores.update(probe_scores)
    if "qa" in kinds:
        qa_rows = read_rows(build_dir, "qa")[:limit]
        if qa_rows:
            qa = QAScorer(tokenizer, qa_rows, batch_size=batch_size, max_new_tokens=max_new_tokens)
            q = qa.score(model, progress=progress)
            gen_em, pred = qa.generation_exact_match(q), q.pred_index
            for i, r in enumerate(qa_rows):
                rows.append({"id": r["id"], "kind": "qa", "entity_id": r["entity_id"],
                             "exact_match": bool(gen_em[i]), "generation": q.generation[i],
                             "answer_index": int(r["answer_index"]), "pred_index": int(pred[i]),
                             "mc_correct": bool(pred[i] == r["answer_index"]),
                             "choice_loglik": q.choice_loglik[i].tolist(),
                             "choice_n_tokens": q.choice_n_tokens[i].tolist(),
                             "paraphrase_choice_loglik": q.paraphrase_choice_loglik[i].tolist()})
            scores["qa"] = QAScore(n=len(qa_rows), mc_accuracy=float(q.mc_correct.mean()),
                                   generation_exact_match=float(gen_em.mean()))
    all_settings = {"batch_size": batch_size, "max_new_tokens": max_new_tokens, "kinds": ",".join(kinds),
                    "limit": limit, "qa_prompt": QA_PROMPT, "max_length": resolve_max_length(model, tokenizer),
                    "device": str(model_device(model)), "dtype": str(getattr(model, "dtype", "")).replace("torch.", ""),
                    "tokenization": "lm-eval 0.4 loglikelihood (_encode_pair)", **(settings or {})}
    dataset = DatasetRef(path=str(build_dir), package_version=manifest.package_version, seed=manifest.config.seed,
                         fingerprints={k: v.fingerprint for k, v in manifest.configs.items()})
    results = Results(package_version=__version__, model=model_name,
                      model_revision=getattr(getattr(model, "config", None), "_commit_hash", None),
                      dataset=dataset, settings=all_settings, scores=scores,
                      created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    return Evaluation(results=results, rows=rows)


def write_rows(rows: list[dict], path: str | Path) -> Path:
    """Write per-probe rows as ``.parquet`` or ``.jsonl`` (chosen by the suffix)."""
    import json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        keys = list(dict.fromkeys(k for r in rows for k in r))  # union of columns, first-seen order
        pq.write_table(pa.Table.from_pylist([{k: r.get(k) for k in keys} for r in rows]), path)
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        raise ValueError(f"per-probe rows must end in .parquet or .jsonl, got {path.name}")
    return path
