"""Template files: loading, validation and fast rendering.

One YAML file per entity type under ``templates/`` holds everything that renders that type:
the intro sentence, per relation the passage sentences, the semantic-probe sentences (never used
in passages or paraphrases, so semantic probes stay unseen in training) and the questions, and
the compositional probes. Files are validated on load against ``TemplateFile``; a renamed or
misspelt key fails with the file and key in the message.

Templates are jinja2 with ``StrictUndefined`` and hold slots only. A template made only of text,
slots and the filters below is compiled to a plain Python join, which is what keeps a bundle of
~300 sentences under a millisecond; the test suite checks that it equals jinja2's own rendering.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Optional

import jinja2
import yaml
from jinja2 import meta, nodes
from pydantic import Field, ValidationError

from fictional_knowledge.models import FrozenModel
from fictional_knowledge.errors import InputError
from fictional_knowledge.resources import templates_dir
from fictional_knowledge.generate.world import RELATIONS, ROLE_RELATIONS


def a_an(text: str) -> str:
    """Prefix the indefinite article: ``a_an("actuary") == "an actuary"``."""
    lower = text.lower()
    vowel = lower[:1] in "aeiou" and not lower.startswith(("uni", "use", "eu", "one"))
    return ("an " if vowel else "a ") + text


FILTERS: dict[str, Callable[[str], str]] = {"a_an": a_an}
ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
ENV.filters.update(FILTERS)
SUBJECT_SLOTS = {"subject", "Subject"}
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: same result, faster


class TemplateError(InputError, ValueError):
    """A template file is malformed."""


_Spec = FrozenModel


class IntroSpec(_Spec):
    facts: list[str] = Field(description="Relations the intro sentence states (not sentence-final).")
    variants: list[str] = Field(min_length=1)


class RelationSpec(_Spec):
    passage: list[str] = Field(min_length=2, description="Sentences for passages, paraphrases and statements.")
    semantic: list[str] = Field(min_length=3, description="Sentences reserved for semantic probes.")
    question: list[str] = Field(min_length=3, description="Questions; the first is the QA question.")
    clauses: list[str] = Field(min_length=6, description=(
        "Prose style: predicates without their subject, ending with the object "
        "(\"was born in {{ object }}\"); the planner adds the subject (a name, pronoun or description), "
        "coordinates them and turns them into relative clauses. `{{ their }}` is the subject's "
        "possessive (his, her, their, its); `(a|b)` gives word alternations."))
    inverse: list[str] = Field(default_factory=list, description=(
        "Prose style, role relations only (world.ROLE_RELATIONS): predicates stating the fact in its "
        "object's passage, ending with the subject (\"founded {{ subject }}\")."))
    openers: list[str] = Field(default_factory=list, description=(
        "Prose style: participial or prepositional openers ending with the object "
        "(\"Born in {{ object }}\"), which the planner puts before a sentence about the same subject."))


class CompositionSpec(_Spec):
    path: list[str] = Field(min_length=2, description="Relations followed from the subject.")
    inputs: list[str] = Field(min_length=1, description="Probe inputs that end right before the target.")


class TemplateFile(_Spec):
    type: str
    intro: IntroSpec
    descriptions: list[str] = Field(default_factory=list, description=(
        "Prose style: definite descriptions that refer back to an entity of this type (\"the city\"; word "
        "alternations allowed: \"the (old|historic) city\")."))
    context: list[str] = Field(default_factory=list, description=(
        "Prose style: relations stated as a relative clause where another passage names an entity of "
        "this type (\"..., which lies on the Napubez River\"); memorization probes avoid them, since "
        "several passages state them."))
    topics: dict[str, list[str]] = Field(default_factory=dict, description=(
        "Prose style: the paragraphs of a passage, in order, each a list of relations; relations not "
        "listed go to a last paragraph."))
    relations: dict[str, RelationSpec]
    compositions: list[CompositionSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Compiled:
    """A template ready to render: ``render(ctx)`` with a dict of slot values."""

    source: str
    slots: frozenset[str]
    render: Callable[[dict], str]


_SLOT = re.compile(r"\{\{ *([A-Za-z_][A-Za-z0-9_]*) *(?:\| *([A-Za-z_][A-Za-z0-9_]*) *)?\}\}")


_JINJA_WORDS = {"true", "false", "none", "and", "or", "not", "in", "is", "if", "else", "elif", "for",
                "recursive", "loop", "self", "varargs", "kwargs", "caller"}


def _simple_parts(source: str) -> Optional[list]:
    """The parts of a template of plain text and ``{{ slot }}`` / ``{{ slot | filter }}`` only,
    read without jinja2 (parsing ~9,000 readings with jinja2 was most of the templates' load time);
    None for anything else (blocks, comments, expressions, braces in the text), which jinja2 reads."""
    if "\r" in source:  # jinja2 rewrites line ends
        return None
    parts: list = []
    at = 0
    for m in _SLOT.finditer(source):
        parts.append(source[at:m.start()])
        name, flt = m.group(1), m.group(2)
        if name.lower() in _JINJA_WORDS or (flt is not None and flt not in FILTERS):
            return None
        parts.append((name, FILTERS[flt] if flt else None))
        at = m.end()
    parts.append(source[at:])
    if any(isinstance(p, str) and ("{" in p or "}" in p) for p in parts):
        return None
    return [p for p in parts if p != ""]


def _jinja_parts(ast) -> Optional[list]:
    """The same parts, from jinja2's parse tree; None if the template is more than text and slots."""
    parts: list = []
    if not (len(ast.body) == 1 and isinstance(ast.body[0], nodes.Output)):
        return None
    for node in ast.body[0].nodes:
        if isinstance(node, nodes.TemplateData):
            parts.append(node.data)
        elif isinstance(node, nodes.Name):
            parts.append((node.name, None))
        elif (isinstance(node, nodes.Filter) and isinstance(node.node, nodes.Name)
              and node.name in FILTERS and not node.args and not node.kwargs):
            parts.append((node.node.name, FILTERS[node.name]))
        else:
            return None
    return parts


def _compile(source: str, where: str) -> Compiled:
    parts = _simple_parts(source)
    if parts is None:
        try:
            ast = ENV.parse(source)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"{where}: jinja2 syntax error: {exc.message}") from None
        parts = _jinja_parts(ast)
        if parts is None:
            template = ENV.from_string(source)
            return Compiled(source, frozenset(meta.find_undeclared_variables(ast)), lambda ctx: template.render(ctx))
    # text, slots and filters only: the slots are the names it reads (what jinja2.meta finds, at a
    # fraction of the cost: loading the templates is most of a small command's start-up)
    slots = frozenset(p[0] for p in parts if not isinstance(p, str))

    if all(isinstance(p, str) or p[1] is None for p in parts):
        fmt = "".join(p.replace("{", "{{").replace("}", "}}") if isinstance(p, str) else "{" + p[0] + "}"
                      for p in parts)

        def render(ctx: dict, _fmt=fmt) -> str:
            try:
                return _fmt.format_map(ctx)
            except KeyError as exc:
                raise jinja2.UndefinedError(f"{exc.args[0]!r} is undefined") from None

        return Compiled(source, slots, render)

    def render(ctx: dict, _parts=tuple(parts)) -> str:
        out = []
        for part in _parts:
            if isinstance(part, str):
                out.append(part)
            else:
                name, fn = part
                try:
                    value = ctx[name]
                except KeyError:
                    raise jinja2.UndefinedError(f"'{name}' is undefined") from None
                out.append(fn(value) if fn else str(value))
        return "".join(out)

    return Compiled(source, slots, render)


