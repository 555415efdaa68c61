"""The shared harness of ``fkgen experiment``: scales, tokenizer and model from scratch, packing
that never drops text, a small training loop, scoring through :mod:`fictional_knowledge.evaluate.scoring`,
bootstrap intervals (:mod:`.stats`), findings and the report writer (:mod:`.reporting`), all
importable from here.

Training (:func:`train`): AdamW (betas 0.9/0.95, eps 1e-8, weight decay on matrices only), the
learning rate rising linearly from 0 over ``scale.warmup_steps`` and then decaying linearly to
``scale.min_lr_ratio * lr`` at the last step (``scale.schedule == "linear"``) or staying constant
(``"constant"``); gradients clipped at norm 1. Dropout is 0 in :func:`make_model`, so scoring
during training needs no train/eval switch (it is done under ``model.eval()`` anyway).

Heavy imports (torch, transformers) stay inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Literal, Optional, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

# re-exported: the harness's API is this module
from fictional_knowledge.experiments.reporting import METRICS_FILE, REPORT_FILE, Finding, Verdict, is_experiment_output, write_report  # noqa: F401
from fictional_knowledge.experiments.stats import bootstrap_ci, diff_ci, excludes_zero, fmt_ci, spearman  # noqa: F401
from fictional_knowledge.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from transformers import GPT2LMHeadModel, PreTrainedTokenizerFast

    from fictional_knowledge.evaluate.scoring import SpanScores


class ExperimentError(InputError):
    """An experiment cannot run with these arguments; the message is for the user (one line)."""


# ------------------------------------------------------------------------------------------------
# Scales


class Scale(BaseModel):
    """Model, optimiser and data size of one experiment scale. The device is not part of a scale:
    :func:`resolve_device` picks it at run time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    n_layer: int = Field(gt=0)
    n_head: int = Field(gt=0)
    n_embd: int = Field(gt=0)
    seq_len: int = Field(gt=1, description="Tokens per packed training row.")
    batch_size: int = Field(gt=0, description="Rows per optimiser step.")
    lr: float = Field(gt=0)
    warmup_steps: int = Field(ge=0)
    weight_decay: float = Field(ge=0)
    vocab_size: int = Field(gt=256, description="BPE vocabulary trained on the experiment's corpus.")
    schedule: Literal["linear", "constant"] = "linear"
    min_lr_ratio: float = Field(0.1, ge=0, le=1, description="Final lr / peak lr of the linear decay.")
    entities: int = Field(gt=0, description="Focal entities of the experiment's build.")
    epochs: float = Field(gt=0, description="Passes over an experiment's training set (per stage).")
    eval_batch_size: int = Field(64, gt=0)
    dtype: Literal["float32", "bfloat16"] = Field("float32", description="Autocast dtype on CUDA.")

    def params_estimate(self) -> int:
        """Parameters of the GPT-2 of this scale (tied embeddings), ignoring biases and norms."""
        return 12 * self.n_layer * self.n_embd ** 2 + (self.vocab_size + max(self.seq_len, 64)) * self.n_embd


SCALES: dict[str, Scale] = {
    # seconds, for the tests
    "smoke": Scale(name="smoke", n_layer=1, n_head=2, n_embd=32, seq_len=64, batch_size=8, lr=3e-3, warmup_steps=2,
                   weight_decay=0.0, vocab_size=300, entities=12, epochs=1.0, eval_batch_size=32),
    # a 2-core CPU, about 10 minutes per experiment when the machine is idle: ~0.5M parameters,
    # 16 x 128 tokens per step
    "cpu": Scale(name="cpu", n_layer=2, n_head=4, n_embd=128, seq_len=128, batch_size=16, lr=3e-3, warmup_steps=20,
                 weight_decay=0.1, vocab_size=1024, entities=100, epochs=20.0),
    # the recipe for a real run (not run here: no GPU): GPT-2 small shape, ~110M parameters with a
    # 32k vocabulary, 128 x 512 tokens per step, bf16 autocast
    "gpu": Scale(name="gpu", n_layer=12, n_head=12, n_embd=768, seq_len=512, batch_size=128, lr=6e-4,
                 warmup_steps=200, weight_decay=0.1, vocab_size=32768, entities=5000, epochs=20.0,
                 eval_batch_size=256, dtype="bfloat16"),
}


