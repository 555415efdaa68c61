"""The prose style's sentence planner (issue 11, item 1): what every sentence states, how it
refers to its subject, and the load-time rules of its templates."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from fictional_knowledge.generate import planner
from fictional_knowledge.generate.seeding import item_rng
from fictional_knowledge.generate.templates import TemplateError, load_file, load_templates
from fictional_knowledge.generate.world import BLOCK, entity_at, pronoun_of
from fictional_knowledge.resources import templates_dir

POSITIONS = range(0, 4 * BLOCK)


def _written(position: int, need: int = 3):
    templates = load_templates()
    e = entity_at(0, position)
    rng = item_rng(0, "passage", e.id)
    content = planner.plan_content(0, e, templates, rng)
    sentences, used = planner.write_passage(0, content, templates, rng, need)
    paraphrases = [planner.join(p) for p in planner.paraphrase_sentences(0, content, templates, item_rng(0, "paraphrases", e.id), used, 3)]
    return e, content, sentences, paraphrases


def _value_in(f, text: str, focal) -> bool:
    """A fact is stated in a sentence by its value, or (a role fact, seen from its object, the
    focal entity) by its subject's reference."""
    if f.object_position == focal.position:
        return f.subject.ref in text or f.subject.name in text
    return f.object in text


@pytest.mark.parametrize("position", POSITIONS)
def test_every_sentence_states_the_facts_it_records(position):
    e, content, sentences, paraphrases = _written(position)
    stated = [f for para in sentences for s in para for f in s.facts]
    assert sorted(f.id for f in stated) == sorted(f.id for f in content.facts)  # each fact once, all of them
    for para in sentences:
        for s in para:
            assert s.facts and all(_value_in(f, s.text, e) for f in s.facts), s
            if s.fact is not None:  # the cloze target ends the sentence
                assert s.text.endswith(f" {s.fact.object}.") and s.fact in s.facts
    for text in paraphrases:
        assert all(_value_in(f, text, e) for f in content.facts)