@dataclass(frozen=True)
class TypeTemplates:
    """The compiled templates of one entity type."""

    type: str
    file: Path
    sha256: str
    intro_facts: tuple[str, ...]
    intro: tuple[Compiled, ...]
    passage: dict[str, tuple[Compiled, ...]]
    semantic: dict[str, tuple[Compiled, ...]]
    question: dict[str, tuple[Compiled, ...]]
    compositions: tuple[tuple[tuple[str, ...], tuple[Compiled, ...]], ...]
    clauses: dict[str, tuple[Compiled, ...]] = None  # type: ignore[assignment]
    openers: dict[str, tuple[Compiled, ...]] = None  # type: ignore[assignment]
    inverse: dict[str, tuple[Compiled, ...]] = None  # type: ignore[assignment]
    descriptions: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    topics: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: inverse clauses of the role relations of *other* types whose object is this type, by
    #: relation (filled in when the folder is loaded)
    inverse_by_object: dict[str, tuple[Compiled, ...]] = None  # type: ignore[assignment]


_ALTERNATION = re.compile(r"\(([^(){}|]*(?:\|[^(){}|]*)+)\)")
MAX_EXPANSIONS = 64


def expand(source: str) -> list[str]:
    """Every reading of a prose template with word alternations: ``"(lies|sits) on {{ object }}"``
    gives ``["lies on {{ object }}", "sits on {{ object }}"]`` (groups multiply; an empty choice,
    ``(very |)``, drops the words). Lexical choice thus comes from word lists in the template files."""
    m = _ALTERNATION.search(source)
    if m is None:
        return [" ".join(source.split())]
    out = []
    for choice in m.group(1).split("|"):
        out += expand(source[:m.start()] + choice + source[m.end():])
    return out


