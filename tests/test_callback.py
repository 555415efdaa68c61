"""The probe-loss Trainer callback and ``score_and_log``: rows at the expected steps of a real
``transformers.Trainer`` run, eval mode / no grad while scoring, train mode and RNG state after."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from fictional_knowledge.evaluate.callback import LOG_COLUMNS, ProbeLog, ProbeLossCallback, score_and_log  # noqa: E402
from fictional_knowledge.models import Probe  # noqa: E402
from fictional_knowledge.evaluate.scoring import ProbeScorer  # noqa: E402

from tinymodel import make_tiny_model  # noqa: E402

TEXTS = [f"The river Olvar{i} flows through Kestrin{i % 5} and empties into the Maren Sea in {1800 + i}."
         for i in range(80)]
PROBES = [
    Probe(id=f"p{i}", passage_id="pa", entity_id="e", kind=kind, input=f"The river Olvar{i} flows through",
          target=f"Kestrin{i % 5}", fact_ids=["f"], relation_path=["r"], in_passage=True)
    for i, kind in enumerate(["memorization", "semantic", "compositional", "memorization", "semantic"])
]
GROUPS = {"p0": "paraphrase", "p1": "duplicate"}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("cb") / "model", TEXTS, n_positions=64)


def _load(folder):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)


def _train(folder, tmp_path, callbacks, max_steps=5):
    """Train a fresh copy of the tiny model for ``max_steps`` steps; returns the model."""
    from transformers import Trainer, TrainingArguments

    model, tok = _load(folder)
    data = [{"input_ids": ids, "labels": ids} for ids in (tok(t)["input_ids"][:16] for t in TEXTS)
            if len(ids) >= 16]
    args = TrainingArguments(output_dir=str(tmp_path / "out"), max_steps=max_steps, per_device_train_batch_size=4,
                             learning_rate=1e-2, seed=3, report_to="none", save_strategy="no",
                             logging_strategy="no", use_cpu=True, disable_tqdm=True, dataloader_num_workers=0)
    Trainer(model=model, args=args, train_dataset=data, callbacks=callbacks).train()
    return model


class ModeSpy:
    """A callback recording whether the model is in train mode at each event it sees."""

    def __init__(self):
        from transformers import TrainerCallback

        spy = self

        class _Spy(TrainerCallback):
            def on_train_begin(self, args, state, control, model=None, **kw):
                spy.modes.append(("begin", model.training))

            def on_step_end(self, args, state, control, model=None, **kw):
                spy.modes.append((state.global_step, model.training))

        self.modes: list = []
        self.callback = _Spy()


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_callback_logs_rows_at_expected_steps(folder, tmp_path, suffix):
    model0, tok = _load(folder)
    initial = ProbeScorer(tok, PROBES).score(model0.eval())
    log = tmp_path / f"probe_losses{suffix}"
    before, after = ModeSpy(), ModeSpy()
    cb = ProbeLossCallback(ProbeScorer(tok, PROBES, batch_size=3), log, eval_every=2, steps={3}, groups=GROUPS,
                           at_end=True)
    _train(folder, tmp_path, [before.callback, cb, after.callback], max_steps=5)
    if suffix == ".jsonl":
        rows = [json.loads(line) for line in log.read_text().splitlines()]
    else:
        import pyarrow.parquet as pq

        rows = pq.read_table(log).to_pylist()
    assert all(tuple(r) == LOG_COLUMNS for r in rows)
    assert sorted({r["step"] for r in rows}) == [0, 2, 3, 4, 5] == cb.scored_steps
    assert len(rows) == 5 * len(PROBES)
    first = [r for r in rows if r["step"] == 0]
    assert [r["probe_id"] for r in first] == [p.id for p in PROBES]
    assert [r["kind"] for r in first] == [p.kind for p in PROBES]
    assert [r["group"] for r in first] == ["paraphrase", "duplicate", None, None, None]
    np.testing.assert_allclose([r["loss"] for r in first], initial.loss, atol=1e-5)
    np.testing.assert_allclose([r["loss"] * r["n_tokens"] for r in rows], [r["loss_sum"] for r in rows], rtol=1e-9)
    last = [r["loss"] for r in rows if r["step"] == 5]
    assert not np.allclose(last, initial.loss, atol=1e-3)  # training moved the losses
    # whatever mode the model was in before our scoring, it is in the same mode right after
    assert before.modes == after.modes and all(mode for step, mode in after.modes if step != "begin")


def _rng_eater(module, args):
    """Forward pre-hook that draws from the global RNGs when the model is in eval mode (scoring)."""
    if not module.training:
        torch.rand(3)
        random.random()
        np.random.rand()


def test_training_is_unchanged_by_the_callback(folder, tmp_path):
    from transformers import TrainerCallback

    baseline = _train(folder, tmp_path / "a", [])

    class Scored(ProbeLossCallback):
        def on_train_begin(self, args, state, control, model=None, **kw):
            model.register_forward_pre_hook(_rng_eater)
            super().on_train_begin(args, state, control, model=model, **kw)

    _, tok = _load(folder)
    with_cb = _train(folder, tmp_path / "b", [Scored(ProbeScorer(tok, PROBES), tmp_path / "log.jsonl", eval_every=1)])
    for (name, a), b in zip(baseline.named_parameters(), with_cb.parameters()):
        assert torch.equal(a, b), name

    class Eater(TrainerCallback):  # the same RNG draws without restoring: training does change
        def on_step_end(self, args, state, control, **kw):
            torch.rand(3)

    eaten = _train(folder, tmp_path / "c", [Eater()])
    assert any(not torch.equal(a, b) for a, b in zip(baseline.parameters(), eaten.parameters()))


def test_score_and_log_modes_rng_and_parquet_append(folder, tmp_path):
    model, tok = _load(folder)
    model.train()
    seen = []
    model.register_forward_pre_hook(lambda m, a: seen.append((m.training, torch.is_grad_enabled())))
    model.register_forward_pre_hook(_rng_eater)
    torch.manual_seed(11)
    states = torch.random.get_rng_state(), random.getstate(), np.random.get_state()[1].copy()
    scorer = ProbeScorer(tok, PROBES, batch_size=2)
    rows = score_and_log(model, scorer, 7, tmp_path / "log.parquet", groups=GROUPS)
    assert seen and all(s == (False, False) for s in seen)
    assert model.training and all(m.training for m in model.modules())
    assert torch.equal(torch.random.get_rng_state(), states[0]) and random.getstate() == states[1]
    assert np.array_equal(np.random.get_state()[1], states[2])
    score_and_log(model, scorer, 9, tmp_path / "log.parquet")
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "log.parquet")
    assert table.column_names == list(LOG_COLUMNS) and table.num_rows == 2 * len(PROBES)
    assert table.column("step").to_pylist() == [7] * 5 + [9] * 5 and rows[0]["group"] == "paraphrase"
    buffered = ProbeLog(tmp_path / "buffered.parquet")
    score_and_log(model, scorer, 1, buffered)
    assert not buffered.path.exists()
    buffered.flush()
    assert pq.read_table(buffered.path).num_rows == len(PROBES)
    with pytest.raises(ValueError, match="jsonl or .parquet"):
        ProbeLog(tmp_path / "log.csv")
