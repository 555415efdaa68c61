"""Our probe scorer against lm-eval's HFLM.loglikelihood on the same probes and model, in one process.

Builds (or reads) a 120-entity build (120 x 15 = 1,800 probes), trains a byte-level BPE tokenizer on
its passages and initialises a GPT-2 (4 layers, 256 dims by default) whose embedding/output layer
has GPT-2's 50,257 rows (``--model-vocab``; the trained tokenizer uses the first few thousand ids,
``--model-vocab 0`` sizes the model to the tokenizer). Both sides get the same model object, the
same probes as (input, " " + target) requests and the same batch size (``--lm-eval-batch-size``
sets lm-eval's alone; its own default is 1); each side's time includes its tokenization. Checks
that every probe's log-likelihood agrees (|Δ| < 1e-4 in float32) and that greedy exact match
equals lm-eval's is_greedy, then prints the median wall and CPU (this process) time of each side
over ``--repeats`` alternating runs and the speed ratios. On a shared machine the CPU-time ratio is the steadier one; use ``--threads 1`` there.

    python benchmarks/bench_scorer.py                   # CPU; --device cuda on a GPU
    python benchmarks/bench_scorer.py --probes 300      # fewer probes
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

TOL = 1e-4


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, help="an existing build (default: build 120 entities in a temp dir)")
    ap.add_argument("--model", type=Path, help="a local causal LM folder (default: a random GPT-2 made here)")
    ap.add_argument("--probes", type=int, default=None, help="score only the first N probes (default: all)")
    ap.add_argument("--batch-size", type=int, default=32, help="the same for both sides")
    ap.add_argument("--lm-eval-batch-size", type=int, default=None, help="lm-eval's batch size (default: --batch-size)")
    ap.add_argument("--model-vocab", type=int, default=50257,
                    help="rows of the embedding/output layer (GPT-2: 50257; 0: the tokenizer's size)")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=4096, help="BPE vocabulary to train (at most)")
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    ap.add_argument("--repeats", type=int, default=3, help="alternating timed runs per side (median reported)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--profile", action="store_true", help="print a torch profile of one run of each side")
    opts = ap.parse_args()

    import torch

    if opts.threads:
        torch.set_num_threads(opts.threads)
    with tempfile.TemporaryDirectory(prefix="bench_scorer_") as tmp:
        run(opts, Path(tmp))


def run(opts: argparse.Namespace, tmp: Path) -> None:
    import torch
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from fictional_knowledge.dataset.io import read_rows
    from fictional_knowledge.evaluate.scoring import ProbeScorer

    device = opts.device or ("cuda" if torch.cuda.is_available() else "cpu")
    data = opts.data
    if data is None:
        from fictional_knowledge.dataset.builder import build
        from fictional_knowledge.models import BuildConfig

        data = tmp / "build"
        build(BuildConfig(seed=0, entities=120), data, workers=1)
    probes = read_rows(data, "probes")[: opts.probes]
    folder = opts.model
    if folder is None:
        from tinymodel import make_tiny_model

        passages = read_rows(data, "passages")
        texts = [p["text"] for p in passages] + [x for p in passages for x in p["paraphrases"]]
        folder = make_tiny_model(tmp / "model", texts, vocab_size=opts.vocab, n_layer=opts.layers,
                                 n_embd=opts.dim, n_head=opts.heads)
    tok = AutoTokenizer.from_pretrained(folder)
    config = AutoConfig.from_pretrained(folder)
    if opts.model is None and opts.model_vocab > config.vocab_size:
        config.vocab_size = opts.model_vocab  # a GPT-2-sized output layer; ids past the tokenizer's go unused
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(config)
    else:
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model = model.float().to(device).eval()
    lm_batch = opts.lm_eval_batch_size or opts.batch_size
    lm = HFLM(pretrained=model, tokenizer=tok, batch_size=lm_batch)
    requests = [Instance("loglikelihood", doc={}, arguments=(p["input"], " " + p["target"]), idx=0)
                for p in probes]

    def ours():
        scorer = ProbeScorer(tok, probes, batch_size=opts.batch_size)  # tokenizes
        return scorer.score(model)

    def theirs():
        return lm.loglikelihood(requests, disable_tqdm=True)

    def timed(fn):
        """(wall seconds, CPU seconds of this process, result)."""
        _sync(device)
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        _sync(device)
        return time.perf_counter() - wall, time.process_time() - cpu, out

    ours(), theirs()  # warm-up (allocator, kernels, tokenizer caches)
    t_ours, t_theirs = [], []  # (wall, cpu) per run, alternating sides
    for _ in range(opts.repeats):
        *t, scores = timed(ours)
        t_ours.append(t)
        *t, results = timed(theirs)
        t_theirs.append(t)

    ll_theirs = [r[0] for r in results]
    greedy_theirs = [bool(r[1]) for r in results]
    deltas = [abs(a - float(b)) for a, b in zip(ll_theirs, scores.loglikelihood)]
    n_bad = sum(d >= TOL for d in deltas)
    greedy_diff = sum(a != bool(b) for a, b in zip(greedy_theirs, scores.exact_match))
    cont_tokens = int(scores.n_tokens.sum())
    cfg = model.config
    layers = getattr(cfg, "n_layer", getattr(cfg, "num_hidden_layers", "?"))
    dims = getattr(cfg, "n_embd", getattr(cfg, "hidden_size", "?"))
    print(f"model: {cfg.model_type} {layers} layers x {dims} dims, vocab {cfg.vocab_size} (tokenizer {len(tok)}), "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f}M params, {device}, float32, "
          f"torch threads {torch.get_num_threads()}")
    print(f"probes: {len(probes)} ({cont_tokens} target tokens), batch size ours {opts.batch_size}, "
          f"lm-eval {lm_batch}, repeats {opts.repeats}")
    print(f"agreement: max |Δ log-likelihood| = {max(deltas):.2e} (tolerance {TOL:g}); "
          f"{n_bad} probes over; greedy exact match differs on {greedy_diff}")
    for k, clock in enumerate(("wall", "CPU")):
        med_ours = statistics.median(t[k] for t in t_ours)
        med_theirs = statistics.median(t[k] for t in t_theirs)
        print(f"{clock} time, median of {opts.repeats}:")
        print(f"  ours (ProbeScorer):         {med_ours:8.3f} s  runs {', '.join(f'{t[k]:.3f}' for t in t_ours)}")
        print(f"  lm-eval HFLM.loglikelihood: {med_theirs:8.3f} s  runs {', '.join(f'{t[k]:.3f}' for t in t_theirs)}")
        print(f"  speed ratio (lm-eval / ours): {med_theirs / med_ours:.2f}x")
    if opts.profile:
        from torch.profiler import ProfilerActivity, profile

        for name, fn in (("ours", ours), ("lm-eval", theirs)):
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                fn()
            print(f"--- profile: {name}")
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))
    if n_bad or greedy_diff:
        sys.exit(f"FAIL: {n_bad} log-likelihoods differ by >= {TOL:g}, {greedy_diff} greedy flags differ")


if __name__ == "__main__":
    main()