def _compile_predicates(sources: list[str], where: str, slot: str = "object") -> tuple[Compiled, ...]:
    """Prose clauses, openers or inverse clauses: text and one slot, ending with its value; word
    alternations (``expand``) are compiled to one template per reading."""
    out = []
    for i, raw in enumerate(sources):
        readings = expand(raw)
        if len(readings) > MAX_EXPANSIONS:
            raise TemplateError(f"{where}[{i}]: {len(readings)} readings, more than {MAX_EXPANSIONS}")
        for src in readings:
            if re.search(r"[()|]", re.sub(r"\{\{.*?\}\}", "", src)):
                raise TemplateError(f"{where}[{i}]: an unexpanded '(' or '|' in {src!r} (an alternation group "
                                    f"may not hold a slot such as {{{{ their }}}}: put the slot outside it)")
            out.append(_compile_predicate(src, f"{where}[{i}]", slot, raw))
    return tuple(out)


def _compile_predicate(src: str, where: str, slot: str, raw: str) -> Compiled:
    c = _compile(src, where)
    if slot not in c.slots or not c.slots <= {slot, "their"}:
        raise TemplateError(f"{where}: must use the {slot} and no other slot but `their` (found {sorted(c.slots)})")
    if not c.render({slot: "\x00", "their": "its"}).endswith("\x00") or raw != raw.strip():
        raise TemplateError(f"{where}: must end with {{{{ {slot} }}}} and have no outer whitespace")
    return c


def _leads(c: Compiled, slot: str = "object", prefix: dict | None = None) -> set[tuple[str, ...]]:
    """The words before the slot's value (lower-cased), for a consonant- and a vowel-initial value
    (filters such as ``a_an`` put different words before them) and every possessive."""
    out = set()
    for value, their in (("Q\x00", "his"), ("E\x00", "her"), ("Q\x00", "their"), ("Q\x00", "its")):
        text = c.render({**(prefix or {}), slot: value, "their": their})
        if value in text:
            out.add(tuple(text[: text.index(value)].lower().split()))
    return out


