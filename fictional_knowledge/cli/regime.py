"""``fkgen regime NAME BUILD --out DIR``: arrange a build into the training data of an experiment.

Options default to None here and take their defaults from the models in
``fictional_knowledge.regimes.options`` (the ``[default: ...]`` in each help text is checked
against them by the tests); the models are imported only when a command runs, so ``fkgen`` starts
fast.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

import typer

from fictional_knowledge.cli.build import fail

HELP = """Arrange a build into the training data of a specific experiment. Each regime is a
deterministic function of the build, --seed and its options, and writes a folder that
datasets.load_dataset(DIR, CONFIG, split=SPLIT) loads, with regime_manifest.json.

\b
injection  Knowledge injection (Chang et al., NeurIPS 2024, "How Do Large Language Models Acquire
           Factual Knowledge During Pretraining?"): three disjoint groups of passages injected at
           steps 0, 100, ..., 900 as a new paraphrase each time, the same text each time, or once;
           their probes by scenario, and a background stream without any probed fact.
two-stage  Two-stage vs mixed training (Zhang et al. 2025): statements of all entities and QA of
           half of them, in two stages or shuffled together; the other half's QA is the test.
continual  Continual memorization and REMIX (Chen et al. 2024, "Continual Memorization of Factoids
           in Language Models"): stage-1 factoids, a disjoint stage-2 factoid set and a
           non-factoid set, random-word and generic-text mixing data, and a retention test.
frequency  Frequency-controlled corpus (after Wang et al. 2024, distributional memorization):
           each fact stated exactly k times, k drawn from a bounded Zipf law and recorded.
forget     Forget/retain splits (TOFU, Maini et al. 2024): QA of 1%, 5%, 10% of the entities,
           nested, and of the matching retained entities.
"""


def _ints(flag: str, value: Optional[str]) -> Optional[list[int]]:
    if value is None:
        return None
    try:
        return [int(x) for x in value.split(",") if x.strip()]
    except ValueError:
        fail(f"{flag}: expected comma-separated integers, got {value!r}")


def _strs(value: Optional[str]) -> Optional[list[str]]:
    return None if value is None else [x.strip() for x in value.split(",") if x.strip()]


def _run(name: str, build: Path, out: Path, seed: int, overwrite: bool, options: dict[str, Any],
         quiet: bool = False) -> None:
    from pydantic import ValidationError

    from fictional_knowledge.regimes import make_regime
    from fictional_knowledge.regimes.common import RegimeError

    from fictional_knowledge.dataset.builder import check_output_folder

    check_output_folder(out, overwrite)  # before reading the build
    options = {k: v for k, v in options.items() if v is not None}
    start = time.perf_counter()
    try:
        manifest = make_regime(name, build, out, seed=seed, overwrite=overwrite, progress=not quiet, **options)
    except ValidationError as exc:
        err = exc.errors()[0]
        message = err["msg"].removeprefix("Value error, ")
        fail(f"--{str(err['loc'][0]).replace('_', '-')}: {message}" if err["loc"] else message)
    except RegimeError as exc:
        fail(str(exc))
    typer.echo(f"wrote {out} ({name}, seed {seed}) in {time.perf_counter() - start:.1f}s")
    for config, splits in manifest.configs.items():
        for split, s in splits.items():
            typer.echo(f"  {config + '/' + split:<34} {s.rows:>9,} rows  {s.fingerprint[:16]}")


_BUILD = typer.Argument(..., help="A build folder (fkgen build).")
_OUT = typer.Option(..., "--out", help="Output folder.")
_SEED = typer.Option(0, "--seed", help="Regime seed (the build has its own).")
_OVERWRITE = typer.Option(False, "--overwrite", help="Replace a non-empty output folder.")
_QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar (the summary still goes to stdout).")


def injection_cmd(
    build: Path = _BUILD, out: Path = _OUT, seed: int = _SEED, overwrite: bool = _OVERWRITE,
    quiet: bool = _QUIET,
    steps: Optional[str] = typer.Option(None, help="Injection steps, comma-separated [default: 0,100,200,300,400,500,600,700,800,900]."),
    group_sizes: Optional[str] = typer.Option(
        None, help="Passages per scenario paraphrase,duplicate,once,control (three sizes: no control) [default: 40,40,40,40]."),
    select: Optional[str] = typer.Option(
        None, help="stratified (seeded, each entity type in proportion in every group), first (build order) or "
                   "random (seeded) [default: stratified]."),
    passages: Optional[str] = typer.Option(None, help="Explicit passage ids, comma-separated, in group order [default: none]."),
    background: Optional[str] = typer.Option(
        None, help="Background stream: build (the build's other passages), none, or a user corpus: a "
                   "datasets.load_dataset folder, file (.txt .json .jsonl .csv .parquet) or name [default: build]."),
    background_column: Optional[str] = typer.Option(None, help="Text column of a user-corpus background [default: text]."),
    background_entities: Optional[int] = typer.Option(
        None, help="Render the background from this many world entities disjoint from the build [default: none]."),
    no_background: bool = typer.Option(False, "--no-background", help="Same as --background none."),
) -> None:
    """Knowledge injection, after Chang et al. (NeurIPS 2024), "How Do Large Language Models Acquire
    Factual Knowledge During Pretraining?". Disjoint groups of passages are injected into a
    pretraining stream at fixed steps: the passage and then a different paraphrase at each later
    step (paraphrase), the same passage each time (duplicate), or only at the first step (once); a
    control group is never injected. Writes injection (step, scenario, passage, text), probes (the
    probes of every group with their scenario) and background (a stream without any probed fact:
    the build's other passages, --background-entities N entities disjoint from the build, or
    --background CORPUS). Merge it into a training stream with fictional_knowledge.regimes.inject;
    regime_manifest.json records the groups and the schedule for fkgen dynamics --regime."""
    if no_background:
        if background not in (None, "none"):
            fail("give --background or --no-background, not both")
        background = "none"
    _run("injection", build, out, seed, overwrite, {
        "steps": _ints("--steps", steps), "group_sizes": _ints("--group-sizes", group_sizes), "select": select,
        "passages": _strs(passages), "background": background, "background_column": background_column,
        "background_entities": background_entities}, quiet=quiet)
    _report_background(out)


def _report_background(out: Path) -> None:
    import json

    notes = json.loads((out / "regime_manifest.json").read_text())["notes"]
    bg = notes.get("background")
    if bg:
        extra = {"build": f", {bg.get('removed_sentences', 0):,} sentences stating probed facts removed",
                 "world": f", from world position {bg.get('first_position')}; {bg.get('skipped_overlapping', 0)} "
                          "entities overlapping the build left out",
                 "corpus": f", {bg.get('empty_rows_left_out', 0)} empty rows left out"}.get(bg["source"], "")
        typer.echo(f"  background: {bg['docs']:,} documents, {bg['words']:,} words ({bg['source']}{extra}); "
                   "inject(..., repeat=True) warns when training repeats it")


def two_stage_cmd(
    build: Path = _BUILD, out: Path = _OUT, seed: int = _SEED, overwrite: bool = _OVERWRITE,
    quiet: bool = _QUIET,
    train_fraction: Optional[float] = typer.Option(None, help="Fraction of entities whose QA is trained on [default: 0.5]."),
    multiplicity: Optional[int] = typer.Option(None, help="Statements per fact, each with another template [default: 1]."),
) -> None:
    """Two-stage vs mixed training, after Zhang et al. (2025). Entities are split (seeded, default
    50/50) into train entities, whose statements and QA are trained on, and held-out entities, whose
    statements only are trained on. Writes two_stage (stage1: statements of all entities, stage2: QA
    of train entities), mixed (the same examples shuffled together) and test (held-out QA), with
    --multiplicity statements per fact."""
    _run("two-stage", build, out, seed, overwrite, {"train_fraction": train_fraction, "multiplicity": multiplicity},
         quiet=quiet)


def continual_cmd(
    build: Path = _BUILD, out: Path = _OUT, seed: int = _SEED, overwrite: bool = _OVERWRITE,
    quiet: bool = _QUIET,
    stage1_fraction: Optional[float] = typer.Option(None, help="Fraction of entities in stage 1 [default: 0.5]."),
    stage2_fraction: Optional[float] = typer.Option(None, help="Fraction of entities in the stage-2 factoid set [default: 0.25]."),
    mix_ratio: Optional[float] = typer.Option(None, help="REMIX mixing examples per training example, 0 for none [default: 2.0]."),
    random_words: Optional[int] = typer.Option(None, help="Words per mixing window, half prompt and half completion [default: 100]."),
    vocabulary: Optional[str] = typer.Option(None, help="Word list file for random words, one a line [default: none]."),
    generic_source: Optional[str] = typer.Option(
        None, help="Generic text: a .txt file (a document a line) or a load_dataset path [default: none]."),
    generic_column: Optional[str] = typer.Option(None, help="Text column of --generic-source [default: text]."),
) -> None:
    """Continual memorization of factoids and REMIX, after Chen et al. (2024), "Continual
    Memorization of Factoids in Language Models". Stage 1 memorises the QA of half the entities;
    stage 2 trains on a disjoint factoid set or on non-factoid text (background passages without
    stage-1 facts); test/retention is the stage-1 QA. REMIX mixing data (random word sequences and
    generic text) come --mix-ratio examples per training example, for every stage set."""
    _run("continual", build, out, seed, overwrite, {
        "stage1_fraction": stage1_fraction, "stage2_fraction": stage2_fraction, "mix_ratio": mix_ratio,
        "random_words": random_words, "vocabulary": vocabulary, "generic_source": generic_source,
        "generic_column": generic_column}, quiet=quiet)


def frequency_cmd(
    build: Path = _BUILD, out: Path = _OUT, seed: int = _SEED, overwrite: bool = _OVERWRITE,
    quiet: bool = _QUIET,
    exponent: Optional[float] = typer.Option(None, help="Zipf exponent s, P(k) proportional to k^-s [default: 1.5]."),
    max_count: Optional[int] = typer.Option(None, help="Largest number of occurrences of a fact [default: 100]."),
) -> None:
    """A frequency-controlled corpus, after Wang et al. (2024), "Generalization v.s. Memorization:
    Tracing Language Models' Capabilities Back to Pretraining Data". Every fact is stated exactly k
    times, k drawn per fact from P(k) ~ k^-s on 1..--max-count, in sentences that vary over its
    templates and connectives. Writes corpus, frequencies (fact, k) and probes (an unseen cloze per
    fact with its k)."""
    _run("frequency", build, out, seed, overwrite, {"exponent": exponent, "max_count": max_count}, quiet=quiet)


def forget_cmd(
    build: Path = _BUILD, out: Path = _OUT, seed: int = _SEED, overwrite: bool = _OVERWRITE,
    quiet: bool = _QUIET,
    percents: Optional[str] = typer.Option(None, help="Forget-set sizes in % of entities, nested [default: 1,5,10]."),
) -> None:
    """Forget/retain splits for unlearning, after TOFU (Maini et al. 2024). The QA of 1%, 5% and 10%
    of the entities (forget01, forget05, forget10; nested, at entity level) and of every other entity
    (retain99, retain95, retain90), plus full and the entities' forget levels."""
    _run("forget", build, out, seed, overwrite, {"percents": _ints("--percents", percents)}, quiet=quiet)


SHORT = {"injection": "Knowledge injection schedules (Chang et al. 2024).",
         "two-stage": "Two-stage vs mixed training (Zhang et al. 2025).",
         "continual": "Continual memorization with REMIX mixing (Chen et al. 2024).",
         "frequency": "Frequency-controlled corpus (Wang et al. 2024).",
         "forget": "Nested forget/retain splits (TOFU-style)."}
COMMANDS = {"injection": injection_cmd, "two-stage": two_stage_cmd, "continual": continual_cmd,
            "frequency": frequency_cmd, "forget": forget_cmd}


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False, rich_markup_mode=None)
    for name, fn in COMMANDS.items():
        sub.command(name, short_help=SHORT[name])(fn)
    app.add_typer(sub, name="regime")
