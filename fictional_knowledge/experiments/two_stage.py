"""``two-stage``: two-stage vs mixed training (Zhang et al. 2025; the bioS setting of Allen-Zhu
& Li, "Physics of Language Models 3.1").

Design (fixed before any run): a build of ``scale.entities`` focal entities; the ``two-stage``
regime with the paper's entity-level 50/50 split (QA of the *train* half is trained on, QA of the
*held-out* half is the test; statements of every entity are trained on) and statement
multiplicity 3 (every fact in all 3 of its passage templates: all the templates the package has).
One tokenizer (trained on all training text) and one initialisation (same seed) serve both arms:

- *two-stage*: the statements for ``epochs`` passes, then the train entities' QA for ``epochs``
  passes (a fresh optimiser and schedule per stage);
- *mixed*: the same examples in the regime's one shuffle, for ``epochs`` passes.

Every example is seen ``epochs`` times in both arms. QA is scored with
:class:`fictional_knowledge.evaluate.scoring_qa.QAScorer`: greedy-generation exact match (primary) and
4-way multiple choice (chance 25%), on held-out-entity QA and on trained-entity QA. Differences
are mixed − two-stage, paired over QA items (percentile bootstrap, 95%); one seed, so training
randomness is not in the intervals.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from fictional_knowledge.experiments.common import (Finding, RunContext, shuffled_batches, bootstrap_ci, diff_ci, excludes_zero, fmt_ci, make_build,
                     make_model, n_params, pack, pyplot, qa_correct, regime_rows, save_figure, scale_settings,
                     span_scores, steps_for, train, train_tokenizer, write_report)

TITLE = "Two-stage vs mixed training (Zhang et al. 2025)"
CLAIM_HELDOUT = ("Mixed training (statements and QA together) lets a model answer questions about entities whose "
                 "QA it never trained on; two-stage training (statements, then QA) does much worse there.")
CLAIM_ROTE = ("Two-stage training still answers the questions it was trained on (rote memorization): its "
              "trained-entity QA accuracy is far above its held-out-entity accuracy.")
#: earlier configurations run per scale, with their outcomes (listed in every report)
TRIED: dict[str, list[str]] = {"cpu": [
    "1) these settings, texts packed once (rows reshuffled per pass), prompts scored without an EOS prefix: "
    "held-out EM mixed 0.04 vs two-stage 0.04, difference 0.00 [-0.02, 0.03] -> inconclusive; trained-entity EM "
    "of two-stage 0.10 [0.06, 0.14]; statement-cloze EM 0.14 (facts barely stored)",
    "2) the same with --set epochs=72 (docs/experiments/two-stage-epochs72): training loss 0.01 but statement-cloze "
    "EM 0.22; held-out EM mixed 0.07 vs two-stage 0.05, difference 0.01 [-0.02, 0.05] -> inconclusive. A loss of "
    "0.01 with a cloze EM of 0.22 showed the model had memorised texts in their fixed row context"
    "; the harness then changed: texts are repacked in a new order every pass, and prompts are scored after the EOS that precedes every training text"]}
PER_SCALE = {
    "smoke": {"train_fraction": 0.5, "multiplicity": 2, "epochs": 1.0},
    "cpu": {"train_fraction": 0.5, "multiplicity": 3, "epochs": 24.0},
    "gpu": {"train_fraction": 0.5, "multiplicity": 3, "epochs": 60.0},
}


def run(ctx: RunContext) -> Path:
    from fictional_knowledge.dataset.io import read_rows
    from fictional_knowledge.generate.probes import split_cloze
    from fictional_knowledge.regimes import make_regime

    sc, seed = ctx.scale, ctx.seed
    cfg = scale_settings(sc, PER_SCALE, ctx.overrides)
    with tempfile.TemporaryDirectory(prefix="fk-two-stage-") as tmp:
        ctx.log(f"build: {sc.entities} entities, seed {seed}")
        build_dir = make_build(Path(tmp) / "build", seed=seed, entities=sc.entities)
        reg = Path(tmp) / "regime"
        manifest = make_regime("two-stage", build_dir, reg, seed=seed, train_fraction=cfg["train_fraction"],
                               multiplicity=cfg["multiplicity"])
        stage1 = [r["text"] for r in regime_rows(reg, "two_stage", "stage1")]
        stage2 = [r["text"] for r in regime_rows(reg, "two_stage", "stage2")]
        mixed = [r["text"] for r in regime_rows(reg, "mixed", "train")]
        heldout = regime_rows(reg, "test", "test")
        roles = {r["entity_id"]: r["role"] for r in regime_rows(reg, "entities", "train")}
        trained_qa = [r for r in read_rows(build_dir, "qa") if roles.get(r["entity_id"]) == "train"]
        first_statement: dict[str, str] = {}
        for r in regime_rows(reg, "two_stage", "stage1"):
            first_statement.setdefault(r["fact_id"], r["text"])  # variant 0: the build's statement
    if sorted(mixed) != sorted(stage1 + stage2):
        raise AssertionError("the mixed set is not the two stages' examples")
    tok = train_tokenizer(stage1 + stage2, sc.vocab_size)
    packs = {"stage1": pack(tok, stage1, sc.seq_len), "stage2": pack(tok, stage2, sc.seq_len),
             "mixed": pack(tok, mixed, sc.seq_len)}
    steps = {k: steps_for(p, sc.batch_size, cfg["epochs"]) for k, p in packs.items()}
    ctx.log(f"data: {len(stage1)} statements, {len(stage2)} train QA, {len(heldout)} held-out QA; steps {steps}")

    # diagnostic: is the fact stored at all? its trained statement, cut before the answer, as a cloze
    cloze, unsplittable = {}, 0
    for split, rows in (("heldout", heldout), ("trained", trained_qa)):
        pairs = []
        for r in rows:
            try:
                pairs.append((split_cloze(first_statement[r["fact_id"]], r["answer"]), r["answer"]))
            except ValueError:
                unsplittable += 1
        cloze[split] = pairs

    def evaluate(model) -> dict:
        out = {"heldout": qa_correct(model, tok, heldout, batch_size=sc.eval_batch_size),
               "trained": qa_correct(model, tok, trained_qa, batch_size=sc.eval_batch_size)}
        for split, pairs in cloze.items():
            out[split]["statement_cloze"] = span_scores(model, tok, pairs, batch_size=sc.eval_batch_size).exact_match
        return out

    results, losses, timings = {}, {}, {}
    t0 = time.perf_counter()
    model = make_model(tok, sc, seed).to(ctx.device)
    ctx.log(f"two-stage: {n_params(model):,} parameters")
    losses["two-stage/stage1"] = train(model, shuffled_batches(tok, stage1, sc.seq_len, sc.batch_size, steps["stage1"], seed), sc,
                                       steps=steps["stage1"], seed=seed, progress=ctx.progress, desc="two-stage 1")
    results["after stage 1"] = evaluate(model)
    losses["two-stage/stage2"] = train(model, shuffled_batches(tok, stage2, sc.seq_len, sc.batch_size, steps["stage2"], seed + 1), sc,
                                       steps=steps["stage2"], seed=seed + 1, progress=ctx.progress, desc="two-stage 2")
    results["two-stage"] = evaluate(model)
    timings["two-stage"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = make_model(tok, sc, seed).to(ctx.device)
    losses["mixed"] = train(model, shuffled_batches(tok, mixed, sc.seq_len, sc.batch_size, steps["mixed"], seed), sc,
                            steps=steps["mixed"], seed=seed, progress=ctx.progress, desc="mixed")
    results["mixed"] = evaluate(model)
    timings["mixed"] = time.perf_counter() - t0

    acc = {arm: {split: {m: {"acc": float(v.mean()), "ci": bootstrap_ci(v.astype(float))} for m, v in d.items()}
                 for split, d in r.items()} for arm, r in results.items()}
    diffs = {split: {m: {"diff": float(results["mixed"][split][m].mean() - results["two-stage"][split][m].mean()),
                         "ci": diff_ci(results["mixed"][split][m], results["two-stage"][split][m])}
                     for m in ("em", "mc")} for split in ("heldout", "trained")}
    ts = results["two-stage"]
    rote = {m: {"diff": float(ts["trained"][m].mean() - ts["heldout"][m].mean()),
                "ci": diff_ci(ts["trained"][m], ts["heldout"][m], paired=False)} for m in ("em", "mc")}

    def verdict(d: dict) -> str:
        if excludes_zero(d["ci"]):
            return "reproduced" if d["diff"] > 0 else "not reproduced"
        return "inconclusive"

    def a(arm, split, m):
        return fmt_ci(acc[arm][split][m]["acc"], acc[arm][split][m]["ci"], 2)

    findings = [
        Finding(name="held-out QA, exact match", claim=CLAIM_HELDOUT, verdict=verdict(diffs["heldout"]["em"]),
                evidence=f"held-out EM: mixed {a('mixed', 'heldout', 'em')}, two-stage {a('two-stage', 'heldout', 'em')}; "
                         f"mixed − two-stage {fmt_ci(diffs['heldout']['em']['diff'], diffs['heldout']['em']['ci'], 2)} "
                         f"(n={len(heldout)})",
                numbers=diffs["heldout"]["em"]),
        Finding(name="held-out QA, multiple choice", claim=CLAIM_HELDOUT, verdict=verdict(diffs["heldout"]["mc"]),
                evidence=f"held-out MC (chance 0.25): mixed {a('mixed', 'heldout', 'mc')}, two-stage "
                         f"{a('two-stage', 'heldout', 'mc')}; mixed − two-stage "
                         f"{fmt_ci(diffs['heldout']['mc']['diff'], diffs['heldout']['mc']['ci'], 2)}",
                numbers=diffs["heldout"]["mc"]),
        Finding(name="two-stage is rote", claim=CLAIM_ROTE, verdict=verdict(rote["em"]),
                evidence=f"two-stage EM: trained entities {a('two-stage', 'trained', 'em')}, held-out "
                         f"{a('two-stage', 'heldout', 'em')}; difference {fmt_ci(rote['em']['diff'], rote['em']['ci'], 2)}",
                numbers=rote["em"]),
    ]

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    arms = ["after stage 1", "two-stage", "mixed"]
    for ax, m, title in [(axes[0], "em", "exact match (generation)"), (axes[1], "mc", "multiple choice")]:
        x = np.arange(len(arms))
        for j, split in enumerate(["trained", "heldout"]):
            vals = [acc[arm][split][m]["acc"] for arm in arms]
            err = np.array([[acc[arm][split][m]["acc"] - acc[arm][split][m]["ci"][0],
                             acc[arm][split][m]["ci"][1] - acc[arm][split][m]["acc"]] for arm in arms]).T
            ax.bar(x + (j - 0.5) * 0.38, vals, 0.38, yerr=err, capsize=3,
                   label="trained-entity QA" if split == "trained" else "held-out-entity QA")
        if m == "mc":
            ax.axhline(0.25, color="grey", ls="--", lw=0.8, label="chance")
        ax.set_xticks(x, arms)
        ax.set_ylim(0, 1)
        ax.set_title(title)
        ax.legend(fontsize=8)
    fig_path = save_figure(fig, ctx.out / "two_stage.png")

    settings = {"seed": seed, "build_seed": seed, "regime_seed": seed, "model_init_seed": seed,
                "data_order_seed": {"stage1": seed, "stage2": seed + 1, "mixed": seed},
                "scale": sc.model_dump(), "overrides": ctx.overrides, "device": ctx.device, "threads": ctx.threads, **cfg,
                "regime_options": manifest.options, "regime_notes": manifest.notes, "tokenizer_vocab": len(tok),
                "parameters": n_params(model), "steps": steps, "packing": {k: p.counts() for k, p in packs.items()},
                "qa_scoring": "QAScorer: greedy generation (max 16 new tokens) exact match; 4-way MC by summed "
                              "log-likelihood; prompt 'Question: ...\\nAnswer:'",
                "statistic": "accuracy with percentile bootstrap 95% CI over QA items; differences paired over items "
                             "(mixed − two-stage), unpaired for trained − held-out; 2000 resamples, seed 0"}
    metrics = {"accuracy": acc, "mixed_minus_two_stage": diffs, "two_stage_trained_minus_heldout": rote,
               "train_loss": {k: {"first": v[0], "last": v[-1]} for k, v in losses.items()},
               "train_seconds": {k: round(v, 1) for k, v in timings.items()}}
    notes = [f"Entities: {manifest.notes['train_entities']} train, {manifest.notes['heldout_entities']} held out "
             f"(the paper's 50/50 entity split); {len(stage1)} statements (multiplicity {cfg['multiplicity']}), "
             f"{len(stage2)} trained QA, {len(heldout)} held-out QA, {len(trained_qa)} trained-entity QA scored.",
             f"Steps: two-stage {steps['stage1']} + {steps['stage2']}, mixed {steps['mixed']} "
             f"({cfg['epochs']} passes over every example in both arms); {sum(p.cut_tokens for p in packs.values())} "
             "tokens cut in packing.",
             "Training losses (first -> last): " + "; ".join(f"{k} {v[0]:.2f} -> {v[-1]:.2f}" for k, v in losses.items()),
             "Diagnostic (is the fact stored?): greedy exact match of the answer after the fact's trained statement "
             "cut before it — " + "; ".join(
                 f"{arm}: held-out {acc[arm]['heldout']['statement_cloze']['acc']:.2f}, trained "
                 f"{acc[arm]['trained']['statement_cloze']['acc']:.2f}" for arm in ("after stage 1", "two-stage", "mixed"))
             + f" ({unsplittable} facts whose statement does not end with the answer left out).",
             "QA examples are trained on their whole text (question and answer), packed with the statements.",
             "Intervals are over QA items for one trained model per arm (one seed); training randomness is not in them."] + ctx.history_notes(TRIED)
    if sc.name == "gpu":
        notes.append("The gpu scale is a recipe; it was not run in this task (no GPU was available).")
    return write_report(ctx.out, name="two-stage", title=TITLE, command=ctx.command, settings=settings,
                        findings=findings, metrics=metrics, figures=[fig_path], notes=notes,
                        elapsed_s=time.perf_counter() - ctx.started)