def get_scale(name: str) -> Scale:
    if name not in SCALES:
        raise ExperimentError(f"unknown scale {name!r}; expected one of {', '.join(SCALES)}")
    return SCALES[name]


def resolve_device(choice: str = "auto") -> str:
    """``"cuda"`` if available (for ``auto``), else ``"cpu"``; an explicit ``cuda`` without CUDA
    is an error."""
    import torch

    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise ExperimentError("--device cuda: CUDA is not available on this machine")
    if choice not in ("cpu", "cuda"):
        raise ExperimentError(f"--device must be auto, cpu or cuda, not {choice!r}")
    return choice


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads to ``n`` (default: the CPUs this process may use); returns it."""
    import torch

    n = n or len(os.sched_getaffinity(0))
    if n < 1:
        raise ExperimentError(f"--threads must be at least 1, not {n}")
    torch.set_num_threads(n)
    return n


# ------------------------------------------------------------------------------------------------
# Tokenizer and model


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> "PreTrainedTokenizerFast":
    """A byte-level BPE tokenizer trained on ``texts`` (GPT-2 style: no prefix space,
    ``<|endoftext|>`` as BOS/EOS/UNK/PAD, prepended as BOS when special tokens are added, so the
    package's scorers see prompts as training saw texts: after an EOS). Deterministic."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(list(texts), trainer=trainer)
    # every packed training text follows an EOS, so a scored prompt starts with one too: the
    # encoding adds it as BOS by default (``add_special_tokens=False`` leaves it out, as pack does)
    eos_id = tok.token_to_id("<|endoftext|>")
    tok.post_processor = processors.TemplateProcessing(single="<|endoftext|> $A", pair="<|endoftext|> $A $B",
                                                       special_tokens=[("<|endoftext|>", eos_id)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   unk_token="<|endoftext|>", pad_token="<|endoftext|>", model_max_length=10 ** 9)


def make_model(tokenizer: Any, scale: Scale, seed: int) -> "GPT2LMHeadModel":
    """A randomly initialised GPT-2 of ``scale`` (``torch.manual_seed(seed)`` before init), no
    dropout, ``n_positions = max(seq_len, 64)``, on the CPU (move it with ``.to(device)``)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    if scale.n_embd % scale.n_head:
        raise ExperimentError(f"n_embd {scale.n_embd} is not a multiple of n_head {scale.n_head}")
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=max(scale.seq_len, 64), n_embd=scale.n_embd,
                        n_layer=scale.n_layer, n_head=scale.n_head, resid_pdrop=0.0, embd_pdrop=0.0,
                        attn_pdrop=0.0, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                        pad_token_id=tokenizer.pad_token_id)
    return GPT2LMHeadModel(config)


def n_params(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


# ------------------------------------------------------------------------------------------------
# Packing


@dataclass(frozen=True)
class Packed:
    """Texts packed into rows: ``input_ids`` and ``labels`` are ``[rows, seq_len]`` LongTensors;
    padding (only at the end of the last row) has label -100. ``cut_tokens`` is always 0 (a text
    that crosses a row boundary continues in the next row); it is recorded so reports can say so."""

    input_ids: "torch.Tensor"
    labels: "torch.Tensor"
    texts: int
    tokens: int
    pad_tokens: int
    cut_tokens: int = 0

    @property
    def rows(self) -> int:
        return int(self.input_ids.shape[0])

    def counts(self) -> dict[str, int]:
        return {"texts": self.texts, "tokens": self.tokens, "rows": self.rows, "pad_tokens": self.pad_tokens,
                "cut_tokens": self.cut_tokens}


def pack(tokenizer: Any, texts: Sequence[str], seq_len: int) -> Packed:
    """Concatenate ``texts`` (in order, each followed by EOS) into rows of ``seq_len`` tokens. No
    token is dropped: texts cross row boundaries, and the last row is padded (label -100)."""
    import torch

    if seq_len < 2:
        raise ValueError("seq_len must be at least 2")
    eos = tokenizer.eos_token_id
    stream: list[int] = []
    for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"] if texts else []:
        stream.extend(ids)
        stream.append(eos)
    n = len(stream)
    rows = max(1, math.ceil(n / seq_len))
    pad = rows * seq_len - n
    ids = torch.tensor(stream + [tokenizer.pad_token_id] * pad, dtype=torch.long).view(rows, seq_len)
    labels = ids.clone()
    if pad:
        labels.view(-1)[n:] = -100
    return Packed(input_ids=ids, labels=labels, texts=len(texts), tokens=n, pad_tokens=pad)


def batches(packed: Packed, batch_size: int, steps: int, seed: int) -> Iterator[dict[str, "torch.Tensor"]]:
    """``steps`` batches of ``batch_size`` rows: the rows in a seeded random order, again in a new
    order after each pass (batches may span two passes), so every row is seen equally often (±1)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    order = torch.empty(0, dtype=torch.long)
    for _ in range(steps):
        while len(order) < batch_size:
            order = torch.cat([order, torch.randperm(packed.rows, generator=gen)])
        idx, order = order[:batch_size], order[batch_size:]
        yield {"input_ids": packed.input_ids[idx], "labels": packed.labels[idx]}


def shuffled_batches(tokenizer: Any, texts: Sequence[str], seq_len: int, batch_size: int, steps: int,
                     seed: int) -> Iterator[dict[str, "torch.Tensor"]]:
    """``steps`` batches of ``batch_size`` rows, repacked every pass: each pass puts the texts in
    a new seeded order, packs them (:func:`pack`'s rules, nothing dropped) and shuffles the rows,
    so a text meets other neighbours and row offsets in every pass (a fixed packing lets a small
    model memorise a text only in its row's context). A pass has the same number of rows as
    ``pack(tokenizer, texts, seq_len)``; batches may span two passes."""
    import torch

    encoded = [ids + [tokenizer.eos_token_id] for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]
    n = sum(len(ids) for ids in encoded)
    rows = max(1, math.ceil(n / seq_len))
    gen = torch.Generator().manual_seed(seed)
    ids_buf = torch.empty((0, seq_len), dtype=torch.long)
    lab_buf = torch.empty((0, seq_len), dtype=torch.long)
    for _ in range(steps):
        while len(ids_buf) < batch_size:
            order = torch.randperm(len(encoded), generator=gen).tolist()
            stream = [t for i in order for t in encoded[i]]
            pad = rows * seq_len - n
            ids = torch.tensor(stream + [tokenizer.pad_token_id] * pad, dtype=torch.long).view(rows, seq_len)
            labels = ids.clone()
            if pad:
                labels.view(-1)[n:] = -100
            perm = torch.randperm(rows, generator=gen)
            ids_buf, lab_buf = torch.cat([ids_buf, ids[perm]]), torch.cat([lab_buf, labels[perm]])
        yield {"input_ids": ids_buf[:batch_size], "labels": lab_buf[:batch_size]}
        ids_buf, lab_buf = ids_buf[batch_size:], lab_buf[batch_size:]


def steps_for(packed: Packed, batch_size: int, epochs: float) -> int:
    """Optimiser steps for ``epochs`` passes over ``packed`` (at least 1)."""
    return max(1, math.ceil(epochs * packed.rows / batch_size))


# ------------------------------------------------------------------------------------------------
# Training


def lr_at(step: int, steps: int, scale: Scale) -> float:
    """Learning rate of 0-based ``step`` of a run of ``steps`` steps (see the module docstring)."""
    warm = min(scale.warmup_steps, max(steps - 1, 0))
    if warm and step < warm:
        return scale.lr * (step + 1) / warm
    if scale.schedule == "constant" or steps - warm <= 1:
        return scale.lr
    frac = (step - warm) / (steps - warm - 1)
    return scale.lr * (1 - (1 - scale.min_lr_ratio) * frac)


def train(model: Any, batches: Iterable[dict[str, "torch.Tensor"]], scale: Scale, *, steps: int,
          on_step: Optional[Callable[[int, Any], None]] = None, seed: int = 0, progress: bool = True,
          desc: str = "training") -> list[float]:
    """Train ``model`` (on its current device) for ``steps`` steps of ``batches`` (``input_ids``
    and optional ``labels``, -100 ignored); a fresh AdamW per call. ``on_step(step, model)`` is
    called after each step ``1..steps`` (under ``model.eval()`` and ``torch.no_grad``). Returns the
    training loss of each step. A batch stream shorter than ``steps`` is an error."""
    import torch
    from tqdm.auto import tqdm

    from fictional_knowledge.evaluate.scoring import model_device

    torch.manual_seed(seed)
    device = model_device(model)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": scale.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=scale.lr, betas=(0.9, 0.95), eps=1e-8)
    autocast = device.type == "cuda" and scale.dtype == "bfloat16"
    losses: list[float] = []
    it = iter(batches)
    model.train()
    with tqdm(total=steps, desc=desc, disable=not progress, leave=False) as bar:
        for step in range(steps):
            try:
                batch = next(it)
            except StopIteration:
                raise ValueError(f"the batch stream ended after {step} of {steps} steps") from None
            for g in opt.param_groups:
                g["lr"] = lr_at(step, steps, scale)
            ids = batch["input_ids"].to(device)
            labels = batch.get("labels", batch["input_ids"]).to(device)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
                loss = model(input_ids=ids, labels=labels).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(float(loss.detach()))
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
            if on_step is not None:
                model.eval()
                with torch.no_grad():
                    on_step(step + 1, model)
                model.train()
    model.eval()
    return losses


# ------------------------------------------------------------------------------------------------
# Scoring (through fictional_knowledge.evaluate.scoring: no second scorer)


def span_scores(model: Any, tokenizer: Any, pairs: Sequence[tuple[str, str]], *, batch_size: int = 64) -> "SpanScores":
    """Per-pair target-span scores (loss L = mean NLL of ``" " + target`` after ``input``, greedy
    exact match) of ``(input, target)`` pairs, via :func:`fictional_knowledge.evaluate.scoring.score_encoded`."""
    from fictional_knowledge.evaluate.scoring import encode_pairs, resolve_max_length, score_encoded

    requests = encode_pairs(tokenizer, [(inp, " " + target) for inp, target in pairs])
    return score_encoded(model, requests, max_length=resolve_max_length(model, tokenizer), batch_size=batch_size)


# ------------------------------------------------------------------------------------------------
# The run context

@dataclass(frozen=True)
class RunContext:
    """What ``fkgen experiment`` hands an experiment's ``run(ctx)``."""

    name: str
    scale: Scale
    out: Path
    seed: int
    device: str
    threads: int
    progress: bool
    command: str
    started: float = field(default_factory=time.perf_counter)
    #: ``--set KEY=VALUE`` overrides as given (Scale fields are already applied to ``scale``)
    overrides: dict[str, str] = field(default_factory=dict)

    def history_notes(self, tried: dict[str, list[str]]) -> list[str]:
        """Report notes listing every configuration run at this scale (``tried[scale name]``: one
        line each, with its outcome, written down when it was run) and any ``--set`` overrides."""
        runs = tried.get(self.scale.name, [])
        notes = ["Settings were fixed from the papers and first principles before the first run. "
                 + ("Configurations run at this scale before: " + " | ".join(runs) if runs
                    else "No other configuration was run at this scale.")]
        return notes + self.override_note()

    def override_note(self) -> list[str]:
        """A report note naming the ``--set`` overrides (empty when none)."""
        if not self.overrides:
            return []
        return ["Settings overridden on the command line (--set), departing from the scale's defaults: "
                + ", ".join(f"{k}={v}" for k, v in self.overrides.items()) + "."]

    def log(self, message: str) -> None:
        if self.progress:
            print(f"[{time.perf_counter() - self.started:6.1f}s] {message}", file=sys.stderr, flush=True)


def make_build(folder: str | Path, *, seed: int, entities: int, paraphrases: int = 0) -> Path:
    """A build of ``entities`` focal entities with world seed ``seed`` in ``folder`` (one worker)."""
    from fictional_knowledge.dataset.builder import build
    from fictional_knowledge.models import BuildConfig

    build(BuildConfig(seed=seed, entities=entities, paraphrases=paraphrases), folder, workers=1, progress=False)
    return Path(folder)


def regime_rows(folder: str | Path, config: str, split: str) -> list[dict]:
    """The rows of one config/split of a regime folder, in file order (the regime's order)."""
    import pyarrow.parquet as pq

    files = sorted((Path(folder) / "data" / config).glob(f"{split}-*.parquet"))
    if not files:
        raise ExperimentError(f"{folder} has no {config}/{split}")
    return [r for f in files for r in pq.read_table(f).to_pylist()]


def save_figure(fig: Any, path: str | Path) -> Path:
    """Save a matplotlib figure as a small PNG (100 dpi) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def pyplot():
    """matplotlib's pyplot with the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def scale_settings(scale: Scale, per_scale: dict[str, dict], overrides: Optional[dict[str, str]] = None) -> dict:
    """An experiment's own settings for ``scale`` (by name; unknown names get the ``gpu`` ones),
    with ``overrides`` (``--set``) applied, each cast to the type of the setting it replaces.
    Other keys that are :class:`Scale` fields are skipped (:func:`override_scale` applied them);
    any other unknown key is an error. An experiment setting wins over a Scale field of the same
    name (e.g. ``epochs``)."""
    out = dict(per_scale.get(scale.name, per_scale["gpu"]))
    for key, value in (overrides or {}).items():
        if key in Scale.model_fields and key not in out:
            continue
        check_setting_keys({key: value}, out)
        try:
            out[key] = type(out[key])(value)
        except (TypeError, ValueError):
            raise ExperimentError(f"--set {key}={value}: expected a {type(out[key]).__name__}") from None
    return out


def check_setting_keys(overrides: dict[str, str], settings: dict) -> None:
    """Every ``--set`` key names a Scale field or one of the experiment's ``settings``."""
    known = set(settings) | (set(Scale.model_fields) - {"name"})
    for key in overrides:
        if key not in known and key != "name":
            raise ExperimentError(f"--set {key}: no such setting; expected one of {', '.join(sorted(known))}")


def override_scale(scale: Scale, overrides: dict[str, str], experiment_keys: Iterable[str] = ()) -> Scale:
    """``scale`` with the overrides whose keys are Scale fields (and not ``experiment_keys``, the
    experiment's own settings, which win) applied and validated."""
    from pydantic import ValidationError

    mine = set(experiment_keys)
    update = {k: v for k, v in overrides.items() if k in Scale.model_fields and k not in mine}
    if "name" in update:
        raise ExperimentError("--set name: choose the scale with --scale")
    if not update:
        return scale
    try:
        return Scale(**{**scale.model_dump(), **update})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ExperimentError(f"--set {err['loc'][0]}: {err['msg']}") from None


def qa_correct(model: Any, tokenizer: Any, rows: Sequence[dict], *, batch_size: int = 64,
               max_new_tokens: int = 16) -> dict[str, np.ndarray]:
    """Per-row QA correctness through :class:`fictional_knowledge.evaluate.scoring_qa.QAScorer`: ``em``
    (greedy generation equals the answer) and ``mc`` (the answer has the highest log-likelihood
    of the choices)."""
    from fictional_knowledge.evaluate.scoring_qa import QAScorer

    if not rows:
        return {"em": np.zeros(0, dtype=bool), "mc": np.zeros(0, dtype=bool)}
    scorer = QAScorer(tokenizer, rows, batch_size=batch_size, max_new_tokens=max_new_tokens, paraphrase=False)
    scores = scorer.score(model)
    return {"em": scorer.generation_exact_match(scores), "mc": scores.mc_correct}