def check_prose(t: "TypeTemplates") -> None:
    """The prose style's load-time rules for one type's templates:

    - **unambiguous lead-ins**: the words a clause puts before its value must not begin the words
      any predicate of *another* relation of the type puts before its value (its clauses, inverse
      clauses, and subject-initial passage and semantic sentences), so a memorization probe cut
      before a sentence-final value cannot be continued by another true fact ("was born in" would
      clash with "was born in the year");
    - **unseen semantic sentences**: no clause states its fact in the words of a semantic sentence
      of the same relation, so semantic probes stay out of passages and paraphrases."""
    name = t.file.name
    subject = {"subject": "\x02", "Subject": "\x02"}
    memo: dict = {}

    def leads_of(c: Compiled, slot: str = "object", prefix: dict | None = None) -> set[tuple[str, ...]]:
        key = (id(c), slot, prefix is not None)  # every template's leads once (inverse clauses serve every relation)
        got = memo.get(key)
        if got is None:
            got = memo[key] = _leads(c, slot, prefix)
        return got

    def predicates(rel: str) -> set[tuple[str, ...]]:
        out = set()
        for c in t.clauses.get(rel, ()):
            out |= leads_of(c)
        for other, inv in t.inverse_by_object.items():
            if other != rel:
                for c in inv:
                    out |= leads_of(c, "subject")
        for c in t.passage[rel] + t.semantic[rel]:
            if c.source.startswith("{{ Subject }} "):
                out |= {lead[1:] for lead in leads_of(c, prefix=subject) if lead[:1] == ("\x02",)}
        return out

    every = {rel: predicates(rel) for rel in t.passage}
    # a compositional probe's full sentence is true too: "X is set in a city of the country of Y"
    every["compositions"] = {tuple(c.render(subject).lower().split())[1:] for _, inputs in t.compositions
                             for c in inputs if c.source.startswith("{{ Subject }} ")}
    clause_leads = {rel: {lead for c in t.clauses.get(rel, ()) for lead in leads_of(c)} for rel in t.passage}
    plain_leads = {rel: {lead[1:] for c in t.passage[rel] + t.semantic[rel] if c.source.startswith("{{ Subject }} ")
                         for lead in leads_of(c, prefix=subject) if lead[:1] == ("\x02",)} for rel in t.passage}
    # a plain sentence's lead is checked only against clauses that do not repeat a plain sentence:
    # plain against plain (and against compositions) is the plain generator's business (completions.py)
    pools = {"clauses": every,
             "plain": {rel: clause_leads[rel] - plain_leads[rel] for rel in t.passage}}
    # every beginning of every lead of a pool: "lead begins some x of the pool" is then one lookup
    begins = {kind: {other: {x[:k] for x in leads for k in range(len(x) + 1)} for other, leads in pool.items()}
              for kind, pool in pools.items()}
    for rel, clauses in t.clauses.items():
        own = [("clauses", f"clauses {c.source!r}", lead) for c in clauses for lead in leads_of(c)]
        own += [("plain", f"passage/semantic {c.source!r}", lead[1:]) for c in t.passage[rel] + t.semantic[rel]
                if c.source.startswith("{{ Subject }} ") for lead in leads_of(c, prefix=subject) if lead[:1] == ("\x02",)]
        for kind, where, lead in own:
            for other, heads in begins[kind].items():
                if other != rel and lead in heads:
                    clash = next(x for x in pools[kind][other] if x[:len(lead)] == lead)
                    raise TemplateError(f"{name}: relations.{rel}.{where}: {' '.join(lead)!r} is ambiguous: "
                                        f"{other!r} also reads {' '.join(clash)!r} before its value")
        semantic = {c.render({**subject, "object": "\x00"}) for c in t.semantic[rel]}
        for i, c in enumerate(clauses):
            if any("\x02 " + c.render({"object": "\x00", "their": their}) + "." in semantic
                   for their in ("his", "her", "their", "its")):
                raise TemplateError(f"{name}: relations.{rel}.clauses {c.source!r}: repeats a semantic sentence "
                                    f"(semantic probes must stay unseen)")


def _check_path(etype: str, path: list[str], where: str) -> None:
    current = etype
    for i, relation in enumerate(path):
        if relation not in RELATIONS[current]:
            raise TemplateError(f"{where}: {current} has no relation {relation!r}")
        target = RELATIONS[current][relation]
        if i < len(path) - 1:
            if target is None:
                raise TemplateError(f"{where}: {relation!r} is a value, the path cannot go on")
            current = target


