"""Continual memorization of factoids and REMIX (Chen et al. 2024, "Continual Memorization of
Factoids in Language Models", princeton-nlp/continual-factoid-memorization).

Entities are split (seeded) into stage-1 entities (default half), stage-2 entities (a quarter) and
background entities (the rest). A model memorises the stage-1 factoids (QA), is then trained on a
stage-2 set, and is tested on the stage-1 QA again (retention, exact match):

- ``stage1`` (split ``train``): QA examples of the stage-1 entities;
- ``stage2_factoid`` (``train``): QA examples of the stage-2 entities (a second, disjoint set);
- ``stage2_nonfactoid`` (``train``): the background entities' passages as plain text, without
  any sentence that states a stage-1 fact (so stage 2 never replays stage 1);
- ``mix_random`` / ``mix_generic`` (splits ``stage1``, ``stage2_factoid``, ``stage2_nonfactoid``):
  REMIX mixing data for each training set, ``int(len(set) * mix_ratio)`` examples (the released
  code's ``mix_num_datapoints = int(len(datapoints) * ratio)``). Both use the released code's
  generic-data format: prompt ``"Complete the following partial passage:\\n\\n"`` + the first half
  of a word window, completion the second half. Random windows draw ``random_words`` words
  uniformly from the vocabulary (the released code does not include its random-word file, so its
  format is an assumption); generic windows are consecutive ``random_words``-word windows of the
  background entities' paraphrases (stage-1 facts removed) or of a user-supplied corpus, repeated
  in a new seeded order when there are fewer windows than needed (``notes.generic``);
- ``test`` (splits ``retention`` = stage-1 QA, ``stage2_factoid`` = stage-2 QA), ``entities``.
"""

from __future__ import annotations

import pickle
from array import array
from itertools import islice
from pathlib import Path
from typing import Optional

from fictional_knowledge.generate.seeding import item_rng, make_id
from fictional_knowledge.regimes.common import (Example, RegimeError, Source, fraction_count, qa_example, qa_item, read_frames,
                                                seeded_order, seeded_stream)
from fictional_knowledge.regimes.options import ContinualOptions
from fictional_knowledge.regimes.sentences import PassageParser

GENERIC_PROMPT = "Complete the following partial passage:\n\n"
SUMMARY = ("Continual memorization after Chen et al. (2024): memorise the stage-1 factoids (`stage1`), "
           "train on a stage-2 set (`stage2_factoid` or `stage2_nonfactoid`), and measure how much of stage 1 "
           "is retained (`test/retention`). REMIX mixes random word sequences (`mix_random`) or generic text "
           "(`mix_generic`) into a stage, `mix_ratio` mixing examples per example of that stage.")
DESCRIPTIONS = {
    "stage1": "a QA training example of a stage-1 entity",
    "stage2_factoid": "a QA training example of a stage-2 entity",
    "stage2_nonfactoid": "a background passage as text, with every stage-1 fact removed",
    "mix_random": "a REMIX random-word example for the training set named by the split",
    "mix_generic": "a REMIX generic-text example for the training set named by the split",
    "test": "a QA test row: retention = stage-1 QA, stage2_factoid = stage-2 QA",
    "entities": "an entity and its role: stage1, stage2 or background",
}
TRAIN_SETS = ("stage1", "stage2_factoid", "stage2_nonfactoid")


def describe(opts) -> dict[str, str]:
    """What one row of each config is (for the README)."""
    return DESCRIPTIONS


def _window_example(kind: str, words: list[str], key: str, seed: int) -> Example:
    half = len(words) // 2
    prompt, completion = GENERIC_PROMPT + " ".join(words[:half]), " " + " ".join(words[half:])
    return Example(id=make_id(kind, seed, key, prompt, completion), kind=kind, prompt=prompt,
                   completion=completion, text=prompt + completion)


def random_examples(seed: int, split: str, n: int, length: int, vocab: tuple[str, ...]) -> list[Example]:
    """``n`` random word windows for ``split``, each from its own seeded RNG."""
    out = []
    for i in range(n):
        rng = item_rng(seed, f"continual:random:{split}", i)
        out.append(_window_example("random_words", [vocab[rng.randrange(len(vocab))] for _ in range(length)],
                                   f"{split}:{i}", seed))
    return out


def windows(docs: list[str], length: int) -> list[list[str]]:
    """Consecutive, non-overlapping ``length``-word windows of every document."""
    out = []
    for doc in docs:
        words = doc.split()
        out.extend(words[i:i + length] for i in range(0, len(words) - length + 1, length))
    return out