@pytest.mark.parametrize("position", POSITIONS)
def test_references_and_openings(position):
    e, content, sentences, paraphrases = _written(position)
    first = sentences[0][0].text
    assert first.startswith(e.ref[:1].upper() + e.ref[1:]) or f", {e.ref}" in first.split(".")[0]  # name first
    own = pronoun_of(0, position) if e.type == "person" else "it"
    for text in [planner.join(sentences)] + paraphrases:
        words = re.findall(r"\b(he|she|they|it)\b", text.lower())
        assert set(words) <= {own}, (own, text)
        assert not re.search(r"\b[Tt]hey (was|is|has)\b", text)  # agreement
        sents = [s for para in text.split("\n\n") for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", para)]
        openings = [s.split()[:2] for s in sents]
        assert all(a != b for a, b in zip(openings, openings[1:])), text
        assert not re.search(r"\bThe the\b|,,|\s,|\.\.", text)


def test_paragraphs_follow_the_topics_and_roles_get_their_own():
    templates = load_templates()
    person = next(p for p in POSITIONS if entity_at(0, p).type == "person" and planner.role_facts(0, entity_at(0, p)))
    e, content, sentences, _ = _written(person)
    roles = [f for para in content.paragraphs for u in para for f in planner._unit(u) if f.object_position == person]
    assert roles and len(sentences) == len(content.paragraphs) >= 2
    topic_order = [r for _, rels in templates["person"].topics for r in rels]
    own = [f.relation for para in content.paragraphs for u in para for f in planner._unit(u) if f.subject.position == person]
    assert own == [r for r in topic_order if r in own]


def test_paraphrases_re_plan_the_sentences():
    for position in POSITIONS:
        e, content, sentences, paraphrases = _written(position)
        original = {s.text for para in sentences for s in para}
        for text in paraphrases:
            assert text != planner.join(sentences)
            shared = [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", text.replace("\n\n", " ")) if s in original]
            assert len(shared) < len(original)


def test_enough_sentences_end_with_a_named_probe_able_fact():
    for position in POSITIONS:
        e, content, sentences, _ = _written(position, need=3)
        probe_able = [s for para in sentences for s in para
                      if s.fact is not None and s.named and s.fact.subject.position == position
                      and s.fact.relation not in load_templates()[e.type].context]
        assert len(probe_able) >= min(3, sum(1 for f in content.facts if f.subject.position == position
                                              and f.relation not in load_templates()[e.type].context
                                              and (e.type, f.relation) not in planner.ROLE_SET))


def _edited(tmp_path: Path, name: str, old: str, new: str) -> Path:
    folder = tmp_path / "templates"
    shutil.copytree(templates_dir(), folder)
    path = folder / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return folder


def test_an_ambiguous_clause_is_refused_on_load(tmp_path):
    # "was born in the city of" for the year would read the same as born_in's clause up to its value
    folder = _edited(tmp_path, "person.yaml", '"was born in the year {{ object }}"', '"was born in {{ object }}"')
    with pytest.raises(TemplateError, match="'was born in' is ambiguous"):
        load_templates(folder)


def test_a_clause_repeating_a_semantic_sentence_is_refused(tmp_path):
    folder = _edited(tmp_path, "person.yaml", '"received the {{ object }}"', '"was honoured with the {{ object }}"')
    with pytest.raises(TemplateError, match="repeats a semantic sentence"):
        load_templates(folder)


@pytest.mark.parametrize("old, new, message", [
    ('"worked as {{ object | a_an }}"', '"worked as {{ object }} daily"', "must end with"),
    ('"worked as {{ object | a_an }}"', '"{{ subject }} worked as {{ object }}"', "no other slot"),
    ("context: [born_in, ", "context: [nickname, born_in, ", "context: 'nickname'"),
    ('"worked as {{ object | a_an }}"', '"(worked|served as {{ their }}) as {{ object | a_an }}"', "unexpanded"),
])
def test_malformed_prose_templates_are_refused(tmp_path, old, new, message):
    folder = _edited(tmp_path, "person.yaml", old, new)
    with pytest.raises(TemplateError, match=message):
        load_file(folder / "person.yaml")


def test_role_relations_need_inverse_clauses(tmp_path):
    text = (templates_dir() / "organization.yaml").read_text()
    start = text.index("    inverse:", text.index("  founded_by:"))
    end = text.index("\n  ", start + 14)
    while text[end + 3] == " ":  # skip the list items
        end = text.index("\n  ", end + 1)
    folder = _edited(tmp_path, "organization.yaml", text[start:end + 1], "")
    with pytest.raises(TemplateError, match="founded_by.inverse: needed exactly for the role relations"):
        load_file(folder / "organization.yaml")


def test_a_time_connective_fits_the_gap_it_bridges():
    """"A few years later" follows a sentence whose year lies at most SOON_YEARS before, "Many
    years later" one further back, "Decades afterwards" one at least DECADES_YEARS back; the
    readings of ``LATER`` may bridge any gap. Each kind is seen."""
    soon = set(planner.LATER_SOON) - set(planner.LATER)
    many = set(planner.LATER_LONG) - set(planner.LATER)
    decades = set(planner.LATER_DECADES) - set(planner.LATER_LONG)
    assert soon and many and decades and not soon & (many | decades)
    seen = {"soon": 0, "many": 0, "decades": 0}
    for position in range(0, 12 * BLOCK):
        _, content, sentences, _ = _written(position)
        in_relative_clauses = {id(g) for g in content.context.values()}  # not what the sentence is about
        prev_year = None
        for para in sentences:
            for s in para:
                years = planner._years([f for f in s.facts if id(f) not in in_relative_clauses])
                head = s.text.split(",", 1)[0] + ","
                gap = years[0] - prev_year if years and prev_year is not None else None
                for kind, readings, ok in (("soon", soon, lambda g: 0 < g <= planner.SOON_YEARS),
                                           ("many", many, lambda g: g > planner.SOON_YEARS),
                                           ("decades", decades, lambda g: g >= planner.DECADES_YEARS)):
                    if head in readings:
                        assert gap is not None and ok(gap), (gap, s.text)
                        seen[kind] += 1
                prev_year = years[-1] if years else None
    assert all(seen.values()), seen


def test_they_agrees_with_every_coordinated_verb():
    """A person referred to as "they" takes "were"/"are"/"have" in every clause of the sentence,
    not only the first ("they held a position ... and was given" was written before 0.5.0)."""
    checked = 0
    for position in range(0, 12 * BLOCK):
        e, _, sentences, _ = _written(position)
        if e.type != "person" or pronoun_of(0, e.position) != "they":
            continue
        for para in sentences:
            for s in para:
                if s.text.startswith("They ") or re.match(r"^[A-Z][^,]*, they ", s.text):
                    checked += 1
                    assert not re.search(r"(,| and) (was|is|has) ", s.text.split(" they ", 1)[-1]), s.text
    assert checked


def _documents(position: int):
    """The passage at ``position`` and its 3 paraphrases, each as its paragraphs of sentences, and
    the ids of the facts stated in relative clauses (a linked entity's, not what a sentence is about)."""
    templates = load_templates()
    e = entity_at(0, position)
    rng = item_rng(0, "passage", e.id)
    content = planner.plan_content(0, e, templates, rng, target_words=400)  # with closing paragraphs
    sentences, used = planner.write_passage(0, content, templates, rng, 5)
    paraphrases = planner.paraphrase_sentences(0, content, templates, item_rng(0, "paraphrases", e.id), used, 3)
    return [sentences] + paraphrases, {g.id for g in content.context.values()}


def _own_years(s, in_relative_clauses: set) -> list[int]:
    """The years of the dated facts a sentence states of its own subject (``YEARLY`` relations, not
    those of a relative clause), in the order the sentence gives them (checked against the text)."""
    dated = [f for f in s.facts if f.id not in in_relative_clauses and f.relation in planner.YEARLY and f.object.isdigit()]
    assert len({f.subject.position for f in dated}) <= 1, s.text
    at = 0
    for f in dated:  # the facts are recorded in the order the text states them
        at = s.text.index(f.object, at)
    return [int(f.object) for f in dated]


BLOCKS_12 = range(0, 12 * BLOCK)


def test_dated_facts_read_forward_in_time():
    """Within a sentence, and within a paragraph, the dated facts of the entity it is about come
    in time order, in passages and paraphrases alike ("... held its first election in 1887 and
    knocked three zeros off its banknotes in 1714" was written before 1.4). Years in a story
    (``STORY_YEARS``) and in relative clauses on a linked entity are not its history."""
    sentences_checked = paragraphs_checked = 0
    for position in BLOCKS_12:
        documents, in_relative_clauses = _documents(position)
        for doc in documents:
            for para in doc:
                years_of_para = []
                for s in para:
                    years = _own_years(s, in_relative_clauses)
                    assert years == sorted(years), s.text
                    sentences_checked += len(years) >= 2
                    years_of_para += years
                assert years_of_para == sorted(years_of_para), [s.text for s in para]
                paragraphs_checked += len({*years_of_para}) >= 3
    assert sentences_checked > 500 and paragraphs_checked > 500, (sentences_checked, paragraphs_checked)


def test_no_time_connective_contradicts_the_dates():
    """A time connective follows a sentence whose last date lies before (``LATER``), at most
    SOON_YEARS before ("A few years later"), more than SOON_YEARS before ("Many years later"), at
    least DECADES_YEARS before ("Decades afterwards"), or in the same year ("In that same year") as
    every date of the sentence it opens; passages and paraphrases. Each kind is seen but the last
    (no two dates of an entity are equal: ``world.Draw.fresh``)."""
    kinds = {"later": (set(planner.LATER), lambda g: g > 0),
             "soon": (set(planner.LATER_SOON) - set(planner.LATER), lambda g: 0 < g <= planner.SOON_YEARS),
             "many": (set(planner.LATER_LONG) - set(planner.LATER), lambda g: g > planner.SOON_YEARS),
             "decades": (set(planner.LATER_DECADES) - set(planner.LATER_LONG), lambda g: g >= planner.DECADES_YEARS),
             "same": (set(planner.SAME_YEAR), lambda g: g == 0)}
    seen = dict.fromkeys(kinds, 0)
    for position in BLOCKS_12:
        documents, in_relative_clauses = _documents(position)
        for doc in documents:
            prev = None
            for s in (s for para in doc for s in para):
                years = _own_years(s, in_relative_clauses)
                for kind, (readings, fits) in kinds.items():
                    if any(s.text.startswith(r + " ") for r in readings):
                        assert prev and years, (prev and prev.text, s.text)
                        gap = min(years) - max(_own_years(prev, in_relative_clauses))
                        assert fits(gap), (gap, prev.text, s.text)
                        seen[kind] += 1
                prev = s
    assert all(n for kind, n in seen.items() if kind != "same"), seen


def test_no_sentence_repeats_a_lead_verb(monkeypatch):
    """No two coordinated clauses of a sentence, nor a participial opener and a clause, lead with
    the same verb ("had been born in the town of Uzemabebo, took up residence in Akenijajo and was
    born in the year 1951", "has an area of ... and has no mountain taller than ..."); passages and
    paraphrases of 12 blocks, every clause recorded as the writer makes it."""
    assert planner.lead_verb("had been born in the town of X") == planner.lead_verb("was born in the year 1951") == "born"
    assert planner.lead_verb("has an area of 12") == "has" and planner.lead_verb("is located on X") == "located"
    assert planner.lead_verb("in time moved to X") == "moved" and planner.lead_verb("first saw daylight in X") == "saw"
    clauses: list[str] = []
    made: dict[int, tuple] = {}
    clause, sentence = planner._Writer.clause, planner._Writer.sentence

    def recorded_clause(self, f, *args, **kwargs):
        text = clause(self, f, *args, **kwargs)
        clauses.append(text)
        return text

    def recorded_sentence(self, *args, **kwargs):
        clauses.clear()
        s = sentence(self, *args, **kwargs)
        made[id(s)] = (s, list(clauses))  # the sentence and the clauses it was made of
        return s

    monkeypatch.setattr(planner._Writer, "clause", recorded_clause)
    monkeypatch.setattr(planner._Writer, "sentence", recorded_sentence)
    templates = load_templates()
    checked = with_opener = 0
    for position in BLOCKS_12:
        documents, _ = _documents(position)
        for doc in documents:
            for s in (s for para in doc for s in para):
                kept, parts = made[id(s)]
                assert kept is s and parts
                leads = [planner.lead_verb(c) for c in parts]
                f0 = s.facts[0]
                openers = templates[f0.subject.type].openers.get(f0.relation, ()) if not isinstance(f0, tuple) else ()
                their = planner.POSSESSIVE[pronoun_of(0, f0.subject.position) if f0.subject.type == "person" else "it"]
                opened = [o for o in (x.render({"object": f0.object, "their": their}) for x in openers)
                          if s.text.startswith(o + ",")]
                if opened and planner._verb_form(planner.lead_verb(opened[0])):
                    leads.append(planner.lead_verb(opened[0]))
                    with_opener += 1
                assert len(leads) == len(set(leads)), (leads, s.text)
                assert len(re.findall(r"\bborn\b", s.text, re.I)) <= 1, s.text
                checked += len(leads) >= 2
    assert checked > 5000 and with_opener > 500, (checked, with_opener)


def test_time_order_keeps_the_probe_able_endings():
    """An organization's workshop (a probe-able fact) predates its founding (a context fact, which
    no memorization probe ends on). Put in time order, a sentence [founding, workshop] would end on
    the founding; where the passage needs that sentence's probe-able ending, the founding gets a
    sentence of its own after it instead (``_Writer._each_in_time_order``)."""
    templates = load_templates()
    e = entity_at(0, next(p for p in POSITIONS if entity_at(0, p).type == "organization"))
    content = planner.plan_content(0, e, templates, item_rng(0, "passage", e.id))
    units = {u.relation: u for para in content.paragraphs for u in para if not isinstance(u, tuple)}
    founded, workshop = units["founded_year"], units["workshop_year"]
    assert int(workshop.object) < int(founded.object)

    def writer(need, key):
        return planner._Writer(0, content, templates, item_rng(0, "test", key), need=need)

    w = writer(0, 0)
    assert id(workshop) in w._probeable and id(founded) not in w._probeable
    assert w._in_time_order([[founded, workshop]]) == [[workshop, founded]]
    assert w._each_in_time_order([[founded, workshop]]) == [[workshop], [founded]]
    for key in range(20):  # the founding goes in front of the workshop's sentence, or has its own
        assert writer(1, key).chunks([[founded, workshop]]) == [[[workshop], [founded]]]
    assert [[[workshop, founded]]] in [writer(0, key).chunks([[founded, workshop]]) for key in range(20)]
