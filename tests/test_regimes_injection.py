"""The injection regime (Chang et al. 2024) and the helper that merges it into a training stream."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest
from pathlib import Path

from fictional_knowledge.dataset.io import read_rows
from fictional_knowledge.regimes import inject, load_schedule, make_regime, pack
from fictional_knowledge.regimes.merge import InjectionWarning, plan_injections
from fictional_knowledge.regimes.common import RegimeError, Source
from fictional_knowledge.regimes.sentences import all_renderings

STEPS = [0, 5, 10, 15, 20]
TINY = 60
SIZES = [4, 3, 2, 3]
SCEN = ("paraphrase", "duplicate", "once", "control")


@pytest.fixture(scope="module")
def regime(tiny_build, tmp_path_factory):
    out = tmp_path_factory.mktemp("injection") / "r"
    manifest = make_regime("injection", tiny_build, out, seed=0, steps=STEPS, group_sizes=SIZES)
    rows = {c: read_rows_regime(out, c) for c in ("injection", "probes", "background")}
    return out, manifest, rows


REPO = Path(__file__).resolve().parents[1]


def read_rows_regime(folder, config):
    import pyarrow.parquet as pq

    return [r for f in sorted((folder / "data" / config).glob("*.parquet")) for r in pq.read_table(f).to_pylist()]


def test_groups_are_disjoint_and_recorded_with_their_schedule(regime, tiny_build):
    _, manifest, _ = regime
    groups = manifest.notes["groups"]
    assert [len(groups[s]) for s in SCEN] == SIZES
    flat = [p for s in SCEN for p in groups[s]]
    assert len(set(flat)) == len(flat)
    assert manifest.notes["schedule"] == {"paraphrase": STEPS, "duplicate": STEPS, "once": [0], "control": []}
    assert manifest.options["select"] == "stratified"


def test_select_first_keeps_build_order_and_three_sizes_mean_no_control(tiny_build, tmp_path):
    m = make_regime("injection", tiny_build, tmp_path / "f", steps=STEPS, group_sizes=[4, 3, 2], select="first",
                    background=False)
    flat = [p for s in SCEN[:3] for p in m.notes["groups"][s]]
    assert flat == [p["id"] for p in read_rows(tiny_build, "passages")[:9]]
    assert "control" not in m.notes["groups"] and m.options["group_sizes"] == [4, 3, 2, 0]


def test_stratified_selection_gives_every_group_each_entity_type_in_proportion(tiny_build, tmp_path):
    m = make_regime("injection", tiny_build, tmp_path / "s", steps=STEPS, group_sizes=[6, 6, 6, 6], background=False)
    types = m.notes["entity_types"]
    build_types = Counter(e["type"] for e in read_rows(tiny_build, "entities")
                          if e["id"] in {p["entity_id"] for p in read_rows(tiny_build, "passages")})
    for t in build_types:
        counts = [types[s].get(t, 0) for s in SCEN]
        assert max(counts) - min(counts) <= 1, (t, counts)  # dealt evenly across groups
        assert abs(sum(counts) - 24 * build_types[t] / sum(build_types.values())) < 1  # in proportion to the build
    other = make_regime("injection", tiny_build, tmp_path / "s1", seed=1, steps=STEPS, group_sizes=[6, 6, 6, 6],
                        background=False)
    assert other.notes["groups"] != m.notes["groups"]  # the seed draws another sample


def test_every_step_has_the_right_texts(regime, tiny_build):
    _, manifest, rows = regime
    passages = {p["id"]: p for p in read_rows(tiny_build, "passages")}
    by = defaultdict(list)
    for r in rows["injection"]:
        by[(r["scenario"], r["passage_id"])].append(r)
    assert sorted({r["step"] for r in rows["injection"]}) == STEPS
    groups = manifest.notes["groups"]
    for pid in groups["paraphrase"]:
        seen = by[("paraphrase", pid)]
        assert [r["step"] for r in seen] == STEPS
        texts = [r["text"] for r in seen]
        assert texts == [passages[pid]["text"]] + passages[pid]["paraphrases"][:len(STEPS) - 1]
        assert len(set(texts)) == len(STEPS)
    for pid in groups["duplicate"]:
        seen = by[("duplicate", pid)]
        assert [r["step"] for r in seen] == STEPS and {r["text"] for r in seen} == {passages[pid]["text"]}
    for pid in groups["once"]:
        assert [(r["step"], r["text"]) for r in by[("once", pid)]] == [(0, passages[pid]["text"])]
    assert not {r["passage_id"] for r in rows["injection"]} & set(groups["control"])  # never injected
    per_step = Counter(r["step"] for r in rows["injection"])
    assert per_step == {0: sum(SIZES[:3]), **{s: SIZES[0] + SIZES[1] for s in STEPS[1:]}}
    order = [(r["step"], ("paraphrase", "duplicate", "once").index(r["scenario"])) for r in rows["injection"]]
    assert order == sorted(order)


def test_probes_are_those_of_the_injected_passages_with_their_scenario(regime, tiny_build):
    _, manifest, rows = regime
    scenario = {p: s for s, ps in manifest.notes["groups"].items() for p in ps}
    expected = [p for p in read_rows(tiny_build, "probes") if p["passage_id"] in scenario]
    assert len(rows["probes"]) == len(expected) == 15 * sum(SIZES)
    assert {p["scenario"] for p in rows["probes"]} == set(SCEN)
    for got, want in zip(rows["probes"], expected):
        assert got == {**want, "scenario": scenario[want["passage_id"]]}


def test_background_never_states_a_probed_fact(regime, tiny_build):
    _, manifest, rows = regime
    injected = {p for ps in manifest.notes["groups"].values() for p in ps}  # control included
    docs = rows["background"]
    assert {d["passage_id"] for d in docs} == {p["id"] for p in read_rows(tiny_build, "passages")} - injected
    text = "\n".join(d["text"] for d in docs)
    memorization = [p for p in rows["probes"] if p["kind"] == "memorization"]
    assert memorization and not any(f"{p['input']} {p['target']}" in text for p in memorization)
    source = Source(tiny_build)
    probed = {f for p in rows["probes"] for f in p["fact_ids"]}
    for fid in probed:
        assert not any(s in text for s in all_renderings(source.world_facts[fid], source.templates)), fid
    assert sum(d["removed_sentences"] for d in docs) == manifest.notes["background"]["removed_sentences"] > 0


def test_paraphrase_scenario_needs_enough_paraphrases(tiny_build, tmp_path):
    with pytest.raises(RegimeError, match="needs 10 paraphrases"):
        make_regime("injection", tiny_build, tmp_path / "x", steps=list(range(11)), group_sizes=[1, 1, 1])
    make_regime("injection", tiny_build, tmp_path / "y", steps=list(range(11)), group_sizes=[0, 2, 2, 1], background=False)
    assert not (tmp_path / "y" / "data" / "background").exists()


class WordTokenizer:
    """Word-level stand-in for a Hugging Face tokenizer: ids are word numbers from 10 up."""

    eos_token_id = 1

    def __init__(self):
        self.vocab: dict[str, int] = {}

    def __call__(self, text, add_special_tokens=True):
        return {"input_ids": [self.vocab.setdefault(w, 10 + len(self.vocab)) for w in text.split()]}


def test_inject_prepends_at_the_right_steps_and_says_what_each_batch_holds():
    tok = WordTokenizer()
    blocks = [[1000 + 8 * i + j for j in range(8)] for i in range(12)]  # pre-tokenized rows of seq_len 8
    schedule = {1: ["a b c", "d e f g h i j"], 3: ["x"]}
    batches = list(inject(blocks, schedule, batch_size=3, seq_len=8, tokenizer=tok))
    assert [b["step"] for b in batches] == [0, 1, 2, 3]
    assert [b["injected"] for b in batches] == [0, 2, 0, 1]
    original = [blocks[3 * s:3 * s + 3] for s in range(4)]
    a, d, x = (tok("a b c")["input_ids"], tok("d e f g h i j")["input_ids"], tok("x")["input_ids"])
    assert batches[0]["input_ids"] == original[0] and batches[2]["input_ids"] == original[2]
    assert batches[1]["input_ids"][0] == (a + [1] + original[1][0])[:8]  # injected + EOS, then the row shifted
    assert batches[1]["input_ids"][1] == d + [1]  # exactly seq_len with EOS: kept whole
    assert batches[1]["input_ids"][2] == original[1][2]
    assert batches[3]["input_ids"][0] == x + [1] + original[3][0][:6]
    assert all(len(row) == 8 for b in batches for row in b["input_ids"])
    assert [(p["scheduled_step"], p["step"], p["row"], p["tokens"], p["cut"]) for p in batches[1]["passages"]] == [
        (1, 1, 0, 4, 0), (1, 1, 1, 8, 0)]
    assert batches[0]["passages"] == [] and all(b["cut_tokens"] == 0 for b in batches)


def test_inject_refuses_a_text_longer_than_a_row_unless_told_to_cut():
    tok = WordTokenizer()
    with pytest.raises(ValueError, match="9 tokens with EOS, more than seq_len 8"):
        inject([[0] * 8] * 3, {0: ["d e f g h i j k"]}, batch_size=1, seq_len=8, tokenizer=tok)
    with pytest.warns(InjectionWarning, match="1 of 9 injected tokens are cut; 0 of 1 texts"):
        (batch,) = inject([[0] * 8], {0: ["d e f g h i j k"]}, batch_size=1, seq_len=8, tokenizer=tok,
                          overflow="concat")
    assert batch["cut_tokens"] == 1 and batch["passages"][0]["cut"] == 1


def test_inject_spreads_texts_that_outnumber_the_rows_over_the_next_steps():
    tok = WordTokenizer()
    texts = [f"t{i}" for i in range(5)]
    schedule = [{"step": 0, "text": t, "passage_id": f"p{i}", "variant": 0, "scenario": "once"} for i, t in enumerate(texts)]
    schedule.append({"step": 2, "text": "late", "passage_id": "q", "variant": 3, "scenario": "paraphrase"})
    batches = list(inject([[0] * 4] * 10, schedule, batch_size=2, seq_len=4, tokenizer=tok))
    where = {p["passage_id"]: (p["scheduled_step"], p["step"], p["row"]) for b in batches for p in b["passages"]}
    # the queue: p0 p1 at step 0, p2 p3 at 1, p4 and then q (scheduled for 2) at 2
    assert where == {"p0": (0, 0, 0), "p1": (0, 0, 1), "p2": (0, 1, 0), "p3": (0, 1, 1), "p4": (0, 2, 0), "q": (2, 2, 1)}
    for b in batches:
        for p in b["passages"]:
            ids = tok("late" if p["passage_id"] == "q" else texts[int(p["passage_id"][1:])])["input_ids"] + [1]
            assert b["input_ids"][p["row"]][:len(ids)] == ids
    assert [b["passages"][-1]["variant"] for b in batches[2:3]] == [3]
    _, order = plan_injections(schedule, 2, 4, tok)
    assert [(p.item.passage_id, p.step) for p in order] == [("p0", 0), ("p1", 0), ("p2", 1), ("p3", 1), ("p4", 2), ("q", 2)]


def test_inject_refuses_or_concatenates_and_counts_on_request():
    tok = WordTokenizer()
    texts = [f"t{i}" for i in range(5)]
    with pytest.raises(ValueError, match="step 0 injects 5 texts into a batch of 2 rows"):
        inject([[0] * 16] * 2, {0: texts}, batch_size=2, seq_len=16, tokenizer=tok, overflow="refuse")
    (batch,) = inject([[0] * 16] * 2, {0: texts}, batch_size=2, seq_len=16, tokenizer=tok, overflow="concat")
    ids = [tok(t)["input_ids"][0] for t in texts]
    assert batch["injected"] == 2
    assert batch["input_ids"][0][:7] == [ids[0], 1, ids[1], 1, ids[2], 1, 0]
    assert batch["input_ids"][1][:5] == [ids[3], 1, ids[4], 1, 0]
    assert [p["row"] for p in batch["passages"]] == [0, 0, 0, 1, 1] and batch["cut_tokens"] == 0
    with pytest.warns(InjectionWarning, match="1 of 10 injected tokens are cut; 4 of 5 texts"):
        (batch,) = inject([[0] * 5] * 2, {0: texts}, batch_size=2, seq_len=5, tokenizer=tok, overflow="concat")
    assert batch["input_ids"][0] == [ids[0], 1, ids[1], 1, ids[2]] and batch["cut_tokens"] == 1
    with pytest.raises(ValueError, match="overflow must be one of"):
        inject([], {0: texts}, batch_size=2, seq_len=5, tokenizer=tok, overflow="cut")


def test_inject_packs_text_streams_and_reads_a_regime_folder(regime):
    folder, manifest, rows = regime
    tok = WordTokenizer()
    plan = load_schedule(folder)
    assert list(plan) == STEPS and len(plan[0]) == sum(SIZES[:3])
    background = [{"text": d["text"]} for d in rows["background"]] * 6
    with pytest.warns(InjectionWarning, match="repeats"):
        batches = list(inject(background, folder, batch_size=12, seq_len=512, tokenizer=tok, max_steps=21, repeat=True))
    assert len(batches) == 21
    for b in batches:
        texts = plan.get(b["step"], [])
        assert b["injected"] == len(texts)
        for text, row in zip(texts, b["input_ids"]):
            assert row[:len(text.split()) + 1] == tok(text)["input_ids"] + [1]
    packed = list(pack(["a b", "c"], 2, tok))
    assert packed == [[tok("a")["input_ids"][0], tok("b")["input_ids"][0]], [1, tok("c")["input_ids"][0]]]


def test_inject_stops_an_endless_stream_at_max_steps_and_checks_the_schedule_first():
    import itertools

    batches = list(inject(itertools.repeat([5, 6, 7]), {0: ["a"], 3: ["b"]}, batch_size=2, seq_len=3,
                          tokenizer=WordTokenizer(), max_steps=4))
    assert [b["step"] for b in batches] == [0, 1, 2, 3] and [b["injected"] for b in batches] == [1, 0, 0, 1]
    consumed = []

    def stream():
        while True:
            consumed.append(1)
            yield [5, 6, 7]

    with pytest.raises(ValueError, match="injects at step 3 .* beyond max_steps=3"):
        inject(stream(), {0: ["a"], 3: ["b"]}, batch_size=2, seq_len=3, tokenizer=WordTokenizer(), max_steps=3)
    with pytest.raises(ValueError, match="injects at step 2 .*spread.* beyond max_steps=2"):  # after spreading
        inject(stream(), {0: ["a", "b", "c", "d", "e"]}, batch_size=2, seq_len=3, tokenizer=WordTokenizer(), max_steps=2)
    assert consumed == []  # failed before the first batch


def test_inject_repeat_cycles_the_background_and_warns_once():
    with pytest.warns(InjectionWarning, match="repeats from step 2 on: one pass is about 12 tokens of 30 planned"):
        batches = list(inject([[1, 2, 3]] * 4, {0: ["a"]}, batch_size=2, seq_len=3, tokenizer=WordTokenizer(),
                              max_steps=5, repeat=True))
    assert [b["epoch"] for b in batches] == [0, 0, 1, 1, 2]


def test_inject_refuses_a_short_stream_and_text_without_tokenizer():
    with pytest.raises(ValueError, match="before scheduled step 5"):
        list(inject([[0, 0]] * 4, {0: ["a"], 5: ["b"]}, batch_size=2, seq_len=2, tokenizer=WordTokenizer()))
    with pytest.raises(ValueError, match="tokenizer"):
        list(inject(["some text"], {0: ["a"]}, batch_size=1, seq_len=2))


def test_inject_with_a_real_tokenizer_and_hf_datasets(regime):
    import datasets
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    folder, _, rows = regime
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.train_from_iterator([d["text"] for d in rows["background"]], trainer=trainers.BpeTrainer(
        vocab_size=2000, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>")
    stream = datasets.load_dataset(str(folder), "background", split="train").to_iterable_dataset()
    schedule = datasets.load_dataset(str(folder), "injection", split="train")
    # strict=False: the background ends before the schedule does, and inject stops there
    batches = list(inject(stream, schedule, batch_size=3, seq_len=1024, tokenizer=tok, strict=False))
    first = schedule[0]["text"]
    expected = tok(first, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    assert [b["injected"] for b in batches[:3]] == [3, 3, 3]  # 9 texts spread over 3 batches of 3 rows
    injected = [p["passage_id"] for b in batches for p in b["passages"]]
    assert injected[:9] == schedule["passage_id"][:9]
    assert 9 <= len(injected) < len(schedule) and injected == schedule["passage_id"][:len(injected)]
    assert len(injected) == sum(b["injected"] for b in batches)
    assert batches[0]["input_ids"][0][:len(expected)] == expected


def test_background_from_world_entities_disjoint_from_the_build(tiny_build, tmp_path):
    from fictional_knowledge.regimes.injection import background_start

    m = make_regime("injection", tiny_build, tmp_path / "w", steps=STEPS, group_sizes=SIZES, background_entities=30)
    bg = m.notes["background"]
    assert bg["source"] == "world" and bg["first_position"] == background_start(TINY) and bg["docs"] + bg["skipped_overlapping"] == 30
    docs = read_rows_regime(tmp_path / "w", "background")
    build_entities = {e["id"]: e["name"] for e in read_rows(tiny_build, "entities")}
    assert not {d["entity_id"] for d in docs} & set(build_entities)
    text = "\n".join(d["text"] for d in docs)
    probes = read_rows_regime(tmp_path / "w", "probes")
    probed_names = {build_entities[p["entity_id"]] for p in probes}
    assert not [n for n in probed_names if n in text]  # no probed entity is even named
    assert bg["words"] == sum(len(d["text"].split()) for d in docs)
    with pytest.raises(Exception, match="needs --background build"):
        make_regime("injection", tiny_build, tmp_path / "x", background="none", background_entities=3)


def test_background_from_a_user_corpus_file_or_folder(tiny_build, tmp_path):
    import json

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"body": t}) + "\n" for t in ["first doc.", "", "second doc."]))
    m = make_regime("injection", tiny_build, tmp_path / "c", steps=STEPS, group_sizes=SIZES, background=str(corpus),
                    background_column="body")
    assert m.notes["background"] == {"source": "corpus", "corpus": str(corpus), "column": "body", "rows": 3,
                                     "empty_rows_left_out": 1, "docs": 2, "words": 4, "characters": 21}
    assert [d["text"] for d in read_rows_regime(tmp_path / "c", "background")] == ["first doc.", "second doc."]
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "train.jsonl").write_text(json.dumps({"text": "from a folder"}) + "\n")
    m = make_regime("injection", tiny_build, tmp_path / "d", steps=STEPS, group_sizes=SIZES, background=str(folder))
    assert m.notes["background"]["docs"] == 1
    with pytest.raises(RegimeError, match="has no column 'text'"):
        make_regime("injection", tiny_build, tmp_path / "e", steps=STEPS, group_sizes=SIZES, background=str(corpus))


def test_the_readme_example_now_trains_every_injected_token(tiny_build, tmp_path):
    """README: the paper's schedule (steps 0..900) into batches of 8 rows of 1,024 tokens (GPT-2's context). The
    released trainer's path (concat) cuts most of it; the default spreads it and trains it all."""
    import itertools
    import warnings

    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    folder = tmp_path / "readme"
    make_regime("injection", tiny_build, folder, group_sizes=[14, 14, 14, 14], background=False)  # default steps
    schedule = read_rows_regime(folder, "injection")
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.train_from_iterator([p["text"] for p in read_rows(tiny_build, "passages")], trainer=trainers.BpeTrainer(
        vocab_size=4000, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>")
    encoded = [tok(r["text"], add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for r in schedule]
    total = sum(map(len, encoded))
    background = itertools.repeat([0] * 1024)  # pre-tokenized background rows
    assert max(map(len, encoded)) <= 1024  # every passage fits a row (a longer one is refused: see above)
    trained = 0
    seen = Counter()
    for batch in inject(background, folder, batch_size=8, seq_len=1024, tokenizer=tok, max_steps=1000):
        for p in batch["passages"]:
            ids = encoded[next(i for i, r in enumerate(schedule) if r["passage_id"] == p["passage_id"]
                               and r["step"] == p["scheduled_step"])]
            assert batch["input_ids"][p["row"]][:len(ids)] == ids and p["cut"] == 0
            assert 0 <= p["step"] - p["scheduled_step"] < 100
            trained += len(ids)
            seen[(p["passage_id"], p["scheduled_step"])] += 1
    assert trained == total and len(seen) == len(schedule) and set(seen.values()) == {1}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cut = sum(b["cut_tokens"] for b in inject(background, folder, batch_size=8, seq_len=1024, tokenizer=tok,
                                                    max_steps=1000, overflow="concat"))
    assert "injected tokens are cut" in str(caught[0].message)  # the old behaviour, now reported
    share = round(100 * cut / total)
    assert share > 0 and f"cuts {share}% of the injected tokens" in (REPO / "docs" / "regimes.md").read_text()


def test_quiet_hides_the_background_progress_bar_and_keeps_the_data(tiny_build, tmp_path, monkeypatch):
    """``fkgen regime injection --quiet`` (``make_regime(progress=False)``) asks for no progress bar
    over the world background; the data is the same as without it, and every regime takes --quiet."""
    from typer.testing import CliRunner

    from fictional_knowledge.cli import app
    from fictional_knowledge.cli.regime import COMMANDS
    from fictional_knowledge.regimes import injection

    assert injection._progress(range(5000), "x", enabled=False) == range(5000)  # no bar, the items themselves
    asked = []
    real = injection._progress
    monkeypatch.setattr(injection, "_progress",
                        lambda items, description, enabled=True: asked.append(enabled) or real(items, description, enabled))
    args = ["regime", "injection", str(tiny_build), "--steps", "0,5,10,15,20", "--group-sizes", "4,3,2,3",
            "--background-entities", "30"]
    runner = CliRunner()
    loud = runner.invoke(app, args + ["--out", str(tmp_path / "loud")])
    quiet = runner.invoke(app, args + ["--out", str(tmp_path / "quiet"), "-q"])
    assert loud.exit_code == 0 and quiet.exit_code == 0, (loud.output, quiet.output)
    assert asked == [True, False]
    # the summary (rows and fingerprints per config) still goes to stdout, and is the same
    assert loud.output.splitlines()[1:] == quiet.output.splitlines()[1:] and len(quiet.output.splitlines()) > 3
    for name in COMMANDS:
        assert "--quiet" in runner.invoke(app, ["regime", name, "--help"], terminal_width=200).output, name