def generic_examples(seed: int, split: str, n: int, pool: list[list[str]]) -> tuple[list[Example], int]:
    """``n`` generic windows for ``split``: the pool in a seeded order, again in a new order as
    often as needed; also the number of passes over the pool."""
    out, rounds = [], 0
    while len(out) < n:
        order = seeded_order(seed, f"continual:generic:{split}:{rounds}", range(len(pool)))
        out.extend(_window_example("generic", pool[i], f"{split}:{rounds}:{i}", seed) for i in order[:n - len(out)])
        rounds += 1
    return out, rounds


def load_vocabulary(path: Optional[str]) -> tuple[str, ...]:
    if path is None:
        from fictional_knowledge.generate.vocab import ENGLISH_WORDS

        return ENGLISH_WORDS
    try:
        words = tuple(w for w in Path(path).read_text().split() if w)
    except OSError as exc:
        raise RegimeError(f"cannot read --vocabulary {path}: {exc.strerror}") from None
    if len(words) < 2:
        raise RegimeError(f"--vocabulary {path} has fewer than 2 words")
    return words


def load_generic(source: str, column: str) -> list[str]:
    """Documents of a user-supplied generic corpus."""
    path = Path(source)
    if path.suffix == ".txt":
        try:
            return [line.strip() for line in path.read_text().splitlines() if line.strip()]
        except OSError as exc:
            raise RegimeError(f"cannot read --generic-source {source}: {exc.strerror}") from None
    import datasets

    try:
        ds = datasets.load_dataset(source, split="train")
    except Exception as exc:  # datasets raises many types for a bad path or name
        raise RegimeError(f"cannot load --generic-source {source}: {str(exc).splitlines()[0]}") from None
    if column not in ds.column_names:
        raise RegimeError(f"--generic-source {source} has no column {column!r} (columns: {', '.join(ds.column_names)})")
    return [t for t in ds[column] if isinstance(t, str) and t.strip()]


