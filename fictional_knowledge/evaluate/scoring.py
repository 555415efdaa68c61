"""Log-likelihood scoring of cloze probes with a Hugging Face causal LM.

A probe is scored as the continuation ``" " + target`` after the context ``input`` (the probe
rule: its full text is ``input + " " + target``). Tokenization mirrors lm-evaluation-harness 0.4.x (``TemplateLM._encode_pair`` and
``HFLM._loglikelihood_tokens``) exactly, so that our log-likelihoods equal lm-eval's:

1. Trailing whitespace of the context moves to the front of the continuation.
2. ``whole = encode(context + continuation)`` and ``ctx = encode(context)``; the continuation
   tokens are ``whole[len(ctx):]``. A tokenizer that merges the space into the next word (GPT-2
   BPE ``"Ġword"``, SentencePiece ``"▁word"``) therefore scores the target's first token *with*
   its space, and a tokenizer that merges across the boundary (the last context characters and
   the first target characters in one token) gets whatever ``whole`` holds after ``len(ctx)``
   tokens, exactly as lm-eval does. ``boundary_ok`` records whether ``whole`` starts with ``ctx``.
3. ``encode`` uses the tokenizer's default special tokens (e.g. Llama's BOS, none for GPT-2),
   except that a string already starting with the decoded prefix token gets none; pass
   ``add_bos_token`` to force it, like lm-eval's ``add_bos_token`` model argument. An empty
   context is replaced by the prefix token (BOS, else EOS).
4. The model input is ``(ctx + cont)[-(max_length + 1):][:-1]`` (left truncation), where
   ``max_length`` is the config's ``n_positions``/``max_position_embeddings``/``n_ctx``, else the
   tokenizer's ``model_max_length``, else 2048.

The loss L of a probe is the per-token mean of ``-log p`` over the continuation tokens (Chang et
al. 2024); we also return the sum and the first token's NLL. Greedy exact match is true when
greedy decoding from ``input`` for ``n_tokens`` steps yields exactly the continuation tokens. It
is computed in the same forward pass: greedy decoding follows the continuation as long as every
teacher-forced argmax equals the next continuation token, so the two definitions coincide (this
is lm-eval's ``is_greedy``).

Batches are sorted longest first (restoring the order afterwards) and right-padded by us, so the
tokenizer's ``padding_side`` plays no part; no attention mask is passed, as in lm-eval, since
right padding cannot affect earlier positions of a causal LM. Only the logits of the continuation
positions are computed where the model accepts ``logits_to_keep``, and log-softmax runs in float32.
"""

from __future__ import annotations

import inspect
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

DEFAULT_MAX_LENGTH = 2048  # lm-eval's default when neither config nor tokenizer says


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask; ``os.cpu_count()`` where there is none)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def resolve_threads(threads: int | None) -> int:
    """``threads``, or the CPUs this process may use when it is None; at least 1."""
    n = available_cpus() if threads is None else int(threads)
    if n < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    return n


@contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Run the block with ``torch.set_num_threads(threads)`` (default: the CPUs this process may
    use), then restore the previous setting. More torch threads than free cores makes every
    parallel step wait for the slowest thread (oversubscription)."""
    import torch

    n, before = resolve_threads(threads), torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(before)
_TOKENIZER_INFINITY = 1000000000000000019884624838656


@dataclass(frozen=True)
class EncodedPair:
    """A (context, continuation) request tokenized the lm-eval way."""

    context: tuple[int, ...]
    continuation: tuple[int, ...]
    boundary_ok: bool


@dataclass(frozen=True)
class SpanScores:
    """Per-request scores, in request order. ``loss`` is the per-token mean NLL (nats)."""

    loss_sum: np.ndarray
    first_token_loss: np.ndarray
    n_tokens: np.ndarray
    exact_match: np.ndarray

    @property
    def loss(self) -> np.ndarray:
        return self.loss_sum / self.n_tokens

    @property
    def loglikelihood(self) -> np.ndarray:
        """Summed log-probability of the continuation (lm-eval's ``loglikelihood`` value)."""
        return -self.loss_sum

    def __len__(self) -> int:
        return len(self.n_tokens)


def prefix_token_id(tokenizer: Any) -> int | None:
    """lm-eval's prefix token: BOS, else EOS."""
    return tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id


def encode_texts(tokenizer: Any, texts: Sequence[str], add_bos_token: bool | None = None) -> list[list[int]]:
    """Encode like lm-eval's ``HFLM.tok_encode`` (see the module docstring, point 3)."""
    if not texts:
        return []
    prefix_id = prefix_token_id(tokenizer)
    prefix = tokenizer.decode(prefix_id) if prefix_id is not None and add_bos_token is None else None
    has_prefix = [bool(prefix) and t.startswith(prefix) for t in texts]
    out: list[list[int]] = [[] for _ in texts]
    groups = [([i for i, h in enumerate(has_prefix) if not h],
               {} if add_bos_token is None else {"add_special_tokens": add_bos_token}),
              ([i for i, h in enumerate(has_prefix) if h], {"add_special_tokens": False})]
    for idx, kwargs in groups:
        if idx:
            for i, ids in zip(idx, tokenizer([texts[i] for i in idx], **kwargs)["input_ids"]):
                out[i] = list(ids)
    return out


def encode_pairs(tokenizer: Any, pairs: Sequence[tuple[str, str]],
                 add_bos_token: bool | None = None) -> list[EncodedPair]:
    """Tokenize (context, continuation) pairs as lm-eval 0.4.x does for loglikelihood requests."""
    contexts, wholes, empty = [], [], set()
    for context, continuation in pairs:
        if not context:
            empty.add(len(contexts))
        n_spaces = len(context) - len(context.rstrip())
        if n_spaces:
            context, continuation = context[:-n_spaces], context[-n_spaces:] + continuation
        contexts.append(context)
        wholes.append(context + continuation)
    ctx_enc = encode_texts(tokenizer, contexts, add_bos_token)
    whole_enc = encode_texts(tokenizer, wholes, add_bos_token)
    out = []
    for i, (ctx, whole) in enumerate(zip(ctx_enc, whole_enc)):
        if i in empty:  # lm-eval: an empty context becomes the prefix token
            cont = encode_texts(tokenizer, [pairs[i][1]], False)[0]
            pid = prefix_token_id(tokenizer)
            ctx, cont = ([pid], cont) if pid != cont[0] else (cont[:1], cont[1:])
            out.append(EncodedPair(tuple(ctx), tuple(cont), True))
            continue
        cont = whole[len(ctx):]
        if not cont:
            raise ValueError(f"continuation {pairs[i][1]!r} after {pairs[i][0]!r} encodes to no tokens")
        out.append(EncodedPair(tuple(ctx), tuple(cont), whole[: len(ctx)] == ctx))
    return out


def resolve_max_length(model: Any, tokenizer: Any = None) -> int:
    """The model's context length, found the way lm-eval 0.4.x finds it."""
    config = getattr(model, "config", None)
    config = getattr(config, "text_config", None) or config
    for attr in ("n_positions", "max_position_embeddings", "n_ctx"):
        value = getattr(config, attr, None)
        if value is not None:
            return int(value)
    tok_max = getattr(tokenizer, "model_max_length", None)
    if tok_max is not None and tok_max != _TOKENIZER_INFINITY:
        return int(tok_max)
    return DEFAULT_MAX_LENGTH


def model_device(model: Any) -> "torch.device":
    import torch

    try:
        return next(model.parameters()).device
    except StopIteration:  # pragma: no cover - parameterless model
        return torch.device("cpu")


def _accepts_logits_to_keep(model: Any) -> bool:
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return False
    return "logits_to_keep" in params


@dataclass(frozen=True)
class _Batch:
    """One padded batch, ready on the model's device (see :func:`plan_batches`)."""

    idx: list[int]
    ids: "torch.Tensor"  # [B, width] model input, right-padded
    tgt: "torch.Tensor"  # [B, cmax] continuation tokens
    pos: "torch.Tensor"  # [B, cmax] positions (relative to keep[0]) whose logits predict tgt
    mask: "torch.Tensor"  # [B, cmax] True on real continuation tokens
    keep: "torch.Tensor"  # [K] sequence positions whose logits are computed


def plan_batches(requests: Sequence[EncodedPair], *, max_length: int, batch_size: int, pad_value: int,
                 device: Any) -> list[_Batch]:
    """Sort longest first (lm-eval's order), left-truncate, right-pad and move to ``device``."""
    import torch

    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    for req in requests:
        if len(req.continuation) > max_length:
            raise ValueError(f"a continuation of {len(req.continuation)} tokens exceeds max_length {max_length}")
    inputs = [(r.context + r.continuation)[-(max_length + 1):][:-1] for r in requests]
    order = sorted(range(len(requests)), key=lambda i: (-len(requests[i].context + requests[i].continuation),
                                                        requests[i].context + requests[i].continuation))
    batches = []
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        lens = [len(inputs[i]) for i in idx]
        conts = [list(requests[i].continuation) for i in idx]
        width, cmax = max(lens), max(len(c) for c in conts)
        lo = min(L - len(c) for L, c in zip(lens, conts))
        # logits at position p predict token p + 1, so the c continuation tokens are predicted by
        # the last c positions of the unpadded input; padding slots repeat the last position.
        pos = [[L - len(c) + j - lo if j < len(c) else L - 1 - lo for j in range(cmax)] for L, c in zip(lens, conts)]
        tensors = (
            [list(inputs[i]) + [pad_value] * (width - len(inputs[i])) for i in idx],
            [c + [0] * (cmax - len(c)) for c in conts],
            pos,
        )
        ids, tgt, pos_t = (torch.tensor(t, dtype=torch.long, device=device) for t in tensors)
        mask = torch.tensor([[j < len(c) for j in range(cmax)] for c in conts], dtype=torch.bool, device=device)
        batches.append(_Batch(idx, ids, tgt, pos_t, mask, torch.arange(lo, width, device=device)))
    return batches


def run_batches(model: Any, batches: Sequence[_Batch], n_tokens: np.ndarray, *, progress: bool = False,
                desc: str = "scoring") -> SpanScores:
    """Forward every batch, gather the continuation log-probs; one device-to-host copy at the end."""
    import torch
    from tqdm.auto import tqdm

    keep_ok = _accepts_logits_to_keep(model)
    outs = []
    with torch.no_grad(), tqdm(total=len(n_tokens), desc=desc, disable=not progress, leave=False) as bar:
        for b in batches:
            if keep_ok:
                logits = model(input_ids=b.ids, logits_to_keep=b.keep).logits
            else:
                logits = model(input_ids=b.ids).logits[:, b.keep]
            rows = torch.arange(len(b.idx), device=b.ids.device)[:, None]
            sel = logits[rows, b.pos].float()  # [B, cmax, V]
            logp = torch.log_softmax(sel, dim=-1).gather(-1, b.tgt[..., None]).squeeze(-1)
            nll = torch.where(b.mask, -logp, torch.zeros_like(logp))
            greedy = (sel.argmax(-1) == b.tgt) | ~b.mask
            outs.append(torch.stack([nll.sum(1), nll[:, 0], greedy.all(1).float()], dim=1))
            bar.update(len(b.idx))
    results = np.zeros((len(n_tokens), 3), dtype=np.float64)
    if outs:
        order = [i for b in batches for i in b.idx]
        results[order] = torch.cat(outs).double().cpu().numpy()
    return SpanScores(loss_sum=results[:, 0], first_token_loss=results[:, 1],
                      n_tokens=np.asarray(n_tokens, dtype=np.int64), exact_match=results[:, 2] > 0.5)


def _pad_value(model: Any) -> int:
    # Right padding never reaches the real positions of a causal LM, so its value is free: avoid
    # the config's pad id, which makes transformers warn about a missing attention mask.
    return 1 if getattr(getattr(model, "config", None), "pad_token_id", None) == 0 else 0


def score_encoded(model: Any, requests: Sequence[EncodedPair], *, max_length: int,
                  batch_size: int = 16, progress: bool = False, desc: str = "scoring") -> SpanScores:
    """Score pre-tokenized requests with ``model`` (on whatever device it is); see the module
    docstring for the conventions. Runs under ``torch.no_grad``; does not change train/eval mode."""
    batches = plan_batches(requests, max_length=max_length, batch_size=batch_size, pad_value=_pad_value(model),
                           device=model_device(model))
    return run_batches(model, batches, np.array([len(r.continuation) for r in requests]), progress=progress, desc=desc)


def _field(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, Mapping) else getattr(row, name)


class ProbeScorer:
    """Scores a fixed list of probes (``Probe`` models or ``probes`` rows as dicts) again and
    again, e.g. every N training steps: the probes are tokenized once, at construction.

    >>> scorer = ProbeScorer(tokenizer, read_rows(build, "probes"), batch_size=32)
    >>> scores = scorer.score(model)          # SpanScores in probe order
    """

    def __init__(self, tokenizer: Any, probes: Iterable[Any], *, batch_size: int = 16,
                 max_length: int | None = None, add_bos_token: bool | None = None,
                 threads: int | None = None) -> None:
        probes = list(probes)
        resolve_threads(threads)  # fail early on a bad value
        self.threads = threads  # torch threads while scoring; None: the CPUs this process may use
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_length = max_length
        self.ids: list[str] = [_field(p, "id") for p in probes]
        self.kinds: list[str] = [_field(p, "kind") for p in probes]
        pairs = [(_field(p, "input"), " " + _field(p, "target")) for p in probes]
        self.requests: list[EncodedPair] = encode_pairs(tokenizer, pairs, add_bos_token)
        self.n_tokens = np.array([len(r.continuation) for r in self.requests], dtype=np.int64)
        self._plans: dict[tuple, list[_Batch]] = {}

    def __len__(self) -> int:
        return len(self.requests)

    def score(self, model: Any, *, progress: bool = False, threads: int | None = None) -> SpanScores:
        """Per-probe scores of ``model`` on its current device, in probe order, computed with
        ``threads`` torch threads (default: the scorer's ``threads``, else the CPUs this process
        may use); torch's previous thread count is restored afterwards."""
        with torch_threads(threads if threads is not None else self.threads):
            return self._score(model, progress=progress)

    def _score(self, model: Any, *, progress: bool) -> SpanScores:
        max_length = self.max_length or resolve_max_length(model, self.tokenizer)
        key = (max_length, self.batch_size, _pad_value(model), str(model_device(model)))
        if key not in self._plans:  # built once per device: repeated scoring only runs forwards
            self._plans = {key: plan_batches(self.requests, max_length=max_length, batch_size=self.batch_size,
                                             pad_value=key[2], device=model_device(model))}
        return run_batches(model, self._plans[key], self.n_tokens, progress=progress, desc="probes")
