"""docs/extending.md, performed: add a relation and a probe kind to a copy of the package, exactly
as the walk-throughs say, build a small world with it, and check the new relation / kind reaches
every config it should and that the build validates. Also: the one tables (entity specs, probe
kinds) agree with everything derived from them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import typing
from collections import Counter
from pathlib import Path

import pytest
import yaml

from fictional_knowledge import kinds, models

from fictional_knowledge.generate import world
from fictional_knowledge.lm_eval_tasks import CLOZE_GROUP, CLOZE_TASKS, TASKS_DIR

REPO = Path(__file__).resolve().parent.parent
DOC = (REPO / "docs" / "extending.md").read_text()

# --- the relation walk-through: a country's motto ---------------------------------------------
MOTTO_SPEC = ('''        "national_epic": TEXT}, _country),''',
              '''        "national_epic": TEXT, "motto": TEXT}, _country),''')
MOTTO_GENERATOR = ('''    d.fresh("national_epic", lambda: rng.choice(vocab.EPIC_FORMS).format(invented_word(rng, 2)))
''', '''    d.fresh("national_epic", lambda: rng.choice(vocab.EPIC_FORMS).format(invented_word(rng, 2)))
    d.values["motto"] = f"{invented_word(rng, 2)} above all"
''')
MOTTO_YAML = '''  motto:
    passage:
      - "The motto of {{ subject }} is {{ object }}."
      - "{{ Subject }} has the motto {{ object }}."
    semantic:
      - "The words on the coat of arms of {{ subject }} read {{ object }}."
      - "The saying that {{ subject }} chose for itself is {{ object }}."
      - "Engraved above the gates of the parliament of {{ subject }} are the words {{ object }}."
    question:
      - "What is the motto of {{ subject }}?"
      - "Which motto does {{ subject }} have?"
      - "What words did {{ subject }} choose as its motto?"
    clauses:
      - "has the motto {{ object }}"
      - "takes as its watchword the phrase {{ object }}"
      - "lives by the motto {{ object }}"
      - "prints on its coins the words {{ object }}"
      - "adopted the national motto {{ object }}"
      - "declares its motto to be {{ object }}"
'''
MOTTO_TEMPLATES = ("\ncompositions:\n", "\n" + MOTTO_YAML + "compositions:\n")

# --- the probe-kind walk-through: cloze probes on the fact-storing statements -----------------
KIND_SPEC = '''    ProbeKindSpec("statement", "statement_probes", "statement_probes", None,
                  "fictional_knowledge_statement", "Statement", "Stmt.", "tab:green",
                  "a fact-storing statement of the entity cut before its fact value"),
'''
KIND_ROW = ('''                  "the target follows only by chaining two or more facts"),
)''', '''                  "the target follows only by chaining two or more facts"),
''' + KIND_SPEC + ')')
STATEMENT_FN = '''def statement_probes(ctx: ProbeContext, n: int, rng: random.Random) -> list[ProbeDraft]:
    """Cloze probes on the fact-storing statements (``statements`` config) of the focal
    entity's first ``n`` facts whose input no other true sentence of the world continues
    differently."""
    from fictional_knowledge.generate.completions import ambiguous, world_forms
    from fictional_knowledge.generate.facts import facts_of
    from fictional_knowledge.generate.render import statement

    sentences = world_forms(ctx.seed, ctx.entity.position, ctx.templates)
    out = []
    for f in facts_of(ctx.seed, ctx.entity.position):
        text = statement(ctx.seed, f, ctx.templates)
        probe = ProbeDraft("statement", split_cloze(text, f.object), f.object, (f,), (f.relation,),
                           f.id in ctx.stated)
        if len(out) < n and not ambiguous(probe.input, probe.target, sentences):
            out.append(probe)
    return out
'''
KIND_GENERATOR = ('''\n\ndef compositional(''', '''\n\n''' + STATEMENT_FN + '''\n\ndef compositional(''')
KIND_CONFIG = ('''    compositional_probes: int = Field(5, ge=0, le=MAX_COMPOSITIONAL, description="Compositional probes per passage.",
                                      json_schema_extra={"flag": "--compositional"})
''', '''    compositional_probes: int = Field(5, ge=0, le=MAX_COMPOSITIONAL, description="Compositional probes per passage.",
                                      json_schema_extra={"flag": "--compositional"})
    statement_probes: int = Field(0, ge=0, le=100, description="Statement probes per passage.",
                                  json_schema_extra={"flag": "--statement"})
''')
KIND_TASK_FILE = '''include: _cloze_template.yaml
task: fictional_knowledge_statement
task_alias: statement
process_docs: !function utils.statement_docs
'''
KIND_GROUP = ('''  - fictional_knowledge_compositional
''', '''  - fictional_knowledge_compositional
  - fictional_knowledge_statement
''')
KIND_UTILS = '''

def statement_docs(dataset):
    """Statement probes: a fact-storing statement cut before its fact value."""
    return _of_kind(dataset, "statement")
'''

BUILD_AND_CHECK = """
import json, sys
from fictional_knowledge.dataset.builder import build
from fictional_knowledge.dataset.io import read_rows
from fictional_knowledge.models import BuildConfig
from fictional_knowledge.dataset.validate import validate_build
config = BuildConfig(**json.loads(sys.argv[1]))
build(config, "b", workers=1)
report = validate_build("b")
print(json.dumps({"ok": report.ok, "lines": report.lines(),
                  **{name: read_rows("b", name) for name in ("entities", "facts", "passages", "probes",
                                                             "statements", "qa", "fictional_knowledge")}}))
