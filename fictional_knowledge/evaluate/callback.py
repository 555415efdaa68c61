"""Probe losses during training: a ``transformers.TrainerCallback`` and a plain function for custom
loops. Every ``eval_every`` optimizer steps (and at step 0, since Chang et al. need L(0)) the chosen
probes are scored with :class:`~fictional_knowledge.evaluate.scoring.ProbeScorer` and one row per probe is
appended to a log:

``step`` (int, global step), ``probe_id``, ``kind``, ``loss`` (per-token mean NLL of
``" " + target``), ``loss_sum``, ``first_token_loss``, ``n_tokens``, ``group`` (str or null, from
the ``groups`` mapping probe_id -> group, e.g. the injection scenario).

A ``.jsonl`` log is appended to at every scoring; a ``.parquet`` log is buffered and written (added
to what the file already holds) at checkpoint saves and at train end. Scoring runs in eval mode
under ``torch.no_grad`` and restores the previous train/eval mode and every RNG state (torch CPU
and CUDA, Python ``random``, NumPy), so training proceeds exactly as it would without it.
"""

from __future__ import annotations

import json
import random
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Collection, Iterator, Mapping

import numpy as np
from transformers import TrainerCallback

from fictional_knowledge.evaluate.scoring import ProbeScorer

DEFAULT_EVAL_EVERY = 100
"""Default interval in optimizer steps; the project docs ("Scoring") give the measured overhead."""
LOG_COLUMNS = ("step", "probe_id", "kind", "loss", "loss_sum", "first_token_loss", "n_tokens", "group")


def _log_schema() -> Any:
    import pyarrow as pa

    return pa.schema([("step", pa.int64()), ("probe_id", pa.string()), ("kind", pa.string()),
                      ("loss", pa.float64()), ("loss_sum", pa.float64()), ("first_token_loss", pa.float64()),
                      ("n_tokens", pa.int64()), ("group", pa.string())])


class ProbeLog:
    """An append-only probe-loss log. ``.jsonl`` rows are written at once; ``.parquet`` rows are
    buffered until :meth:`flush`, which adds them to the rows the file already holds."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.suffix not in (".jsonl", ".parquet"):
            raise ValueError(f"probe log must end in .jsonl or .parquet, got {self.path.name}")
        self._buffer: list[dict] = []

    def append(self, rows: list[dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.suffix == ".jsonl":
            with self.path.open("a") as f:
                f.writelines(json.dumps(r) + "\n" for r in rows)
        else:
            self._buffer.extend(rows)

    def flush(self) -> None:
        if self.path.suffix != ".parquet" or not self._buffer:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(self._buffer, schema=_log_schema())
        if self.path.exists():
            table = pa.concat_tables([pq.read_table(self.path, schema=_log_schema()), table])
        tmp = self.path.with_name(self.path.name + ".tmp")
        pq.write_table(table, tmp)
        tmp.replace(self.path)
        self._buffer = []


@contextmanager
def scoring_mode(model: Any) -> Iterator[None]:
    """Eval mode and no gradients inside; afterwards the model's previous mode and all RNG states
    (torch CPU/CUDA, Python, NumPy) are exactly as before."""
    import torch

    was_training = model.training
    cpu_state = torch.random.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    py_state, np_state = random.getstate(), np.random.get_state()
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)
        torch.random.set_rng_state(cpu_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)
        random.setstate(py_state)
        np.random.set_state(np_state)


def score_and_log(model: Any, scorer: ProbeScorer, step: int, log_path: str | Path | ProbeLog, *,
                  groups: Mapping[str, str] | None = None, threads: int | None = None) -> list[dict]:
    """Score ``scorer``'s probes with ``model`` (see :func:`scoring_mode`) and append one row per
    probe, tagged with ``step``, to ``log_path``. A ``.parquet`` path given as a path is rewritten
    with the new rows added; pass a :class:`ProbeLog` to buffer instead. Returns the rows."""
    with scoring_mode(model):
        scores = scorer.score(model, threads=threads)
    loss = scores.loss
    groups = groups or {}
    rows = [
        {"step": int(step), "probe_id": pid, "kind": kind, "loss": float(loss[i]),
         "loss_sum": float(scores.loss_sum[i]), "first_token_loss": float(scores.first_token_loss[i]),
         "n_tokens": int(scores.n_tokens[i]), "group": groups.get(pid)}
        for i, (pid, kind) in enumerate(zip(scorer.ids, scorer.kinds))
    ]
    log = log_path if isinstance(log_path, ProbeLog) else ProbeLog(log_path)
    log.append(rows)
    if not isinstance(log_path, ProbeLog):
        log.flush()
    return rows


class ProbeLossCallback(TrainerCallback):
    """Scores ``scorer``'s probes at step 0 (train begin, on a fresh run), every ``eval_every``
    global steps, at any step listed in ``steps`` (e.g. every step of the 50 after each
    injection) and, with ``at_end``, at the last step; appends the rows to ``log_path``. Only the
    world process zero scores.

    >>> scorer = ProbeScorer(tokenizer, probes, batch_size=64)
    >>> trainer = Trainer(model=model, args=args, train_dataset=ds,
    ...                   callbacks=[ProbeLossCallback(scorer, "probe_losses.jsonl", eval_every=100)])
    """

    def __init__(self, scorer: ProbeScorer, log_path: str | Path, *, eval_every: int = DEFAULT_EVAL_EVERY,
                 steps: Collection[int] = (), groups: Mapping[str, str] | None = None,
                 at_end: bool = False, threads: int | None = None) -> None:
        if eval_every < 1:
            raise ValueError("eval_every must be at least 1")
        self.threads = threads  # torch threads while scoring (None: the scorer's, else all usable CPUs)
        self.scorer, self.eval_every, self.steps = scorer, eval_every, frozenset(steps)
        self.groups, self.at_end = dict(groups or {}), at_end
        self.log = ProbeLog(log_path)
        self.scored_steps: list[int] = []

    def _score(self, state: Any, model: Any) -> None:
        if not state.is_world_process_zero or state.global_step in self.scored_steps[-1:]:
            return
        score_and_log(model, self.scorer, state.global_step, self.log, groups=self.groups, threads=self.threads)
        self.scored_steps.append(state.global_step)

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if state.global_step == 0:
            self._score(state, model)

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if state.global_step % self.eval_every == 0 or state.global_step in self.steps:
            self._score(state, model)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.log.flush()

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if self.at_end:
            self._score(state, model)
        self.log.flush()
