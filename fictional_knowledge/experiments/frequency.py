"""``frequency``: distributional memorization (Wang et al. 2024, "Generalization v.s.
Memorization: Tracing Language Models' Capabilities Back to Pretraining Data").

Design (fixed before any run): a build of ``scale.entities`` focal entities; the ``frequency``
regime with its defaults (each fact stated exactly k times, k from a bounded Zipf law, s = 1.5,
K = 100 — a long tail like entity frequencies in web text); a byte-level BPE tokenizer and a
GPT-2 trained from scratch on that corpus alone for ``epochs`` passes. Each fact is scored as the
log-probability of its object (summed over the target tokens, ``-loss_sum`` of
:mod:`fictional_knowledge.evaluate.scoring`) under two cloze forms:

- *unseen template*: the regime's probe, a semantic template that no corpus sentence uses;
- *trained form*: the fact's first corpus sentence (the build's statement) cut before its object.

The statistic is Spearman's rho between k and log p over facts, pooled and per relation, with
percentile-bootstrap 95% intervals over facts. The untrained model (step 0) is the control: its
rho is not 0, because the tokenizer trained on the corpus gives frequent objects fewer tokens, so
a finding is reproduced only when rho > 0 *and* its gain over the control (facts resampled
jointly) is > 0, both intervals excluding 0. Intervals cover probe sampling only, not training randomness (one model, one seed).
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import numpy as np

from fictional_knowledge.experiments.common import (Finding, RunContext, bootstrap_ci, excludes_zero, fmt_ci, make_build, make_model, n_params,
                     pack, pyplot, regime_rows, save_figure, scale_settings, span_scores, spearman, steps_for, train,
                     train_tokenizer, write_report, shuffled_batches)

TITLE = "Frequency vs model probability (Wang et al. 2024, distributional memorization)"
CLAIM = ("A model's probability of a fact rises with the number of times the fact occurs in its training "
         "data (Wang et al. 2024).")
#: earlier configurations run per scale, with their outcomes (listed in every report)
TRIED: dict[str, list[str]] = {"cpu": [
    "1) these settings, judged on rho alone, texts packed once (rows reshuffled per pass), prompts scored without "
    "an EOS prefix: pooled unseen-template rho 0.314 [0.231, 0.387] -> reproduced; its untrained control had rho "
    "0.109 [0.021, 0.191], so the verdict now also needs the gain over the control",
    "2) the same, with the gain criterion: gain 0.205 [0.133, 0.274] -> reproduced (identical numbers)"
    "; the harness then changed: texts are repacked in a new order every pass, and prompts are scored after the EOS that precedes every training text"]}
#: experiment settings per scale (the model and optimiser come from the Scale)
PER_SCALE = {
    "smoke": {"exponent": 1.5, "max_count": 8, "epochs": 1.0, "checkpoints": 2, "min_facts_per_relation": 3},
    "cpu": {"exponent": 1.5, "max_count": 100, "epochs": 10.0, "checkpoints": 5, "min_facts_per_relation": 10},
    "gpu": {"exponent": 1.5, "max_count": 100, "epochs": 10.0, "checkpoints": 10, "min_facts_per_relation": 10},
}
K_BINS = [(1, 1), (2, 2), (3, 4), (5, 8), (9, 16), (17, 32), (33, 64), (65, 10 ** 9)]


def rho_gain(x: np.ndarray, axis=None):
    """rho(k, log p trained) − rho(k, log p untrained) of ``[n, 3]`` rows ``(k, trained, untrained)``
    (batched along ``axis=1`` like :func:`spearman`)."""
    return spearman(x[..., [0, 1]], axis=axis) - spearman(x[..., [0, 2]], axis=axis)


def correlations(k: np.ndarray, logp: np.ndarray, logp_init: np.ndarray, relations: list[str], min_facts: int,
                 seed: int) -> dict:
    """Pooled and per-relation rho(k, log p) with bootstrap intervals; the same for the untrained
    model (the control) and the gain over it (facts resampled jointly); the mean per-relation rho
    and gain (relations resampled)."""
    x = np.stack([k, logp, logp_init], axis=1)
    out = {"pooled": {"n": len(k), "rho": spearman(x[:, :2]), "ci": bootstrap_ci(x[:, :2], spearman, seed=seed),
                      "control_rho": spearman(x[:, [0, 2]]), "control_ci": bootstrap_ci(x[:, [0, 2]], spearman, seed=seed),
                      "gain": rho_gain(x), "gain_ci": bootstrap_ci(x, rho_gain, seed=seed)}}
    per = {}
    rel = np.array(relations)
    for r in sorted(set(relations)):
        m = rel == r
        if m.sum() < min_facts or len(set(x[m, 0])) < 2:
            continue
        per[r] = {"n": int(m.sum()), "rho": spearman(x[m, :2]), "ci": bootstrap_ci(x[m, :2], spearman, n=1000, seed=seed),
                  "control_rho": spearman(x[m][:, [0, 2]])}
    out["per_relation"] = per
    ok = [v for v in per.values() if not (math.isnan(v["rho"]) or math.isnan(v["control_rho"]))]
    rhos = np.array([v["rho"] for v in ok])
    gains = np.array([v["rho"] - v["control_rho"] for v in ok])
    out["relations_mean_rho"] = {"n_relations": len(rhos), "mean": float(rhos.mean()) if len(rhos) else math.nan,
                                 "ci": bootstrap_ci(rhos, seed=seed),
                                 "mean_gain": float(gains.mean()) if len(gains) else math.nan,
                                 "gain_ci": bootstrap_ci(gains, seed=seed),
                                 "positive_significant": sum(1 for v in per.values() if v["ci"][0] > 0),
                                 "negative_significant": sum(1 for v in per.values() if v["ci"][1] < 0)}
    return out


def verdict_of(rho: float, ci: tuple[float, float], gain: float, gain_ci: tuple[float, float]) -> str:
    """Reproduced when rho > 0 and its gain over the untrained control > 0, both intervals
    excluding 0; not reproduced when either interval lies below 0; else inconclusive."""
    if (excludes_zero(ci) and rho < 0) or (excludes_zero(gain_ci) and gain < 0):
        return "not reproduced"
    if excludes_zero(ci) and rho > 0 and excludes_zero(gain_ci) and gain > 0:
        return "reproduced"
    return "inconclusive"


def binned(k: np.ndarray, logp: np.ndarray) -> list[dict]:
    rows = []
    for lo, hi in K_BINS:
        m = (k >= lo) & (k <= hi)
        if m.any():
            rows.append({"k": f"{lo}" if lo == hi else f"{lo}-{min(hi, int(k.max()))}", "n": int(m.sum()),
                         "mean_logp": float(logp[m].mean()), "ci": bootstrap_ci(logp[m], n=1000)})
    return rows


def run(ctx: RunContext) -> Path:
    from fictional_knowledge.generate.probes import split_cloze
    from fictional_knowledge.regimes import make_regime

    sc, seed = ctx.scale, ctx.seed
    cfg = scale_settings(sc, PER_SCALE, ctx.overrides)
    with tempfile.TemporaryDirectory(prefix="fk-frequency-") as tmp:
        ctx.log(f"build: {sc.entities} entities, seed {seed}")
        build_dir = make_build(Path(tmp) / "build", seed=seed, entities=sc.entities)
        manifest = make_regime("frequency", build_dir, Path(tmp) / "regime", seed=seed,
                               exponent=cfg["exponent"], max_count=cfg["max_count"])
        corpus = regime_rows(Path(tmp) / "regime", "corpus", "train")
        probes = regime_rows(Path(tmp) / "regime", "probes", "test")
    first_sentence = {r["fact_id"]: r["text"] for r in corpus if r["occurrence"] == 0}
    trained_pairs, unsplittable = [], 0
    for p in probes:
        try:
            trained_pairs.append((split_cloze(first_sentence[p["fact_id"]], p["target"]), p["target"]))
        except ValueError:
            trained_pairs.append(None)
            unsplittable += 1
    texts = [r["text"] for r in corpus]
    ctx.log(f"corpus: {len(texts)} sentences of {len(probes)} facts; tokenizer {sc.vocab_size}")
    tok = train_tokenizer(texts, sc.vocab_size)
    packed = pack(tok, texts, sc.seq_len)
    steps = steps_for(packed, sc.batch_size, cfg["epochs"])
    model = make_model(tok, sc, seed).to(ctx.device)
    k = np.array([p["k"] for p in probes], dtype=float)
    relations = [p["relation"] for p in probes]
    unseen_pairs = [(p["input"], p["target"]) for p in probes]
    t_idx = [i for i, x in enumerate(trained_pairs) if x is not None]

    def score(m) -> dict[str, np.ndarray]:
        u = -span_scores(m, tok, unseen_pairs, batch_size=sc.eval_batch_size).loss_sum
        t = -span_scores(m, tok, [trained_pairs[i] for i in t_idx], batch_size=sc.eval_batch_size).loss_sum
        return {"unseen": u, "trained": t}

    init = score(model)
    every = max(1, steps // cfg["checkpoints"])
    curve: list[dict] = []

    def on_step(step: int, m) -> None:
        if step % every == 0 or step == steps:
            s = score(m)
            curve.append({"step": step, "rho_unseen": spearman(np.stack([k, s["unseen"]], 1)),
                          "rho_trained": spearman(np.stack([k[t_idx], s["trained"]], 1))})

    ctx.log(f"train: {n_params(model):,} parameters, {steps} steps ({cfg['epochs']} epochs of {packed.rows} rows)")
    t0 = time.perf_counter()
    losses = train(model, shuffled_batches(tok, texts, sc.seq_len, sc.batch_size, steps, seed), sc, steps=steps, on_step=on_step, seed=seed,
                   progress=ctx.progress)
    train_s = time.perf_counter() - t0
    final = score(model)
    t_rel = [relations[i] for i in t_idx]
    res = {
        "unseen": correlations(k, final["unseen"], init["unseen"], relations, cfg["min_facts_per_relation"], seed),
        "trained": correlations(k[t_idx], final["trained"], init["trained"], t_rel, cfg["min_facts_per_relation"], seed),
    }
    n_target = span_scores(model, tok, unseen_pairs, batch_size=sc.eval_batch_size).n_tokens
    res["rho_k_target_tokens"] = spearman(np.stack([k, n_target], 1))
    bins = {"unseen": binned(k, final["unseen"]), "trained": binned(k[t_idx], final["trained"]),
            "init_unseen": binned(k, init["unseen"])}

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, rows, style in [("unseen template, trained", bins["unseen"], "o-"),
                              ("trained form, trained", bins["trained"], "s-"),
                              ("unseen template, step 0", bins["init_unseen"], "x--")]:
        axes[0].errorbar(range(len(rows)), [r["mean_logp"] for r in rows],
                         yerr=np.array([[r["mean_logp"] - r["ci"][0], r["ci"][1] - r["mean_logp"]] for r in rows]).T,
                         fmt=style, capsize=3, label=name)
        axes[0].set_xticks(range(len(rows)), [r["k"] for r in rows])
    axes[0].set_xlabel("training count k of the fact")
    axes[0].set_ylabel("mean log p(object)")
    axes[0].legend(fontsize=8)
    axes[0].set_title("probability by training count (95% CI)")
    if curve:
        axes[1].plot([c["step"] for c in curve], [c["rho_unseen"] for c in curve], "o-", label="unseen template")
        axes[1].plot([c["step"] for c in curve], [c["rho_trained"] for c in curve], "s-", label="trained form")
    axes[1].axhline(0, color="grey", lw=0.8)
    axes[1].set_xlabel("training step")
    axes[1].set_ylabel("Spearman rho(k, log p)")
    axes[1].legend(fontsize=8)
    axes[1].set_title("correlation during training")
    fig_path = save_figure(fig, ctx.out / "frequency.png")

    pu, pt = res["unseen"]["pooled"], res["trained"]["pooled"]
    ru = res["unseen"]["relations_mean_rho"]

    def pooled_evidence(p: dict) -> str:
        return (f"Spearman rho(k, log p) over {p['n']} facts = {fmt_ci(p['rho'], p['ci'])}; untrained control "
                f"{fmt_ci(p['control_rho'], p['control_ci'])}; gain over control {fmt_ci(p['gain'], p['gain_ci'])}")

    findings = [
        Finding(name="pooled, unseen template", claim=CLAIM,
                verdict=verdict_of(pu["rho"], pu["ci"], pu["gain"], pu["gain_ci"]), evidence=pooled_evidence(pu),
                numbers=pu),
        Finding(name="pooled, trained form", claim=CLAIM,
                verdict=verdict_of(pt["rho"], pt["ci"], pt["gain"], pt["gain_ci"]), evidence=pooled_evidence(pt),
                numbers=pt),
        Finding(name="per relation, unseen template", claim=CLAIM + " This holds relation by relation.",
                verdict=verdict_of(ru["mean"], ru["ci"], ru["mean_gain"], ru["gain_ci"]),
                evidence=f"mean rho over {ru['n_relations']} relations with >= {cfg['min_facts_per_relation']} facts "
                         f"= {fmt_ci(ru['mean'], ru['ci'])} (gain over control {fmt_ci(ru['mean_gain'], ru['gain_ci'])}); "
                         f"interval above 0 for {ru['positive_significant']}, below 0 for {ru['negative_significant']}",
                numbers=ru),
    ]
    settings = {"seed": seed, "build_seed": seed, "regime_seed": seed, "model_init_seed": seed, "data_order_seed": seed,
                "scale": sc.model_dump(), "overrides": ctx.overrides, "device": ctx.device, "threads": ctx.threads, **cfg,
                "regime_options": manifest.options, "regime_notes": manifest.notes,
                "tokenizer_vocab": len(tok), "parameters": n_params(model), "steps": steps, "packing": packed.counts(),
                "probe_forms": {"unseen": len(unseen_pairs), "trained": len(t_idx),
                                "trained_unsplittable": unsplittable},
                "statistic": "Spearman rho between k and log p(object) (summed over target tokens), and its gain over the "
                             "untrained model; percentile bootstrap 95% CI over facts (2000 resamples pooled, facts "
                             "resampled jointly for the gain; 1000 per relation), seed 0"}
    metrics = {"correlations": res, "by_k": bins, "rho_during_training": curve,
               "train_loss": {"first": losses[0], "last": losses[-1], "every_10": losses[::10]},
               "train_seconds": round(train_s, 1)}
    per_rel = res["unseen"]["per_relation"]
    notes = [f"Corpus: {manifest.notes['sentences']} sentences stating {manifest.notes['facts']} facts "
             f"(k median {manifest.notes['k_median']}, max {manifest.notes['k_max']}); packed into {packed.rows} rows "
             f"of {sc.seq_len} tokens, {packed.pad_tokens} padding tokens, {packed.cut_tokens} tokens cut.",
             f"Model: GPT-2, {n_params(model):,} parameters, trained from scratch for {steps} steps "
             f"({cfg['epochs']} epochs); training loss {losses[0]:.2f} -> {losses[-1]:.2f}.",
             "Intervals are over facts for one trained model (one seed); training randomness is not in them.",
             "Per relation (unseen template): " + "; ".join(
                 f"{r} {v['rho']:.2f} [{v['ci'][0]:.2f}, {v['ci'][1]:.2f}] (n={v['n']})" for r, v in per_rel.items()),
             "The untrained model is the control: the tokenizer is trained on the corpus, so a frequent object "
             "tends to get fewer tokens and a higher summed log p before any training (rho(k, target tokens) = "
             f"{res['rho_k_target_tokens']:.3f}). A verdict therefore needs rho > 0 AND a gain over the control, "
             "both intervals excluding 0."] + ctx.history_notes(TRIED)
    if sc.name == "gpu":
        notes.append("The gpu scale is a recipe; it was not run in this task (no GPU was available).")
    return write_report(ctx.out, name="frequency", title=TITLE, command=ctx.command, settings=settings,
                        findings=findings, metrics=metrics, figures=[fig_path], notes=notes,
                        elapsed_s=time.perf_counter() - ctx.started)