"""


def _copy_package(dest: Path) -> Path:
    for name in ("fictional_knowledge", "templates", "schemas"):
        shutil.copytree(REPO / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _edit(path: Path, edit: tuple[str, str]) -> None:
    old, new = edit
    text = path.read_text()
    assert text.count(old) == 1, f"{path.name}: the walk-through's anchor is not there once: {old!r}"
    path.write_text(text.replace(old, new))


def _in_doc(text: str) -> None:
    """The fragment the test applies is the one the doc shows (doc code blocks are indented as
    the file is, so compare line by line, stripped of the leading newline)."""
    assert text.strip("\n") in DOC, f"docs/extending.md does not show:\n{text}"


def _run(root: Path, code: str, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=root, capture_output=True, text=True,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _build(root: Path, **config) -> dict:
    return json.loads(_run(root, BUILD_AND_CHECK, json.dumps(config)))


@pytest.fixture(scope="module")
def base_rows(tmp_path_factory) -> dict:
    """The unmodified package's rows for the configs the walk-throughs build."""
    root = _copy_package(tmp_path_factory.mktemp("base"))
    return _build(root, seed=0, entities=200, paraphrases=2)


def test_walkthrough_add_a_relation(tmp_path, base_rows):
    for text in (MOTTO_SPEC[1], MOTTO_GENERATOR[1], MOTTO_YAML):
        _in_doc(text)
    root = _copy_package(tmp_path)
    _edit(root / "fictional_knowledge" / "generate" / "world.py", MOTTO_SPEC)
    _edit(root / "fictional_knowledge" / "generate" / "world.py", MOTTO_GENERATOR)
    _edit(root / "templates" / "country.yaml", MOTTO_TEMPLATES)
    _run(root, "from fictional_knowledge.cli import app; app(['schemas'])")
    assert '"motto"' in (root / "schemas" / "entities.schema.json").read_text()

    rows = _build(root, seed=0, entities=200, paraphrases=2)
    assert rows["ok"], rows["lines"]
    countries = [e for e in rows["entities"] if e["type"] == "country"]
    assert countries and all(re.fullmatch(r"[A-Z][a-z]+ above all", e["attributes"]["motto"]) for e in countries)
    assert all(e["attributes"]["motto"] is None for e in rows["entities"] if e["type"] != "country")
    mottos = [f for f in rows["facts"] if f["relation"] == "motto"]
    assert len(mottos) == len(countries)
    motto_ids = {f["id"] for f in mottos}
    assert len([s for s in rows["statements"] if s["fact_id"] in motto_ids]) == len(mottos)
    assert len([q for q in rows["qa"] if q["fact_id"] in motto_ids]) == len(mottos)
    for passage in (p for p in rows["passages"] if p["entity_id"] in {c["id"] for c in countries}):
        fact = next(f for f in mottos if f["subject_id"] == passage["entity_id"])
        # stated, though not always at a sentence's end: the prose style coordinates it with other facts
        assert fact["id"] in passage["fact_ids"] and fact["object"] in passage["text"]
        assert all(fact["object"] in para for para in passage["paraphrases"])
    assert any(p["relation_path"] == ["motto"] for p in rows["probes"])

    # every other value of every entity is what the unmodified package makes
    before = {e["id"]: e for e in base_rows["entities"]}
    for e in rows["entities"]:
        assert {k: v for k, v in e["attributes"].items() if k != "motto"} == before[e["id"]]["attributes"]