def load_file(path: Path) -> TypeTemplates:
    """Load, validate and compile one template file."""
    name = path.name
    try:
        raw = yaml.load(path.read_text(), Loader=_YAML_LOADER)
        spec = TemplateFile.model_validate(raw)
    except yaml.YAMLError as exc:
        raise TemplateError(f"{name}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise TemplateError(f"{name}: {problems}") from None
    etype = spec.type
    if etype not in RELATIONS:
        raise TemplateError(f"{name}: type: unknown entity type {etype!r}")
    expected = set(RELATIONS[etype])
    if set(spec.relations) != expected:
        missing, extra = sorted(expected - set(spec.relations)), sorted(set(spec.relations) - expected)
        raise TemplateError(f"{name}: relations: missing {missing}, unknown {extra}")

    def compile_all(sources, where, allowed, *, ends=None, required=SUBJECT_SLOTS):
        out = []
        for i, src in enumerate(sources):
            c = _compile(src, f"{name}: {where}[{i}]")
            if not c.slots <= allowed:
                raise TemplateError(f"{name}: {where}[{i}]: unknown slots {sorted(c.slots - allowed)}")
            if not (c.slots & SUBJECT_SLOTS) or not required - SUBJECT_SLOTS <= c.slots:
                raise TemplateError(f"{name}: {where}[{i}]: must use the subject and {sorted(required - SUBJECT_SLOTS)}")
            if ends and not src.rstrip().endswith(ends):
                raise TemplateError(f"{name}: {where}[{i}]: must end with {ends!r}")
            out.append(c)
        return tuple(out)

    fact_slots = SUBJECT_SLOTS | {"object"}
    fact_end = ("{{ object }}.", "{{ object | a_an }}.")  # the value ends the sentence (a cloze sentence)
    passage, semantic, question, clauses, openers, inverse = {}, {}, {}, {}, {}, {}
    for rel, rs in spec.relations.items():
        passage[rel] = compile_all(rs.passage, f"relations.{rel}.passage", fact_slots,
                                   ends=fact_end, required=fact_slots)
        semantic[rel] = compile_all(rs.semantic, f"relations.{rel}.semantic", fact_slots,
                                    ends=fact_end, required=fact_slots)
        if set(rs.semantic) & set(rs.passage):
            raise TemplateError(f"{name}: relations.{rel}: a semantic sentence repeats a passage sentence")
        question[rel] = compile_all(rs.question, f"relations.{rel}.question", SUBJECT_SLOTS, ends="?")
        clauses[rel] = _compile_predicates(rs.clauses, f"{name}: relations.{rel}.clauses")
        openers[rel] = _compile_predicates(rs.openers, f"{name}: relations.{rel}.openers")
        inverse[rel] = _compile_predicates(rs.inverse, f"{name}: relations.{rel}.inverse", "subject")
        if bool(rs.inverse) != ((etype, rel) in ROLE_RELATIONS):
            raise TemplateError(f"{name}: relations.{rel}.inverse: needed exactly for the role relations "
                                f"(world.ROLE_RELATIONS)")
    topics, listed = [], set()
    for topic, relations in spec.topics.items():
        unknown = [r for r in relations if r not in expected or r in listed]
        if unknown:
            raise TemplateError(f"{name}: topics.{topic}: unknown or repeated relations {unknown}")
        listed.update(relations)
        topics.append((topic, tuple(relations)))
    for rel in spec.context:
        if rel not in expected or not clauses.get(rel) or (etype, rel) in ROLE_RELATIONS:
            raise TemplateError(f"{name}: context: {rel!r} is not a relation of {etype} with clauses (and not a role)")
    rest = tuple(r for r in RELATIONS[etype] if r not in listed)
    if rest:
        topics.append(("more", rest))
    for fact in spec.intro.facts:
        if fact not in expected or RELATIONS[etype][fact] is not None:
            raise TemplateError(f"{name}: intro.facts: {fact!r} is not a value relation of {etype}")
    intro = compile_all(spec.intro.variants, "intro.variants", SUBJECT_SLOTS | set(spec.intro.facts),
                        required=SUBJECT_SLOTS | set(spec.intro.facts))
    compositions = []
    for i, comp in enumerate(spec.compositions):
        _check_path(etype, comp.path, f"{name}: compositions[{i}].path")
        inputs = compile_all(comp.inputs, f"compositions[{i}].inputs", SUBJECT_SLOTS)
        for j, src in enumerate(comp.inputs):
            if src != src.strip() or src.endswith(('"', "'", "(")):
                raise TemplateError(f"{name}: compositions[{i}].inputs[{j}]: stray whitespace or opening quote at the end")
        compositions.append((tuple(comp.path), inputs))
    return TypeTemplates(
        type=etype, file=path, sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        intro_facts=tuple(spec.intro.facts), intro=intro, passage=passage, semantic=semantic,
        question=question, compositions=tuple(compositions), clauses=clauses, openers=openers, inverse=inverse,
        descriptions=tuple(x for d in spec.descriptions for x in expand(d)), context=tuple(spec.context), topics=tuple(topics),
    )


def load_templates(directory: str | Path | None = None) -> dict[str, TypeTemplates]:
    """All template files of a folder (default: the package's), one per entity type. Loaded once
    per folder and process."""
    return _load_folder(str(Path(directory).resolve() if directory else templates_dir()))


@lru_cache(maxsize=4)
def _load_folder(directory: str) -> dict[str, TypeTemplates]:
    folder = Path(directory)
    loaded: dict[str, TypeTemplates] = {}
    for path in sorted(folder.glob("*.yaml")):
        t = load_file(path)
        if t.type in loaded:
            raise TemplateError(f"{path.name}: type {t.type!r} is already defined in {loaded[t.type].file.name}")
        loaded[t.type] = t
    missing = sorted(set(RELATIONS) - set(loaded))
    if missing:
        raise TemplateError(f"{folder}: no template file for entity types {missing}")
    for etype, t in loaded.items():
        object.__setattr__(t, "inverse_by_object", {
            rel: loaded[st].inverse[rel] for st, rel in ROLE_RELATIONS if RELATIONS[st][rel] == etype})
        check_prose(t)
    return loaded


def template_hashes(directory: str | None = None) -> dict[str, str]:
    return {t.file.name: t.sha256 for t in load_templates(directory).values()}
