"""Merging an injection schedule into a training stream, after Chang et al.'s released trainer
(``Trainer.insert_data`` in ``olmo/train.py`` of kaistAI/factual-knowledge-acquisition), without
ever dropping injected text silently.

What we match there:

- a step is the 0-based index of a batch (their ``passed_step``); at a scheduled step the
  injected texts go into the first rows of that batch, in schedule order;
- an injected text is tokenized with the end-of-text token appended
  (``tokenizer.encode(text + '<|endoftext|>')`` in ``create_inject_indices_map.py``; we append
  ``eos_token_id``) and the row becomes ``concat(injected, original_row)[:seq_len]``: the
  injected tokens replace the start of the row and the row's own (background) tokens follow,
  shifted right and cut at the sequence length.

When a step has more texts than the batch has rows, ``overflow`` decides:

- ``"spread"`` (default): one text per row; the texts that do not fit go into the first rows of
  the following batches, in order (a queue). Each batch lists the passages it holds with the
  step they were scheduled for, so the delay is on record;
- ``"refuse"``: raise before the first batch;
- ``"concat"``: the released trainer's small-batch path (``split_and_concatenate``, used whenever
  the global batch has at most 64 rows): the texts are split into ``batch_size`` contiguous groups
  and each group is concatenated into one row, cut at ``seq_len``. This loses injected tokens;
  every batch reports how many (``cut_tokens``, per passage ``cut``) and a warning says so.

A text longer than ``seq_len`` is refused under ``spread``/``refuse`` (the released trainer
asserts); under ``concat`` it is cut and counted. A schedule whose last injection (after
spreading) falls at or beyond ``max_steps`` fails before the first batch.

The stream is packed into rows of exactly ``seq_len`` tokens: texts are tokenized, each followed
by EOS; token lists (pre-tokenized blocks) are appended as they are, so blocks of ``seq_len``
come out unchanged. The last incomplete batch is dropped.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, Mapping, Optional, Sequence

Overflow = Literal["spread", "refuse", "concat"]
OVERFLOW_MODES: tuple[str, ...] = ("spread", "refuse", "concat")


class InjectionWarning(UserWarning):
    """Injected tokens were cut (``overflow="concat"``) or the background stream repeats."""


@dataclass(frozen=True)
class Injected:
    """One text of the schedule: where it was planned and where it actually goes."""

    scheduled_step: int
    index: int  # position among the texts of its scheduled step
    text: str
    passage_id: Optional[str] = None
    variant: Optional[int] = None
    scenario: Optional[str] = None


def _schedule_rows(schedule: Any) -> list[dict]:
    if isinstance(schedule, (str, Path)):
        import pyarrow.parquet as pq

        files = sorted((Path(schedule) / "data" / "injection").glob("*.parquet"))
        if not files:
            raise ValueError(f"{schedule} has no injection config: is it an injection regime folder?")
        rows = [r for f in files for r in pq.read_table(f).to_pylist()]
    elif isinstance(schedule, Mapping):
        rows = [{"step": int(k), "text": t} for k, v in sorted(schedule.items(), key=lambda kv: int(kv[0])) for t in v]
    else:
        rows = list(schedule)
    for r in rows:
        if "step" not in r or "text" not in r:
            raise ValueError("every schedule row needs a step and a text")
        if int(r["step"]) < 0:
            raise ValueError(f"schedule step {r['step']} is negative")
    return rows


def load_schedule(schedule: Any) -> dict[int, list[str]]:
    """``{step: [texts in order]}`` from a regime folder (its ``injection`` config), an iterable
    of rows with ``step`` and ``text`` (an HF ``Dataset`` of that config), or such a mapping."""
    out: dict[int, list[str]] = {}
    for r in _schedule_rows(schedule):
        out.setdefault(int(r["step"]), []).append(r["text"])
    return dict(sorted(out.items()))


def load_injections(schedule: Any) -> dict[int, list[Injected]]:
    """Like :func:`load_schedule`, with each text's passage id, variant and scenario when the
    schedule has them (a regime folder or its ``injection`` split)."""
    out: dict[int, list[Injected]] = {}
    for r in _schedule_rows(schedule):
        step = int(r["step"])
        items = out.setdefault(step, [])
        items.append(Injected(step, len(items), r["text"], r.get("passage_id"), r.get("variant"), r.get("scenario")))
    return dict(sorted(out.items()))


def _encode(text: str, tokenizer: Any, eos: Optional[int]) -> list[int]:
    if tokenizer is None:
        raise ValueError("the stream or schedule holds text: pass a tokenizer")
    ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
    return ids + ([eos] if eos is not None else [])


def _tokens(item: Any, tokenizer: Any, eos: Optional[int], text_column: str) -> list[int]:
    if isinstance(item, Mapping):
        item = item["input_ids"] if "input_ids" in item else item[text_column]
    if isinstance(item, str):
        return _encode(item, tokenizer, eos)
    if hasattr(item, "tolist"):
        item = item.tolist()
    return [int(t) for t in item]


def pack(stream: Iterable[Any], seq_len: int, tokenizer: Any = None, *, eos_token_id: Optional[int] = None,
         text_column: str = "text") -> Iterator[list[int]]:
    """Rows of exactly ``seq_len`` tokens from a stream of texts, token lists or dict rows."""
    eos = eos_token_id if eos_token_id is not None else getattr(tokenizer, "eos_token_id", None)
    buffer: list[int] = []
    for item in stream:
        buffer.extend(_tokens(item, tokenizer, eos, text_column))
        while len(buffer) >= seq_len:
            yield buffer[:seq_len]
            buffer = buffer[seq_len:]


def _cycle(stream: Any, counter: list[int]) -> Iterator[Any]:
    """Pass over ``stream`` again and again (it must be re-iterable); ``counter[0]`` is the pass."""
    while True:
        empty = True
        for item in stream:
            empty = False
            yield item
        if empty:
            raise ValueError("the background stream is empty")
        counter[0] += 1


@dataclass(frozen=True)
class Placement:
    """Where one injected text is trained: batch ``step``, row ``row``; ``cut`` of its ``tokens``
    did not fit (only under ``overflow="concat"``)."""

    item: Injected
    step: int
    row: int
    tokens: int
    cut: int = 0

    def record(self) -> dict:
        i = self.item
        return {"passage_id": i.passage_id, "variant": i.variant, "scenario": i.scenario,
                "scheduled_step": i.scheduled_step, "index": i.index, "step": self.step, "row": self.row,
                "tokens": self.tokens, "cut": self.cut}


def plan_injections(schedule: Any, batch_size: int, seq_len: int, tokenizer: Any = None, *,
                    eos_token_id: Optional[int] = None, overflow: Overflow = "spread",
                    max_steps: Optional[int] = None) -> tuple[dict[int, list[tuple[Placement, list[int]]]], list[Placement]]:
    """Where every text of ``schedule`` goes, decided before training: ``({step: [(placement,
    row tokens)]}, placements in schedule order)``. Raises ``ValueError`` for a text that cannot
    be trained in full (``spread``/``refuse``), a step with more texts than rows (``refuse``), or
    an injection at or beyond ``max_steps``."""
    if overflow not in OVERFLOW_MODES:
        raise ValueError(f"overflow must be one of {', '.join(OVERFLOW_MODES)}, not {overflow!r}")
    eos = eos_token_id if eos_token_id is not None else getattr(tokenizer, "eos_token_id", None)
    plan = load_injections(schedule)
    by_step: dict[int, list[tuple[Placement, list[int]]]] = {}
    order: list[Placement] = []
    if overflow == "concat":
        for step, items in plan.items():
            encoded = [_encode(i.text, tokenizer, eos) for i in items]
            n = min(batch_size, len(items))
            size, extra = divmod(len(items), n)
            start = 0
            for row in range(n):
                end = start + size + (1 if row < extra else 0)
                ids, offset = [], 0
                for item, toks in zip(items[start:end], encoded[start:end]):
                    cut = max(0, offset + len(toks) - seq_len) - max(0, offset - seq_len)
                    p = Placement(item, step, row, len(toks), min(cut, len(toks)))
                    order.append(p)
                    by_step.setdefault(step, []).append((p, toks if not ids else []))
                    ids += toks
                    offset += len(toks)
                by_step[step][-(end - start)] = (by_step[step][-(end - start)][0], ids[:seq_len])
                start = end
    else:
        queue: list[tuple[Injected, list[int]]] = []
        steps = sorted(plan)
        step, k = (steps[0] if steps else 0), 0
        while k < len(steps) or queue:
            if k < len(steps) and steps[k] == step:
                for item in plan[step]:
                    toks = _encode(item.text, tokenizer, eos)
                    if len(toks) > seq_len:
                        who = item.passage_id or f"text {item.index} of step {item.scheduled_step}"
                        raise ValueError(f"injected {who} has {len(toks)} tokens with EOS, more than seq_len "
                                         f"{seq_len}: raise seq_len (it would be cut), or pass overflow='concat' "
                                         "to cut and count")
                    queue.append((item, toks))
                if overflow == "refuse" and len(plan[step]) > batch_size:
                    raise ValueError(f"step {step} injects {len(plan[step])} texts into a batch of {batch_size} "
                                     "rows: raise batch_size, pass overflow='spread' to place the rest in the "
                                     "following batches, or overflow='concat' to cut and count")
                k += 1
            take, queue = queue[:batch_size], queue[batch_size:]
            for row, (item, toks) in enumerate(take):
                p = Placement(item, step, row, len(toks))
                order.append(p)
                by_step.setdefault(step, []).append((p, toks))
            if not queue and k < len(steps):
                step = steps[k]
            else:
                step += 1
    last = max(by_step, default=None)
    if max_steps is not None and last is not None and last >= max_steps:
        raise ValueError(f"the schedule injects at step {last} (after spreading: {overflow}), beyond "
                         f"max_steps={max_steps}; raise max_steps or shorten the schedule")
    return by_step, order


def inject(stream: Iterable[Any], schedule: Any, batch_size: int, seq_len: int, tokenizer: Any = None, *,
           eos_token_id: Optional[int] = None, text_column: str = "text", max_steps: Optional[int] = None,
           strict: bool = True, overflow: Overflow = "spread", repeat: bool = False) -> Iterator[dict]:
    """Batches of the training ``stream`` with the ``schedule`` merged in.

    ``stream``: an HF ``Dataset``/``IterableDataset``, or any iterable of texts, token-id lists or
    dict rows (``input_ids`` or ``text_column``). ``schedule``: see :func:`load_schedule`.
    Yields ``{"step": s, "input_ids": batch_size lists of seq_len ids, "injected": n, "passages":
    [...], "cut_tokens": c, "epoch": e}``: the first ``n`` rows hold injected text; ``passages``
    lists, per injected text in the batch, its ``passage_id``, ``variant``, ``scenario`` (None for
    a plain mapping schedule), ``scheduled_step``, ``step`` (this batch), ``row``, ``tokens`` and
    ``cut``. ``overflow``: see the module docstring. With ``strict``, a stream that ends before the
    last injection raises ``ValueError``. ``max_steps`` stops after that many batches; a schedule
    that needs more fails before the first batch. ``repeat=True`` passes over a re-iterable
    ``stream`` again when it ends (``epoch`` counts the passes) and warns once, with the token
    count of one pass, when the background starts to repeat.

    The schedule is checked and placed when ``inject`` is called, so every refusal comes before
    the first batch (and before the stream is touched).
    """
    if batch_size <= 0 or seq_len <= 0:
        raise ValueError("batch_size and seq_len must be positive")
    eos = eos_token_id if eos_token_id is not None else getattr(tokenizer, "eos_token_id", None)
    by_step, order = plan_injections(schedule, batch_size, seq_len, tokenizer, eos_token_id=eos,
                                     overflow=overflow, max_steps=max_steps)
    cut_total = sum(p.cut for p in order)
    if cut_total:
        whole = sum(p.cut == 0 for p in order)
        warnings.warn(f"inject(overflow='concat'): {cut_total:,} of {sum(p.tokens for p in order):,} injected tokens "
                      f"are cut; {whole} of {len(order)} texts are trained in full", InjectionWarning, stacklevel=2)
    return _batches(stream, by_step, batch_size, seq_len, tokenizer, eos, text_column, max_steps, strict, repeat)


def _batches(stream, by_step, batch_size, seq_len, tokenizer, eos, text_column, max_steps, strict, repeat):
    epoch = [0]
    source = _cycle(stream, epoch) if repeat else stream
    rows = pack(source, seq_len, tokenizer, eos_token_id=eos, text_column=text_column)
    step, warned, tokens_seen = 0, False, 0
    while max_steps is None or step < max_steps:
        batch = [row for _, row in zip(range(batch_size), rows)]
        if len(batch) < batch_size:
            break
        if epoch[0] > 0 and not warned:
            warned = True
            planned = f" of {max_steps * batch_size * seq_len:,} planned" if max_steps else ""
            warnings.warn(f"inject: the background stream repeats from step {step} on: one pass is about "
                          f"{tokens_seen:,} tokens{planned}", InjectionWarning, stacklevel=3)
        tokens_seen += batch_size * seq_len if epoch[0] == 0 else 0
        placed = by_step.get(step, [])
        rows_used = sorted({p.row for p, _ in placed})
        heads = {p.row: toks for p, toks in placed if toks}
        for row in rows_used:
            batch[row] = (heads.get(row, []) + batch[row])[:seq_len]
        yield {"step": step, "input_ids": batch, "injected": len(rows_used),
               "passages": [p.record() for p, _ in placed], "cut_tokens": sum(p.cut for p, _ in placed),
               "epoch": epoch[0]}
        step += 1
    last = max(by_step, default=None)
    if strict and last is not None and last >= step:
        raise ValueError(f"the stream ended after {step} batches, before scheduled step {min(s for s in by_step if s >= step)}")


def placements_table(order: Sequence[Placement]) -> list[dict]:
    """The placements of :func:`plan_injections` as plain dicts (one per injected text)."""
    return [p.record() for p in order]
