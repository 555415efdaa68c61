"""Overhead of ProbeLossCallback at FK scale (1,800 probes) on a small GPT-2, in one process.

Builds (or reads) a 120-entity build (120 x 15 = 1,800 probes), trains a byte-level BPE tokenizer on
its passages, initialises a GPT-2 (6 layers, 256 dims by default) and times ``--steps`` training
steps of ``transformers.Trainer`` without and with the callback (``eval_every`` = the default
interval). The clock starts after the step-0 scoring (once per run) and stops at train end, so the
with-callback time holds ``steps / eval_every`` scorings. Prints step time, scoring time and the
overhead per step as a ratio, measured end to end and from the components.

    python benchmarks/bench_callback.py                 # CPU here; add --device cuda on a GPU
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    from fictional_knowledge.evaluate.callback import DEFAULT_EVAL_EVERY

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, help="an existing build (default: build 120 entities in a temp dir)")
    ap.add_argument("--steps", type=int, default=2 * DEFAULT_EVAL_EVERY)
    ap.add_argument("--eval-every", type=int, default=DEFAULT_EVAL_EVERY)
    ap.add_argument("--batch-size", type=int, default=8, help="training sequences per step")
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--score-batch-size", type=int, default=None, help="default: 64 on CPU, 256 on CUDA")
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    ap.add_argument("--repeats", type=int, default=1, help="alternate baseline/callback runs this many times")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    opts = ap.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainerCallback, TrainingArguments

    from fictional_knowledge.evaluate.callback import ProbeLossCallback
    from fictional_knowledge.dataset.io import read_rows
    from fictional_knowledge.evaluate.scoring import ProbeScorer
    from tinymodel import make_tiny_model

    if opts.threads:
        torch.set_num_threads(opts.threads)
    device = opts.device or ("cuda" if torch.cuda.is_available() else "cpu")
    tmp = Path(tempfile.mkdtemp(prefix="bench_callback_"))
    data = opts.data
    if data is None:
        from fictional_knowledge.dataset.builder import build
        from fictional_knowledge.models import BuildConfig

        data = tmp / "build"
        build(BuildConfig(seed=0, entities=120), data, workers=1)
    probes = read_rows(data, "probes")
    passages = [p["text"] for p in read_rows(data, "passages")]
    texts = passages + [x for p in read_rows(data, "passages") for x in p["paraphrases"]]
    folder = make_tiny_model(tmp / "model", texts, vocab_size=opts.vocab, n_layer=opts.layers, n_embd=opts.dim,
                             n_head=opts.heads, n_positions=max(opts.seq_len, 512))
    tok = AutoTokenizer.from_pretrained(folder)
    stream = [t for text in texts for t in tok(text)["input_ids"] + [tok.eos_token_id]]
    chunks = [stream[i:i + opts.seq_len] for i in range(0, len(stream) - opts.seq_len, opts.seq_len)]
    train = [{"input_ids": c, "labels": c} for c in chunks]
    scorer = ProbeScorer(tok, probes, batch_size=opts.score_batch_size or (256 if device.startswith("cuda") else 64))
    span_tokens = sum(len(r.context) + len(r.continuation) for r in scorer.requests)
    print(f"device {device}; {len(probes)} probes ({span_tokens / len(probes):.1f} tokens each); "
          f"GPT-2 {opts.layers}x{opts.dim}, vocab {len(tok)}; train step {opts.batch_size}x{opts.seq_len} tokens; "
          f"{len(train)} training sequences")

    class Clock(TrainerCallback):
        """Times the steps: starts after every other on_train_begin (the step-0 scoring)."""

        def on_train_begin(self, args, state, control, **kw):
            _sync(device)
            self.start = time.perf_counter()

        def on_train_end(self, args, state, control, **kw):
            _sync(device)
            self.seconds = time.perf_counter() - self.start

    class Split(TrainerCallback):
        """Placed before and after the probe callback: the time between the two at a step's end is
        scoring, the rest is training. Both are measured in the same period of the same run, so a
        change of machine load between runs cannot bias their ratio."""

        def __init__(self, marks: list, tag: str):
            self.marks, self.tag = marks, tag

        def on_train_begin(self, args, state, control, **kw):
            _sync(device)
            self.marks.append((self.tag, time.perf_counter()))

        on_step_end = on_train_begin

    class SplitAfter(Split):  # a second class: Trainer warns about two callbacks of one class
        pass

    def run(steps: int, callback: ProbeLossCallback | None, marks: list | None = None) -> float:
        model = AutoModelForCausalLM.from_pretrained(folder)
        args = TrainingArguments(output_dir=str(tmp / "out"), max_steps=steps, per_device_train_batch_size=opts.batch_size,
                                 learning_rate=5e-4, report_to="none", save_strategy="no", logging_strategy="no",
                                 use_cpu=device == "cpu", disable_tqdm=True, dataloader_num_workers=0, seed=0)
        clock = Clock()
        callbacks = [callback, clock] if marks is None else [Split(marks, "before"), callback, SplitAfter(marks, "after"), clock]
        Trainer(model=model, args=args, train_dataset=train, callbacks=[c for c in callbacks if c]).train()
        return clock.seconds / steps

    run(5, None)  # warm-up: allocator, kernels, first-iteration costs
    base, with_cb, scoring, training = [], [], 0.0, 0.0
    log = tmp / "probe_losses.jsonl"
    for _ in range(opts.repeats):
        base.append(run(opts.steps, None))
        cb, marks = ProbeLossCallback(scorer, log, eval_every=opts.eval_every), []
        with_cb.append(run(opts.steps, cb, marks))
        assert cb.scored_steps == list(range(0, opts.steps + 1, opts.eval_every)), cb.scored_steps
        times = [t for _, t in marks]  # before/after pairs: train begin, then every step end
        scoring += sum(times[i + 1] - times[i] for i in range(2, len(times), 2))
        training += sum(times[i] - times[i - 1] for i in range(2, len(times), 2))
    model = AutoModelForCausalLM.from_pretrained(folder).to(device)
    scorer.score(model)  # warm-up
    score_times = []
    for _ in range(3):
        _sync(device)
        t = time.perf_counter()
        scorer.score(model)
        score_times.append(time.perf_counter() - t)
    step, step_cb, score = statistics.median(base), statistics.median(with_cb), statistics.median(score_times)
    print(f"training step without callback: {step * 1000:.1f} ms; with callback every {opts.eval_every}: "
          f"{step_cb * 1000:.1f} ms")
    print(f"one scoring of {len(probes)} probes (separately, 3 runs): {score * 1000:.0f} ms = {score / step:.2f} "
          f"training steps")
    print(f"overhead per step, end to end (two runs): {step_cb / step - 1:+.1%} (ratio {step_cb / step:.3f})")
    print(f"overhead per step, within the callback run: scoring {scoring:.1f} s / training {training:.1f} s "
          f"= {scoring / training:.1%} (ratio {1 + scoring / training:.3f})")
    per_call = scoring / (opts.repeats * opts.steps // opts.eval_every)
    step_in_run = training / (opts.repeats * opts.steps)
    print(f"  one scoring in the run: {per_call * 1000:.0f} ms = {per_call / step_in_run:.2f} training steps of "
          f"{step_in_run * 1000:.0f} ms; overhead at other intervals:")
    for every in (1, 10, 50, 100, 500):
        print(f"  eval_every={every:>4}: {per_call / (every * step_in_run):8.1%}")


if __name__ == "__main__":
    main()