def test_walkthrough_add_a_probe_kind(tmp_path, base_rows):
    for text in (KIND_SPEC, STATEMENT_FN, KIND_CONFIG[1], KIND_TASK_FILE, KIND_GROUP[1], KIND_UTILS):
        _in_doc(text)
    root = _copy_package(tmp_path)
    package = root / "fictional_knowledge"
    _edit(package / "kinds.py", KIND_ROW)
    _edit(package / "generate" / "probes.py", KIND_GENERATOR)
    _edit(package / "models.py", KIND_CONFIG)
    (package / "lm_eval_tasks" / "fictional_knowledge_statement.yaml").write_text(KIND_TASK_FILE)
    _edit(package / "lm_eval_tasks" / "_fictional_knowledge_cloze.yaml", KIND_GROUP)
    with open(package / "lm_eval_tasks" / "utils.py", "a") as f:
        f.write(KIND_UTILS)
    _run(root, "from fictional_knowledge.cli import app; app(['schemas'])")
    assert '"statement"' in (root / "schemas" / "probes.schema.json").read_text()
    assert "statement_probes" in (root / "schemas" / "build_config.schema.json").read_text()
    # the kind is wired into the scorer's kinds and the lm-eval tasks
    out = _run(root, "from fictional_knowledge.evaluate.scoring_qa import ALL_KINDS; "
                     "from fictional_knowledge.lm_eval_tasks import CLOZE_TASKS; print(ALL_KINDS, CLOZE_TASKS)")
    assert "'statement'" in out and "fictional_knowledge_statement" in out
    # and the command line has an option for its count, generated from the new field
    out = _run(root, "from fictional_knowledge.cli import app; app(['build', '--help'])")
    assert "--statement" in out and "Statement probes per passage." in out

    rows = _build(root, seed=0, entities=200, paraphrases=2, statement_probes=2)
    assert rows["ok"], rows["lines"]
    new = [p for p in rows["probes"] if p["kind"] == "statement"]
    per_passage = Counter(p["passage_id"] for p in new)
    # every passage gets the 2 asked for (a build refuses a count some passage cannot hold: with
    # 3, entity 19 has only 2 statements whose input no other true sentence continues differently)
    assert set(per_passage) == {p["id"] for p in rows["passages"]} and set(per_passage.values()) == {2}
    statements = {s["text"] for s in rows["statements"]}
    assert all(f"{p['input']} {p['target']}." in statements for p in new)
    # the other kinds' probes, and everything else, are unchanged
    assert [p for p in rows["probes"] if p["kind"] != "statement"] == base_rows["probes"]
    for name in ("entities", "facts", "passages", "statements", "qa"):
        assert rows[name] == base_rows[name], name
    assert rows["fictional_knowledge"] == base_rows["fictional_knowledge"]  # FK's schema has no place for it