def _spill(folder: Path, name: str, items) -> tuple[Path, int]:
    """Pickle ``items`` to ``folder/name`` in frames of 1,000; also their count."""
    path, n, frame = folder / name, 0, []
    with path.open("wb") as fh:
        for item in items:
            frame.append(item)
            n += 1
            if len(frame) == 1000:
                pickle.dump(frame, fh, protocol=pickle.HIGHEST_PROTOCOL)
                frame = []
        if frame:
            pickle.dump(frame, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return path, n


def make(source: Source, opts: ContinualOptions, seed: int):
    """``(configs, notes)``. The background passages are parsed once, streamed, and their
    non-factoid examples and paraphrases spilled to a temporary folder; every split then streams
    (QA from the build in entity order, generic windows through :func:`seeded_stream`)."""
    import tempfile

    ids = source.entity_ids
    n1 = fraction_count(len(ids), opts.stage1_fraction, "stage-1 fraction")
    n2 = fraction_count(len(ids), opts.stage2_fraction, "stage-2 fraction")
    if n1 + n2 >= len(ids):
        raise RegimeError(f"continual: {n1} + {n2} entities leave no background entity of {len(ids)}")
    order = seeded_order(seed, "continual:split", ids)
    role = {e: "stage1" for e in order[:n1]} | {e: "stage2" for e in order[n1:n1 + n2]}
    del order
    counts = {r: 0 for r in ("stage1", "stage2", "background")}
    for e in ids:
        counts[role.get(e, "background")] += 1
    world = source.world_facts

    def stage1_of(parsed) -> set[str]:
        return {f for f in parsed.fact_ids if role.get(world[f].subject.id) == "stage1"}

    parser = PassageParser(world, source.facts_by_entity, source.templates, source.manifest.config)
    spill = tempfile.TemporaryDirectory(prefix="fk-continual-")
    folder = Path(spill.name)
    n_paraphrases, n_windows = 0, 0

    def background():
        nonlocal n_paraphrases
        for p in source.stream("passages"):
            if role.get(p["entity_id"], "background") != "background":
                continue
            main, paras = parser.parse_passage(p)
            text = main.text(stage1_of(main))[0]
            if text:
                yield Example(id=make_id("example", source.seed, "passage", p["id"], text), kind="passage",
                              entity_id=p["entity_id"], prompt="", completion=text, text=text)
            for q in paras:
                n_paraphrases += 1
                paraphrase_file.write(q.text(stage1_of(q))[0])

    class _Frames:  # the background paraphrases, spilled as they are parsed
        def __init__(self, path: Path):
            self.path, self.frame, self.fh = path, [], path.open("wb")

        def write(self, item) -> None:
            self.frame.append(item)
            if len(self.frame) == 1000:
                pickle.dump(self.frame, self.fh, protocol=pickle.HIGHEST_PROTOCOL)
                self.frame = []

        def close(self) -> None:
            if self.frame:
                pickle.dump(self.frame, self.fh, protocol=pickle.HIGHEST_PROTOCOL)
            self.fh.close()

    paraphrase_file = _Frames(folder / "paraphrases.pickle")
    nonfactoid_path, n_nonfactoid = _spill(folder, "nonfactoid.pickle", background())
    paraphrase_file.close()
    if not n_nonfactoid:
        raise RegimeError("continual: no background passage is left for the non-factoid set; lower the fractions")

    qa_counts = {"stage1": 0, "stage2": 0}
    for r in source.stream("qa", ["entity_id"]):
        member = role.get(r["entity_id"])
        if member:
            qa_counts[member] += 1

    def qa_of(member: str, item):
        def rows():
            for e, group in source.by_entity("qa"):
                if role.get(e) == member:
                    yield from (item(r) for r in group)
        return rows

    sizes = {"stage1": qa_counts["stage1"], "stage2_factoid": qa_counts["stage2"], "stage2_nonfactoid": n_nonfactoid}
    sets = {
        "stage1": qa_of("stage1", lambda r: qa_example(r, source.seed)),
        "stage2_factoid": qa_of("stage2", lambda r: qa_example(r, source.seed)),
        "stage2_nonfactoid": lambda: read_frames(nonfactoid_path),
    }
    configs: dict = {name: {"train": rows} for name, rows in sets.items()}
    notes: dict = {"entities": counts}
    passes: dict[str, int] = {}
    if opts.mix_ratio > 0:
        vocab = load_vocabulary(opts.vocabulary)
        if opts.generic_source:
            docs = load_generic(opts.generic_source, opts.generic_column)
            n_docs = len(docs)

            def doc_stream():
                return iter(docs)
        else:
            n_docs = n_paraphrases

            def doc_stream():
                return read_frames(paraphrase_file.path)

        # every window of the pool, spilled as text with an offset per window (8 bytes a window
        # in memory), so a seeded order of window numbers can fetch each window
        window_file, offsets = folder / "windows.txt", array("Q", [0])
        with window_file.open("wb") as fh:
            for doc in doc_stream():
                for words in windows([doc], opts.random_words):
                    data = " ".join(words).encode()
                    fh.write(data)
                    offsets.append(offsets[-1] + len(data))
        n_windows = len(offsets) - 1
        if not n_windows:
            raise RegimeError(f"continual: no generic document has {opts.random_words} words; lower --random-words")

        def generic(name: str, n: int):
            def rows():
                made, rounds = 0, 0
                with window_file.open("rb") as fh:
                    while made < n:
                        stage = f"continual:generic:{name}:{rounds}"
                        for i in islice(seeded_stream(seed, stage, range(n_windows)), n - made):
                            made += 1
                            fh.seek(offsets[i])
                            words = fh.read(offsets[i + 1] - offsets[i]).decode().split(" ")
                            yield _window_example("generic", words, f"{name}:{rounds}:{i}", seed)
                        rounds += 1
                passes[name] = rounds
            return rows

        configs["mix_random"], configs["mix_generic"] = {}, {}
        for name in TRAIN_SETS:
            n = int(sizes[name] * opts.mix_ratio)
            if n == 0:
                continue
            configs["mix_random"][name] = lambda name=name, n=n: random_stream(seed, name, n, opts.random_words, vocab)
            configs["mix_generic"][name] = generic(name, n)
            passes[name] = 0
        if not configs["mix_random"]:
            del configs["mix_random"], configs["mix_generic"]
        notes["generic"] = {"documents": n_docs, "windows": n_windows, "passes": passes}
    configs["test"] = {"retention": qa_of("stage1", qa_item), "stage2_factoid": qa_of("stage2", qa_item)}
    configs["entities"] = {"train": lambda: source.role_rows(lambda e: role.get(e, "background"))}

    def final_notes() -> dict:
        spill.cleanup()
        return notes
    return configs, final_notes


def random_stream(seed: int, split: str, n: int, length: int, vocab: tuple[str, ...]):
    """:func:`random_examples`, one at a time."""
    for i in range(n):
        rng = item_rng(seed, f"continual:random:{split}", i)
        yield _window_example("random_words", [vocab[rng.randrange(len(vocab))] for _ in range(length)],
                              f"{split}:{i}", seed)
