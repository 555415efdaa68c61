"""Template files: every template renders for every entity it applies to; bad files fail clearly."""

from __future__ import annotations

import shutil
from pathlib import Path

import jinja2
import pytest
import yaml

from fictional_knowledge.generate.facts import facts_of, follow
from fictional_knowledge.generate.render import subject_ctx
from fictional_knowledge.resources import templates_dir
from fictional_knowledge.generate.templates import ENV, TemplateError, load_file, load_templates
from fictional_knowledge.generate.world import BLOCK, RELATIONS, entity_at

POSITIONS = range(0, 15 * BLOCK)


def _jinja(source: str, ctx: dict) -> str:
    return ENV.from_string(source).render(ctx)


def test_one_file_per_entity_type():
    assert set(load_templates()) == set(RELATIONS)


def test_every_template_renders_for_every_entity_it_applies_to():
    templates = load_templates()
    rendered = 0
    for p in POSITIONS:
        e = entity_at(0, p)
        t = templates[e.type]
        ctx = subject_ctx(e)
        facts = {f.relation: f for f in facts_of(0, p)}
        intro_ctx = dict(ctx, **{r: facts[r].object for r in t.intro_facts})
        for c in t.intro:
            assert c.render(intro_ctx) == _jinja(c.source, intro_ctx)
            rendered += 1
        for relation, f in facts.items():
            fctx = dict(ctx, object=f.object)
            for c in t.passage[relation] + t.semantic[relation]:
                text = c.render(fctx)
                assert text == _jinja(c.source, fctx)
                assert text.endswith(f" {f.object}.") and e.ref in text or e.ref[:1].upper() + e.ref[1:] in text
                rendered += 1
            for c in t.question[relation]:
                assert c.render(ctx) == _jinja(c.source, ctx) and c.render(ctx).endswith("?")
                rendered += 1
        for path, inputs in t.compositions:
            chain = follow(0, p, path)
            assert len(chain) == len(path) >= 2
            for c in inputs:
                assert c.render(ctx) == _jinja(c.source, ctx)
                rendered += 1
    assert rendered > 10_000


def test_slots_are_what_jinja2_meta_finds():
    from jinja2 import meta

    from fictional_knowledge.generate.templates import _compile

    sources = [c.source for t in load_templates().values()
               for group in (t.intro, *t.passage.values(), *t.semantic.values(), *t.question.values(),
                             *(inputs for _, inputs in t.compositions))
               for c in group]
    sources += ["{{ subject | a_an }} and {{ object|upper }}", "{% if subject %}{{ subject }}{% endif %}", "plain {{ x }}{{y}}"]
    assert len(sources) > 300
    for source in sources:
        assert _compile(source, "test").slots == meta.find_undeclared_variables(ENV.parse(source)), source


def test_missing_slot_raises_like_strict_undefined():
    t = load_templates()["person"].passage["born_in"][0]
    with pytest.raises(jinja2.UndefinedError):
        t.render({"Subject": "X"})


def _broken_copy(tmp_path: Path, file: str, mutate) -> Path:
    folder = tmp_path / "templates"
    shutil.copytree(templates_dir(), folder)
    data = yaml.safe_load((folder / file).read_text())
    mutate(data)
    (folder / file).write_text(yaml.safe_dump(data))
    return folder / file


BAD = {
    "renamed key": (lambda d: d["relations"]["born_in"].update(pasage=d["relations"]["born_in"].pop("passage")),
                    "relations.born_in.pasage"),
    "missing relation": (lambda d: d["relations"].pop("award"), "missing ['award']"),
    "unknown relation": (lambda d: d["relations"].update(shoe_size=d["relations"]["award"]), "unknown ['shoe_size']"),
    "object not last": (lambda d: d["relations"]["award"]["passage"].append("{{ object }} went to {{ subject }}."),
                        "must end with"),
    "no subject": (lambda d: d["relations"]["award"]["passage"].append("Someone won the {{ object }}."), "must use the subject"),
    "unknown slot": (lambda d: d["relations"]["award"]["semantic"].append("{{ Subject }} and {{ spouse }} won {{ object }}."),
                     "unknown slots ['spouse']"),
    "semantic repeats passage": (lambda d: d["relations"]["award"]["semantic"].append(d["relations"]["award"]["passage"][0]),
                                 "repeats a passage sentence"),
    "bad path": (lambda d: d["compositions"].append({"path": ["birth_year", "located_in"], "inputs": ["{{ Subject }} x"]}),
                 "is a value, the path cannot go on"),
    "dangling quote": (lambda d: d["compositions"].append({"path": ["born_in", "located_in"], "inputs": ['{{ Subject }} said "']}),
                       "opening quote"),
    "syntax error": (lambda d: d["intro"]["variants"].append("{{ Subject }"), "syntax error"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_template_files_fail_with_file_and_key(case, tmp_path):
    mutate, message = BAD[case]
    path = _broken_copy(tmp_path, "person.yaml", mutate)
    with pytest.raises(TemplateError) as info:
        load_file(path)
    assert str(info.value).startswith("person.yaml: ") and message in str(info.value)


def test_missing_type_file_is_reported(tmp_path):
    folder = tmp_path / "templates"
    shutil.copytree(templates_dir(), folder)
    (folder / "event.yaml").unlink()
    with pytest.raises(TemplateError, match="event"):
        load_templates(str(folder))


def test_simple_templates_are_read_as_jinja2_reads_them():
    """Text-and-slot templates are read without jinja2 (``_simple_parts``, for load time): every
    template string of the shipped files, each reading of its word alternations, and some edge
    cases must give jinja2's own parts, or be left to jinja2 (None)."""
    import jinja2
    import yaml

    from fictional_knowledge.generate import templates as T

    def strings(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            for v in node.values():
                yield from strings(v)
        elif isinstance(node, list):
            for v in node:
                yield from strings(v)

    sources = {"{{ a }}{{ b }}", "x {{ object|a_an }}.", "{{object}} y", "{{ none }}", "{{ object | upper }}",
               "{% if x %}y{% endif %}", "a { b {{ c }}", "{{- object }}", "{{ object }}\r\nz", "{# c #}{{ d }}",
               "{{ Subject }} and {{ their }} {{ object | a_an }}"}
    for path in templates_dir().glob("*.yaml"):
        for s in strings(yaml.safe_load(path.read_text(encoding="utf-8"))):
            sources.add(s)
            sources.update(T.expand(s) if len(T.expand(s)) <= T.MAX_EXPANSIONS else ())
    fast_ones = 0
    for src in sorted(sources):
        fast = T._simple_parts(src)
        try:
            slow = T._jinja_parts(T.ENV.parse(src))
        except jinja2.TemplateSyntaxError:
            assert fast is None, src
            continue
        if fast is not None:
            fast_ones += 1
            assert fast == slow, src
    assert fast_ones > 5000
    assert T._simple_parts("{{ none }}") is None and T._simple_parts("{{ object | upper }}") is None