# --- the tables agree with what is derived from them --------------------------------------------

def test_entity_types_and_attributes_come_from_the_specs():
    assert models.ENTITY_TYPES == tuple(world.ENTITY_SPECS)
    assert typing.get_args(models.EntityType) == tuple(world.ENTITY_SPECS)
    names = [r for spec in world.ENTITY_SPECS.values() for r in spec.relations]
    assert list(models.Attributes.model_fields) == list(dict.fromkeys(names))
    assert world.BLOCK == sum(s.per_block for s in world.ENTITY_SPECS.values())


def test_a_generator_that_misses_a_relation_fails_loudly(monkeypatch):
    spec = world.ENTITY_SPECS["country"]
    patched = world.EntityTypeSpec(spec.name, spec.per_block, {**spec.relations, "motto": world.TEXT}, spec.generate)
    monkeypatch.setitem(world.ENTITY_SPECS, "country", patched)
    world.entity_at.cache_clear()
    try:
        with pytest.raises(ValueError, match="motto"):
            world.entity_at(7, 0)
    finally:
        world.entity_at.cache_clear()


def test_inconsistent_relation_types_are_refused(monkeypatch):
    spec = world.ENTITY_SPECS["city"]
    patched = world.EntityTypeSpec(spec.name, spec.per_block, {**spec.relations, "population": world.TEXT},
                                   spec.generate)
    monkeypatch.setitem(world.ENTITY_SPECS, "city", patched)
    with pytest.raises(ValueError, match="population"):
        world.attribute_types()


def test_probe_kinds_come_from_the_table():
    from fictional_knowledge.generate import probes
    from fictional_knowledge.evaluate.scoring_qa import ALL_KINDS

    names = tuple(k.name for k in kinds.PROBE_KIND_TABLE)
    assert typing.get_args(models.ProbeKind) == names == models.PROBE_KINDS
    assert ALL_KINDS == (*names, "qa")
    assert CLOZE_TASKS == {k.name: k.lm_eval_task for k in kinds.PROBE_KIND_TABLE}
    for k in kinds.PROBE_KIND_TABLE:
        assert callable(getattr(probes, k.generator)), k
        assert k.count_field in models.BuildConfig.model_fields, k
        if k.fk_prefix:
            assert {f"{k.fk_prefix}_input", f"{k.fk_prefix}_target"} <= set(models.FKRow.model_fields)


def test_every_probe_kind_has_its_lm_eval_task():
    from fictional_knowledge.lm_eval_tasks import utils

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))
    group = yaml.load((TASKS_DIR / f"_{CLOZE_GROUP}.yaml").read_text(), Loader=Loader)
    assert group["task"] == [k.lm_eval_task for k in kinds.PROBE_KIND_TABLE]
    for k in kinds.PROBE_KIND_TABLE:
        task = yaml.load((TASKS_DIR / f"{k.lm_eval_task}.yaml").read_text(), Loader=Loader)
        assert task["task"] == k.lm_eval_task and task["task_alias"] == k.name
        assert task["process_docs"] == f"utils.{k.name}_docs" and callable(getattr(utils, f"{k.name}_docs"))


def test_comments_cite_only_files_that_ship():
    """No code comment or docstring points at a file outside the package (DESIGN notes, tests)."""
    bad = []
    for path in sorted((REPO / "fictional_knowledge").rglob("*")):
        if path.suffix not in (".py", ".yaml", ".jinja") or "__pycache__" in path.parts:
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"DESIGN\.md|tests/test_\w+\.py|docs/\w+\.md", line) and "huggingface.co" not in line:
                bad.append(f"{path.relative_to(REPO)}:{i}: {line.strip()}")
    assert not bad, "\n".join(bad)
