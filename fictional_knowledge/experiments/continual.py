"""``continual``: continual memorization of factoids and REMIX (Chen et al. 2024, "Continual
Memorization of Factoids in Language Models").

Design (fixed before any run): a build of ``scale.entities`` focal entities (3 paraphrases per
passage, the generic-text pool); the ``continual`` regime with its entity split (half stage 1, a
quarter stage 2, the rest background). Stage 1 trains the stage-1 factoids (QA), stage 2 a
disjoint factoid set (``stage2_factoid``: the setting where Chen et al. find the most
forgetting). Three arms from the same initialisation and one tokenizer (trained on all the arms'
training text):

- *none*: stage-1 QA, then stage-2 QA;
- *random*: REMIX with random word sequences mixed into both stages (``mix_random``);
- *generic*: REMIX with generic text (background paraphrases, stage-1 facts removed) mixed into
  both stages (``mix_generic``).

Each stage runs ``stage1_epochs`` / ``stage2_epochs`` passes over its factoids (mixing data comes
on top, as in REMIX). Retention is greedy-generation exact match on the stage-1 QA after stage 2
(:class:`fictional_knowledge.evaluate.scoring_qa.QAScorer`); differences are paired over QA items with
percentile-bootstrap 95% intervals; one seed, so training randomness is not in them.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from fictional_knowledge.experiments.common import (Finding, RunContext, shuffled_batches, bootstrap_ci, diff_ci, excludes_zero, fmt_ci, make_build,
                     make_model, n_params, pack, pyplot, qa_correct, regime_rows, save_figure, scale_settings,
                     steps_for, train, train_tokenizer, write_report)

TITLE = "Continual memorization and REMIX (Chen et al. 2024)"
CLAIM_FORGET = "Factoids memorised in stage 1 are forgotten while a second set of factoids is trained in stage 2."
CLAIM_REMIX = ("Mixing {what} into training (REMIX) reduces that forgetting: more stage-1 factoids are retained "
               "after stage 2 than without mixing.")
#: earlier configurations run per scale, with their outcomes (listed in every report)
TRIED: dict[str, list[str]] = {"cpu": [
    "1) these settings, texts packed once (rows reshuffled per pass), prompts scored without an EOS prefix: "
    "stage-1 EM after stage 1 only 0.03 (none), 0.02 (random), 0.03 (generic), so forgetting and REMIX could not "
    "be measured -> all inconclusive; the harness then changed: texts are repacked in a new order every pass, and "
    "prompts are scored after the EOS that precedes every training text",
    "2) the same settings with that harness, stopped after two arms: stage-1 EM none 0.00 -> 0.00, random "
    "0.10 -> 0.06 (random trains 4x the steps in stage 1); without a learned-stage-1 requirement REMIX random would "
    "have read as reproduced, so the requirement in the notes was added"]}
PER_SCALE = {
    "smoke": {"stage1_fraction": 0.5, "stage2_fraction": 0.25, "mix_ratio": 1.0, "random_words": 8,
              "paraphrases": 1, "stage1_epochs": 1.0, "stage2_epochs": 1.0},
    "cpu": {"stage1_fraction": 0.5, "stage2_fraction": 0.25, "mix_ratio": 1.0, "random_words": 24,
            "paraphrases": 3, "stage1_epochs": 30.0, "stage2_epochs": 20.0},
    "gpu": {"stage1_fraction": 0.5, "stage2_fraction": 0.25, "mix_ratio": 2.0, "random_words": 100,
            "paraphrases": 9, "stage1_epochs": 30.0, "stage2_epochs": 20.0},
}
#: stage-1 exact match an arm must reach after stage 1 before its retention is compared
LEARNED = 0.5
ARMS = {"none": None, "random": "mix_random", "generic": "mix_generic"}


def run(ctx: RunContext) -> Path:
    from fictional_knowledge.regimes import make_regime

    sc, seed = ctx.scale, ctx.seed
    cfg = scale_settings(sc, PER_SCALE, ctx.overrides)
    with tempfile.TemporaryDirectory(prefix="fk-continual-") as tmp:
        ctx.log(f"build: {sc.entities} entities, seed {seed}")
        build_dir = make_build(Path(tmp) / "build", seed=seed, entities=sc.entities, paraphrases=cfg["paraphrases"])
        reg = Path(tmp) / "regime"
        manifest = make_regime("continual", build_dir, reg, seed=seed, stage1_fraction=cfg["stage1_fraction"],
                               stage2_fraction=cfg["stage2_fraction"], mix_ratio=cfg["mix_ratio"],
                               random_words=cfg["random_words"])
        sets = {"stage1": [r["text"] for r in regime_rows(reg, "stage1", "train")],
                "stage2": [r["text"] for r in regime_rows(reg, "stage2_factoid", "train")]}
        mix = {(arm, stage): [r["text"] for r in regime_rows(reg, cfg_name, split)]
               for arm, cfg_name in ARMS.items() if cfg_name
               for stage, split in (("stage1", "stage1"), ("stage2", "stage2_factoid"))}
        retention = regime_rows(reg, "test", "retention")
        stage2_test = regime_rows(reg, "test", "stage2_factoid")
    tok = train_tokenizer(sets["stage1"] + sets["stage2"] + [t for v in mix.values() for t in v], sc.vocab_size)
    epochs = {"stage1": cfg["stage1_epochs"], "stage2": cfg["stage2_epochs"]}
    packs, steps, texts = {}, {}, {}
    for arm in ARMS:
        for stage in ("stage1", "stage2"):
            # factoids and mixing examples, interleaved in a new seeded order every pass
            texts[arm, stage] = sets[stage] + mix.get((arm, stage), [])
            packs[arm, stage] = pack(tok, texts[arm, stage], sc.seq_len)
            # passes over the factoids; mixing data comes on top (REMIX adds examples)
            steps[arm, stage] = steps_for(packs[arm, stage], sc.batch_size, epochs[stage])
    ctx.log(f"data: {len(sets['stage1'])} stage-1 QA, {len(sets['stage2'])} stage-2 QA; "
            f"steps {{{', '.join(f'{a}/{s}: {n}' for (a, s), n in steps.items())}}}")

    def em(model, rows):
        return qa_correct(model, tok, rows, batch_size=sc.eval_batch_size)["em"]

    res, losses, timings = {}, {}, {}
    for i, arm in enumerate(ARMS):
        t0 = time.perf_counter()
        model = make_model(tok, sc, seed).to(ctx.device)
        for j, stage in enumerate(("stage1", "stage2")):
            losses[f"{arm}/{stage}"] = train(model, shuffled_batches(tok, texts[arm, stage], sc.seq_len, sc.batch_size,
                                                                           steps[arm, stage], seed + j),
                                             sc, steps=steps[arm, stage], seed=seed + j, progress=ctx.progress,
                                             desc=f"{arm} {stage}")
            if stage == "stage1":
                res[arm, "after1"] = em(model, retention)
        res[arm, "after2"] = em(model, retention)
        res[arm, "stage2"] = em(model, stage2_test)
        timings[arm] = time.perf_counter() - t0
        ctx.log(f"{arm}: stage-1 EM {res[arm, 'after1'].mean():.3f} -> {res[arm, 'after2'].mean():.3f}, "
                f"stage-2 EM {res[arm, 'stage2'].mean():.3f}")

    acc = {arm: {k: {"em": float(res[arm, k].mean()), "ci": bootstrap_ci(res[arm, k].astype(float))}
                 for k in ("after1", "after2", "stage2")} for arm in ARMS}
    for arm in ARMS:
        a1, a2 = acc[arm]["after1"]["em"], acc[arm]["after2"]["em"]
        acc[arm]["retention_ratio"] = a2 / a1 if a1 > 0 else None
    forgetting = {arm: {"diff": float(res[arm, "after1"].mean() - res[arm, "after2"].mean()),
                        "ci": diff_ci(res[arm, "after1"], res[arm, "after2"])} for arm in ARMS}
    remix = {arm: {"diff": float(res[arm, "after2"].mean() - res["none", "after2"].mean()),
                   "ci": diff_ci(res[arm, "after2"], res["none", "after2"])} for arm in ("random", "generic")}

    def verdict(d: dict, arms: tuple[str, ...] = ("none",)) -> str:
        # retention is only comparable between arms that learned stage 1 (Chen et al. train it to
        # near-perfect accuracy); below LEARNED exact match in any compared arm: inconclusive
        if any(acc[a]["after1"]["em"] < LEARNED for a in arms):
            return "inconclusive"
        if excludes_zero(d["ci"]):
            return "reproduced" if d["diff"] > 0 else "not reproduced"
        return "inconclusive"

    def em_str(arm, k):
        return fmt_ci(acc[arm][k]["em"], acc[arm][k]["ci"], 2)

    findings = [Finding(name="forgetting without mixing", claim=CLAIM_FORGET, verdict=verdict(forgetting["none"]),
                        evidence=f"stage-1 EM after stage 1 {em_str('none', 'after1')}, after stage 2 "
                                 f"{em_str('none', 'after2')}; drop {fmt_ci(forgetting['none']['diff'], forgetting['none']['ci'], 2)} "
                                 f"(n={len(retention)})",
                        numbers=forgetting["none"])]
    for arm, what in (("random", "random word sequences"), ("generic", "generic text")):
        findings.append(Finding(
            name=f"REMIX {arm}", claim=CLAIM_REMIX.format(what=what), verdict=verdict(remix[arm], ("none", arm)),
            evidence=f"stage-1 EM after stage 2: {arm} {em_str(arm, 'after2')} vs none {em_str('none', 'after2')}; "
                     f"difference {fmt_ci(remix[arm]['diff'], remix[arm]['ci'], 2)} (after stage 1: "
                     f"{acc[arm]['after1']['em']:.2f} vs {acc['none']['after1']['em']:.2f})",
            numbers=remix[arm]))

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    x = np.arange(len(ARMS))
    for j, (k, label) in enumerate([("after1", "stage-1 QA after stage 1"), ("after2", "stage-1 QA after stage 2"),
                                    ("stage2", "stage-2 QA after stage 2")]):
        vals = [acc[a][k]["em"] for a in ARMS]
        err = np.array([[acc[a][k]["em"] - acc[a][k]["ci"][0], acc[a][k]["ci"][1] - acc[a][k]["em"]] for a in ARMS]).T
        ax.bar(x + (j - 1) * 0.27, vals, 0.27, yerr=err, capsize=3, label=label)
    ax.set_xticks(x, [f"{a} mixing" for a in ARMS])
    ax.set_ylabel("exact match")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title("retention of stage-1 factoids (95% CI)")
    fig_path = save_figure(fig, ctx.out / "continual.png")

    settings = {"seed": seed, "build_seed": seed, "regime_seed": seed, "model_init_seed": seed,
                "data_order_seed": {"stage1": seed, "stage2": seed + 1},
                "scale": sc.model_dump(), "overrides": ctx.overrides, "device": ctx.device, "threads": ctx.threads, **cfg,
                "stage2_set": "stage2_factoid", "regime_options": manifest.options, "regime_notes": manifest.notes,
                "tokenizer_vocab": len(tok), "parameters": n_params(model),
                "steps": {f"{a}/{s}": n for (a, s), n in steps.items()},
                "packing": {f"{a}/{s}": p.counts() for (a, s), p in packs.items()},
                "qa_scoring": "QAScorer greedy generation (max 16 new tokens), exact match with the answer",
                "statistic": "exact match with percentile bootstrap 95% CI over QA items; differences paired over items; "
                             "2000 resamples, seed 0"}
    metrics = {"exact_match": acc, "forgetting": forgetting, "remix_minus_none_after_stage2": remix,
               "train_loss": {k: {"first": v[0], "last": v[-1]} for k, v in losses.items()},
               "train_seconds": {k: round(v, 1) for k, v in timings.items()}}
    notes = [f"Entities: {manifest.notes['entities']}; {len(sets['stage1'])} stage-1 QA (the retention test), "
             f"{len(sets['stage2'])} stage-2 QA; mixing: {cfg['mix_ratio']:g} example(s) of {cfg['random_words']} words "
             "per factoid example, in both stages.",
             "Departure from the regime defaults (mix_ratio 2, 100-word windows) at cpu scale, for the 10-minute budget: "
             "mix_ratio 1 with 24-word windows; the gpu recipe uses the defaults.",
             "Training losses (first -> last): " + "; ".join(f"{k} {v[0]:.2f} -> {v[-1]:.2f}" for k, v in losses.items()),
             f"Tokens cut in packing: {sum(p.cut_tokens for p in packs.values())}.",
             f"A verdict needs every compared arm to have learned stage 1 (exact match >= {LEARNED} after stage 1; "
             "Chen et al. train stage 1 to near-perfect accuracy): retention is not comparable otherwise. "
             "REMIX arms also train more steps per stage (the mixing data comes on top).",
             "Chen et al. start from a pretrained model; here every arm starts from the same random initialisation.",
             "Intervals are over QA items for one trained model per arm (one seed); training randomness is not in them."] + ctx.history_notes(TRIED)
    if sc.name == "gpu":
        notes.append("The gpu scale is a recipe; it was not run in this task (no GPU was available).")
    return write_report(ctx.out, name="continual", title=TITLE, command=ctx.command, settings=settings,
                        findings=findings, metrics=metrics, figures=[fig_path], notes=notes,
                        elapsed_s=time.perf_counter() - ctx.started)
