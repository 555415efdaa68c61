"""``injection``: knowledge-injection dynamics (Chang et al., NeurIPS 2024, "How Do Large Language
Models Acquire Factual Knowledge During Pretraining?") at small scale.

Design (fixed before any run, from the paper and first principles):

- Data: a build of ``entities`` focal entities with short passages (so one passage fits a row),
  the ``injection`` regime with four stratified groups of ``group_size`` passages (paraphrase,
  duplicate, once, control) and a background of ``background_entities`` world entities disjoint
  from the build (no probed entity or fact occurs in it; sized so that it does not repeat).
- Model: a GPT-2 trained from scratch; the tokenizer is trained on the background only, so no
  group's entity names get tokens of their own.
- Training: one run with a constant learning rate after warm-up. The paper injects into a
  checkpoint in mid-pretraining, so the model is first trained on the background alone for
  ``pretrain_steps``; the injection phase then starts (its step 0 is Δ's reference, L(0)): the
  paraphrase and duplicate groups are injected ``injections`` times, ``interval`` steps apart (the
  paper: 10 times, 100 apart), once at the first injection, control never; ``tail`` steps follow
  the last injection. ``inject()`` places one passage per row and spreads a step's passages over
  the next batches when they outnumber the rows (recorded; the delay stays inside the window).
- Probes (all 15 per passage) are scored every ``score_every`` steps of the injection phase and
  every ``tail_every`` steps later; :mod:`fictional_knowledge.evaluate.dynamics` computes t_LAM (window:
  half the interval, like the paper's 50 of 100), effectivity, retainability and α per group and
  kind, and every effect net of the control, with percentile-bootstrap 95% intervals over probes.

Verdict rules (also fixed in advance) are in :func:`findings`.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fictional_knowledge.experiments.common import (ExperimentError, Finding, RunContext, bootstrap_ci, fmt_ci, make_model, n_params, scale_settings,
                     span_scores, train, train_tokenizer, write_report)

TITLE = "Knowledge injection dynamics (Chang et al. 2024)"
KINDS = ("memorization", "semantic", "compositional")
TOKENIZER_DOCS = 5000  # background documents the tokenizer is trained on (all of them at smaller sizes)
PER_SCALE = {
    "smoke": {"entities": 16, "group_size": 2, "background_entities": 40, "pretrain_steps": 4, "injections": 3,
              "interval": 4, "tail": 8, "window": 2, "score_every": 1, "tail_every": 2, "seq_len": 512,
              "batch_size": 4, "vocab_size": 1024, "lr": 3e-3, "warmup_steps": 2, "n_boot": 200,
              "style": "plain", "passage_min_words": 70, "passage_max_words": 260},
    "cpu": {"entities": 60, "group_size": 10, "background_entities": 14000, "pretrain_steps": 200, "injections": 10,
            "interval": 30, "tail": 330, "window": 15, "score_every": 3, "tail_every": 15, "seq_len": 256,
            "batch_size": 8, "vocab_size": 1024, "lr": 1e-3, "warmup_steps": 50, "n_boot": 2000,
            # plain: the style these settings were fixed for (the only one then). Data 1.3 gave every
            # entity 8 more facts: a plain passage of its own facts alone runs to 143-207 words (it
            # was under 130 before), so the cap is 260, and seq_len grows to fit
            "style": "plain", "passage_min_words": 70, "passage_max_words": 260},  # seq_len: at least this, raised to fit the longest injected text
    "gpu": {"entities": 400, "group_size": 40, "background_entities": 200000, "pretrain_steps": 2000,
            "injections": 10, "interval": 100, "tail": 4000, "window": 50, "score_every": 1, "tail_every": 10,
            "seq_len": 512, "batch_size": 128, "vocab_size": 32768, "lr": 4e-4, "warmup_steps": 200, "n_boot": 2000,
            "style": "prose", "passage_min_words": 150, "passage_max_words": 500},
}


def _diff(a, b, n_boot: int, seed: int) -> dict:
    from fictional_knowledge.evaluate.metrics import bootstrap_diff

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) < 2 or len(b) < 2:
        return {"diff": math.nan, "ci": (math.nan, math.nan), "n": (len(a), len(b)), "significant": False}
    d = bootstrap_diff(a, b, n_boot=n_boot, seed=seed)
    return {"diff": d.diff, "ci": (d.low, d.high), "n": (len(a), len(b)), "significant": d.significant}


def _gap(ga, ca, gb, cb, n_boot: int, seed: int) -> dict:
    """(mean ga − mean ca) − (mean gb − mean cb), each sample resampled on its own."""
    samples = [np.asarray(x, dtype=float) for x in (ga, ca, gb, cb)]
    rng = np.random.default_rng(seed)
    means = [np.array([x[rng.integers(0, len(x), len(x))].mean() for _ in range(n_boot)]) for x in samples]
    boot = (means[0] - means[1]) - (means[2] - means[3])
    point = (samples[0].mean() - samples[1].mean()) - (samples[2].mean() - samples[3].mean())
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return {"diff": float(point), "ci": (float(lo), float(hi)), "significant": bool(lo > 0 or hi < 0)}


def _fmt(d: dict) -> str:
    return fmt_ci(d["diff"], d["ci"])


def findings(res, per_probe: pd.DataFrame, per_inj: pd.DataFrame, n_boot: int, seed: int) -> tuple[list[Finding], dict]:
    """The four verdicts, by rules fixed before the first run:

    1. Δ rises at each injection and decays after (memorization probes of paraphrase and
       duplicate): *reproduced* when, for both groups, the net-of-control effectivity is
       significantly positive at >= 80% of the injections AND the net forgetting after the last
       t_LAM (L(end) − L(t_LAM), group minus control) is significantly positive; *not reproduced*
       when either group's mean net effectivity or net forgetting is significantly negative;
       otherwise *inconclusive*.
    2. Effectivity memorization >= semantic >= compositional (paraphrase and duplicate probes
       pooled, net of the control per kind): *reproduced* when both gaps (mem − sem, sem − comp)
       have intervals above 0; *not reproduced* when either interval is below 0; else inconclusive.
    3. Retainability falls linearly in log steps (memorization, paraphrase and duplicate):
       *reproduced* when for both groups the mean per-probe α has an interval above 0 and the
       mean-curve fit has R² >= 0.5; *not reproduced* when an α interval is below 0 or both R² <
       0.2; else inconclusive. R² per group and kind is reported.
    4. Duplicate vs paraphrase (the paper: duplication forgets faster, paraphrase generalizes
       better): α(duplicate) − α(paraphrase) over all probes pooled: *reproduced* when the
       interval is above 0, *not reproduced* when below 0, else inconclusive; the final net Δ of
       semantic and compositional probes, paraphrase − duplicate, is reported beside it.
    """
    rep = res.report
    out: dict = {"per_injection": {}, "forgetting": {}, "ordering": {}, "decay": {}, "duplicate_vs_paraphrase": {}}
    pp = per_probe.assign(forgetting=per_probe["final_loss"] - per_probe["loss_at_lam_last"])
    # 1
    ok1, bad1, ev1 = [], [], []
    for g in ("paraphrase", "duplicate"):
        for kind in KINDS:
            rows = []
            for step in res.injections[g]:
                a = per_inj[(per_inj.group == g) & (per_inj.kind == kind) & (per_inj.injection_step == step)]
                b = per_inj[(per_inj.group == f"control (as {g})") & (per_inj.kind == kind) & (per_inj.injection_step == step)]
                rows.append({"step": step, **_diff(a.effectivity, b.effectivity, n_boot, seed)})
            fa = pp[(pp.group == g) & (pp.kind == kind)].forgetting
            fb = pp[(pp.group == f"control (as {g})") & (pp.kind == kind)].forgetting
            out["per_injection"].setdefault(g, {})[kind] = rows
            out["forgetting"].setdefault(g, {})[kind] = _diff(fa, fb, n_boot, seed)
        mem = out["per_injection"][g]["memorization"]
        share = sum(r["significant"] and r["diff"] > 0 for r in mem) / len(mem)
        net_e = rep.net_of_control[g]["memorization"]["effectivity"]
        forg = out["forgetting"][g]["memorization"]
        ok1.append(share >= 0.8 and forg["significant"] and forg["diff"] > 0)
        bad1.append((net_e.significant and net_e.diff < 0) or (forg["significant"] and forg["diff"] < 0))
        ev1.append(f"{g}: net E > 0 at {sum(r['significant'] and r['diff'] > 0 for r in mem)}/{len(mem)} injections "
                   f"(mean {net_e.diff:+.3f} [{net_e.low:+.3f}, {net_e.high:+.3f}]), net forgetting {_fmt(forg)}")
    v1 = "reproduced" if all(ok1) else "not reproduced" if any(bad1) else "inconclusive"
    # 2
    ctrl = {k: per_probe[(per_probe.group == "control (as paraphrase)") & (per_probe.kind == k)].effectivity_mean
            for k in KINDS}
    grp = {k: per_probe[per_probe.group.isin(["paraphrase", "duplicate"]) & (per_probe.kind == k)].effectivity_mean
           for k in KINDS}
    net = {k: float(grp[k].mean() - ctrl[k].mean()) for k in KINDS}
    g1 = _gap(grp["memorization"], ctrl["memorization"], grp["semantic"], ctrl["semantic"], n_boot, seed)
    g2 = _gap(grp["semantic"], ctrl["semantic"], grp["compositional"], ctrl["compositional"], n_boot, seed)
    out["ordering"] = {"net_effectivity": net, "memorization_minus_semantic": g1, "semantic_minus_compositional": g2}
    v2 = ("reproduced" if g1["ci"][0] > 0 and g2["ci"][0] > 0 else
          "not reproduced" if g1["ci"][1] < 0 or g2["ci"][1] < 0 else "inconclusive")
    # 3
    ok3, bad3, r2s, ev3 = [], [], [], []
    for g in ("paraphrase", "duplicate", "once"):
        for kind in KINDS:
            s = rep.by_group[g][kind]
            alphas = per_probe[(per_probe.group == g) & (per_probe.kind == kind)].alpha.dropna().to_numpy()
            ci = bootstrap_ci(alphas, n=n_boot, seed=seed) if len(alphas) > 1 else (math.nan, math.nan)
            out["decay"].setdefault(g, {})[kind] = {
                "alpha_curve": s.decay.alpha if s.decay else None, "r_squared": s.decay.r_squared if s.decay else None,
                "alpha_probe_mean": float(alphas.mean()) if len(alphas) else None, "alpha_probe_ci": ci,
                "probes_fitted": s.retainability_probes, "probes_skipped_no_acquisition": s.retainability_skipped}
        if g == "once":
            continue
        d = out["decay"][g]["memorization"]
        r2 = d["r_squared"] if d["r_squared"] is not None else 0.0
        r2s.append(r2)
        ok3.append(d["alpha_probe_ci"][0] > 0 and r2 >= 0.5)
        bad3.append(d["alpha_probe_ci"][1] < 0)
        ev3.append(f"{g}: α {fmt_ci(d['alpha_probe_mean'] or math.nan, d['alpha_probe_ci'])}, R² {r2:.2f} "
                   f"({d['probes_fitted']} probes, {d['probes_skipped_no_acquisition']} without acquisition)")
    v3 = ("reproduced" if all(ok3) else "not reproduced" if any(bad3) or all(r < 0.2 for r in r2s) else "inconclusive")
    # 4
    a_dup = per_probe[per_probe.group == "duplicate"].alpha.dropna()
    a_par = per_probe[per_probe.group == "paraphrase"].alpha.dropna()
    d4 = _diff(a_dup, a_par, n_boot, seed)
    gen = {}
    for kind in ("semantic", "compositional"):
        gen[kind] = _diff(per_probe[(per_probe.group == "paraphrase") & (per_probe.kind == kind)].final_delta,
                          per_probe[(per_probe.group == "duplicate") & (per_probe.kind == kind)].final_delta,
                          n_boot, seed)
    out["duplicate_vs_paraphrase"] = {"alpha_duplicate_minus_paraphrase": d4,
                                      "final_delta_paraphrase_minus_duplicate": gen}
    v4 = ("reproduced" if d4["significant"] and d4["diff"] > 0 else
          "not reproduced" if d4["significant"] and d4["diff"] < 0 else "inconclusive")
    result = [
        Finding(name="Δ rises at each injection, decays after",
                claim="The target's loss drops after every injection of its passage (effectivity > 0) and then "
                      "rises again as training goes on (forgetting).",
                verdict=v1, evidence="; ".join(ev1), numbers={"per_group": ev1}),
        Finding(name="effectivity mem ≥ sem ≥ comp",
                claim="Effectivity is largest for memorization probes, then semantic, then compositional.",
                verdict=v2, evidence=f"net E (vs control): mem {net['memorization']:+.3f}, sem {net['semantic']:+.3f}, "
                                     f"comp {net['compositional']:+.3f}; mem − sem {_fmt(g1)}, sem − comp {_fmt(g2)}",
                numbers=out["ordering"]),
        Finding(name="retainability linear in log t",
                claim="Retainability R(p, t) decays roughly linearly in log t after the last injection (decay "
                      "constant α > 0).",
                verdict=v3, evidence="; ".join(ev3), numbers={"decay": out["decay"]}),
        Finding(name="duplicate vs paraphrase",
                claim="Duplicated injections are forgotten faster (larger α) than paraphrased ones; paraphrase "
                      "generalizes better.",
                verdict=v4, evidence=f"α(dup) − α(para) {_fmt(d4)} (n {d4['n'][0]}/{d4['n'][1]} probes); final Δ "
                                     f"para − dup: semantic {_fmt(gen['semantic'])}, compositional "
                                     f"{_fmt(gen['compositional'])}", numbers=out["duplicate_vs_paraphrase"]),
    ]
    return result, out


def _background_tokens(tok, texts: list[str]) -> int:
    return sum(len(ids) + 1 for ids in tok(texts, add_special_tokens=False)["input_ids"])


def run(ctx: RunContext) -> Path:
    import torch

    from fictional_knowledge.dataset.builder import build
    from fictional_knowledge.evaluate.dynamics import compute_dynamics, read_regime
    from fictional_knowledge.evaluate.dynamics_report import plot_delta, plot_retainability
    from fictional_knowledge.errors import InputError
    from fictional_knowledge.models import BuildConfig
    from fictional_knowledge.regimes import inject, make_regime
    from fictional_knowledge.experiments.common import regime_rows

    import matplotlib  # noqa: F401  (before any file is written)

    sc, seed = ctx.scale, ctx.seed
    cfg = scale_settings(sc, PER_SCALE, ctx.overrides)
    if cfg["style"] not in ("prose", "plain"):
        raise ExperimentError(f"--set style={cfg['style']}: expected prose or plain")
    scale = sc.model_copy(update={"seq_len": cfg["seq_len"], "batch_size": cfg["batch_size"], "lr": cfg["lr"],
                                  "vocab_size": cfg["vocab_size"],
                                  "warmup_steps": cfg["warmup_steps"], "schedule": "constant"})
    P, n_inj, interval = cfg["pretrain_steps"], cfg["injections"], cfg["interval"]
    inj_steps = [i * interval for i in range(n_inj)]
    phase_steps = inj_steps[-1] + cfg["tail"]
    total_steps = P + phase_steps
    lo_words, hi_words = cfg["passage_min_words"], cfg["passage_max_words"]
    with tempfile.TemporaryDirectory(prefix="fk-injection-") as tmp:
        ctx.log(f"build: {cfg['entities']} entities, seed {seed}; {cfg['style']} passages of {lo_words}-{hi_words} words")
        try:
            build(BuildConfig(seed=seed, entities=cfg["entities"], paraphrases=max(9, n_inj - 1), style=cfg["style"],
                              passage_min_words=lo_words, passage_max_words=hi_words), Path(tmp) / "build", workers=1)
        except InputError as exc:
            raise ExperimentError(f"{exc} (experiment settings: --set passage_max_words=N)") from None
        ctx.log(f"regime: groups of {cfg['group_size']}, background of {cfg['background_entities']} disjoint entities")
        manifest = make_regime("injection", Path(tmp) / "build", Path(tmp) / "regime", seed=seed, steps=inj_steps,
                               group_sizes=[cfg["group_size"]] * 4, background_entities=cfg["background_entities"])
        schedule, _ = read_regime(Path(tmp) / "regime")
        injections = regime_rows(Path(tmp) / "regime", "injection", "train")
        probes = regime_rows(Path(tmp) / "regime", "probes", "test")
        background = [r["text"] for r in regime_rows(Path(tmp) / "regime", "background", "train")]
    ctx.log(f"tokenizer: {scale.vocab_size} on the first {min(len(background), TOKENIZER_DOCS)} background documents")
    tok = train_tokenizer(background[:TOKENIZER_DOCS], scale.vocab_size)
    bg_tokens = _background_tokens(tok, background)
    longest = max(len(ids) + 1 for ids in tok([r["text"] for r in injections], add_special_tokens=False)["input_ids"])
    if longest > scale.seq_len:  # one passage per row, never cut: rows as long as the longest text (to 64)
        scale = scale.model_copy(update={"seq_len": -(-longest // 64) * 64})
        ctx.log(f"seq_len raised to {scale.seq_len}: the longest injected text has {longest} tokens")
    planned = total_steps * scale.batch_size * scale.seq_len
    plan = [{**r, "step": r["step"] + P} for r in injections]
    try:
        stream = inject(background, plan, scale.batch_size, scale.seq_len, tok, max_steps=total_steps, repeat=True)
    except ValueError as exc:
        raise ExperimentError(f"injection: {exc}") from None
    placements: list[dict] = []
    epochs = [0]

    def batches():
        for b in stream:
            placements.extend(b["passages"])
            epochs[0] = b["epoch"]
            yield {"input_ids": torch.tensor(b["input_ids"], dtype=torch.long)}

    model = make_model(tok, scale, seed).to(ctx.device)
    pairs = [(p["input"], p["target"]) for p in probes]
    score_at = set(range(0, inj_steps[-1] + 2 * cfg["window"] + 1, cfg["score_every"]))
    score_at |= set(range(0, phase_steps + 1, cfg["tail_every"])) | set(inj_steps) | {phase_steps}
    rows: list[dict] = []
    score_s = [0.0]

    def on_step(step: int, m) -> None:
        s = step - P
        if s in score_at:
            t0 = time.perf_counter()
            sc_ = span_scores(m, tok, pairs, batch_size=scale.eval_batch_size)
            for p, ls, fl, n in zip(probes, sc_.loss_sum, sc_.first_token_loss, sc_.n_tokens):
                rows.append({"step": s, "probe_id": p["id"], "kind": p["kind"], "loss": float(ls / n),
                             "loss_sum": float(ls), "first_token_loss": float(fl), "n_tokens": int(n),
                             "group": p["scenario"]})
            score_s[0] += time.perf_counter() - t0

    ctx.log(f"train: {n_params(model):,} parameters, {total_steps} steps ({P} background only, then the injection "
            f"phase), {len(probes)} probes scored at {len(score_at)} steps")
    t0 = time.perf_counter()
    losses = train(model, batches(), scale, steps=total_steps, on_step=on_step, seed=seed, progress=ctx.progress,
                   desc="injection")
    train_s = time.perf_counter() - t0
    log = pd.DataFrame(rows)
    log["group"] = log["group"].astype(object)
    ctx.log("dynamics")
    res = compute_dynamics(log, group_injections=schedule, window=cfg["window"], batch_size=scale.batch_size,
                           seq_len=scale.seq_len, n_boot=cfg["n_boot"], seed=seed)
    found, numbers = findings(res, res.per_probe, res.per_injection, cfg["n_boot"], seed)
    figs = [plot_delta(res, ctx.out / "delta.png", dpi=80), plot_retainability(res, ctx.out / "retainability.png", dpi=80)]
    delays = [p["step"] - p["scheduled_step"] for p in placements]
    settings = {"seed": seed, "build_seed": seed, "regime_seed": seed, "model_init_seed": seed, "data_order": "regime "
                "background order (seeded), no shuffling", "scale": scale.model_dump(), "device": ctx.device,
                "threads": ctx.threads, **cfg,
                "injection_steps_in_phase": inj_steps, "phase_steps": phase_steps, "total_steps": total_steps,
                "score_steps": len(score_at), "regime_options": manifest.options,
                "groups": manifest.notes["groups"], "entity_types": manifest.notes["entity_types"],
                "schedule": schedule, "tokenizer": f"byte-level BPE trained on the first {TOKENIZER_DOCS} background documents only",
                "tokenizer_vocab": len(tok), "parameters": n_params(model), "overflow": "spread",
                "longest_injected_text_tokens": longest, "seq_len_used": scale.seq_len,
                "iqr_factor": 1.5, "bootstrap": f"percentile, {cfg['n_boot']} resamples over probes, seed {seed}"}
    metrics = {"dynamics": res.report.model_dump(mode="json"), "verdict_numbers": numbers,
               "background": {"documents": len(background), "tokens": bg_tokens, "planned_training_tokens": planned,
                              "passes_started": epochs[0] + 1, "regime_notes": manifest.notes["background"]},
               "placements": {"texts": len(placements), "max_delay_steps": max(delays, default=0),
                              "delayed": sum(d > 0 for d in delays), "cut_tokens": sum(p["cut"] for p in placements)},
               "train_loss": {"first": losses[0], "at_phase_start": losses[P - 1] if P else None, "last": losses[-1],
                              "every_20": losses[::20]},
               "seconds": {"train_and_score": round(train_s, 1), "scoring": round(score_s[0], 1)}}
    bgn = manifest.notes["background"]
    notes = [
        f"Background: {len(background):,} passages of world entities from position {bgn['first_position']} on "
        f"(disjoint from the build; {bgn['skipped_overlapping']} overlapping left out), {bg_tokens:,} tokens for "
        f"{planned:,} planned training tokens: " + (
            "it never repeats." if epochs[0] == 0 else f"it repeated ({epochs[0] + 1} passes started)."),
        f"Injected texts: {len(placements)}; {sum(d > 0 for d in delays)} were spread to a later batch (at most "
        f"{max(delays, default=0)} steps, inside the {cfg['window']}-step window); 0 injected tokens cut.",
        f"Model: GPT-2, {n_params(model):,} parameters, {scale.n_layer} layers, d={scale.n_embd}; "
        f"{scale.batch_size} x {scale.seq_len} tokens per step; lr {scale.lr} constant after {scale.warmup_steps} "
        f"warm-up steps; training loss {losses[0]:.2f} -> {losses[P - 1] if P else losses[0]:.2f} (phase start) -> "
        f"{losses[-1]:.2f}.",
        "Δ and L(0) are relative to the start of the injection phase (after the background-only pretraining), "
        "as the paper injects into a mid-pretraining checkpoint. The control group's probes are measured with each "
        "group's schedule; every 'net' figure is group minus control with a 95% bootstrap interval over probes. "
        "Intervals cover probe sampling for one trained model (one seed), not training randomness.",
        "Settings and verdict rules were fixed before the first run; docs/experiments/injection/report.md lists "
        "every run made at cpu scale.",
    ] + ctx.override_note()
    if sc.name == "gpu":
        notes.append("The gpu scale is a recipe: it was not run in this task. Its background of 200,000 world "
                     "entities repeats over the run (inject warns); a large user corpus (--background) avoids that.")
    return write_report(ctx.out, name="injection", title=TITLE, command=ctx.command, settings=settings,
                        findings=found, metrics=metrics, figures=figs, notes=notes,
                        elapsed_s=time.perf_counter() - ctx.started)
