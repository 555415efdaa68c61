"""Docs are code: every ```python and shell block in README.md and docs/*.md runs here.

Conventions (every helper writing docs follows them):

- The blocks of one file run in order, in one fresh temporary working directory; the python
  blocks of a file share one namespace.
- ```bash / ```sh / ```shell blocks run as one ``bash -eo pipefail`` script each. ```console
  blocks run each ``$ command`` line (with ``\\`` continuations and here-documents) in its own
  shell; the lines after a command are its example output, not run.
- Shell blocks have ``fkgen`` on PATH (a shim running ``python -m fictional_knowledge`` from this
  checkout), so ``fkgen build --seed 0`` makes ``builds/seed-0`` in the working directory.
- The working directory starts with a copy of the repository's ``releases/`` (the committed
  release recipes, as in a checkout), so ``fkgen verify releases/v1.0.0`` works.
- ``MODEL`` names a small causal LM: a Python variable in every python block and ``$MODEL`` in the
  shell. Here it is a tiny random GPT-2 with a tokenizer trained on generated text (made once per
  session, only for files that mention ``MODEL``); a reader substitutes their own model.
- A python block that holds ``>>>`` prompts is a doctest: its printed output is checked
  (ELLIPSIS and NORMALIZE_WHITESPACE on).
- ``<!-- docs-test: skip — reason; CPU time -->`` directly above a block (blank lines allowed)
  keeps it from running; the reason is required.
- ``<!-- docs-test: check-output -->`` above a console block compares each command's output with
  the lines shown after it: ``...`` alone on a line matches any number of lines, ``...`` inside a
  line matches any text.
- A console command whose shown output starts with ``error:`` (or ``Error:``) must fail: a
  non-zero exit is expected there, and exit 0 fails the test.
- ```text (and unlabelled) blocks are output examples and never run.

One test per file; a failure names the file, the block's line and shows the block and output.
"""

from __future__ import annotations

import doctest
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL = {"bash", "sh", "shell", "console"}
RUN = SHELL | {"python"}
MARKER = re.compile(r"^<!--\s*docs-test:\s*(?P<what>[\w-]+)(?P<rest>.*?)-->\s*$")
# files whose blocks need torch/transformers or take more than a few seconds
SLOW = {"scoring.md", "regimes.md", "dynamics.md", "lm_eval.md", "leaderboard.md", "README.md"}


@dataclass
class Block:
    path: Path
    line: int           # 1-based line of the opening fence
    lang: str
    text: str
    skip: Optional[str] = None
    check_output: bool = False

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def parse_blocks(path: Path) -> list[Block]:
    """Every fenced block of a Markdown file, with the docs-test marker above it (if any)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    blocks, i = [], 0
    while i < len(lines):
        m = re.match(r"^(\s*)(`{3,})(\S*)", lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m.groups()
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            j += 1
        body = textwrap.dedent("\n".join(line[len(indent):] if line.startswith(indent) else line
                                         for line in lines[i + 1:j]))
        block = Block(path, i + 1, lang.lower(), body)
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        while k >= 0 and (mk := MARKER.match(lines[k].strip())):
            what, rest = mk["what"], mk["rest"].strip().lstrip("—–-:").strip()
            if what == "skip":
                block.skip = rest
            elif what == "check-output":
                block.check_output = True
            else:
                raise AssertionError(f"{path.name}:{k + 1}: unknown docs-test marker {what!r}")
            k -= 1
        blocks.append(block)
        i = j + 1
    return blocks


def console_commands(text: str) -> list[tuple[str, list[str]]]:
    """``$ command`` lines of a console block (continuations, here-documents) with the output
    lines shown after each."""
    out: list[tuple[str, list[str]]] = []
    lines, i = text.split("\n"), 0
    while i < len(lines):
        line = lines[i]
        if not line.startswith("$ "):
            if out:
                out[-1][1].append(line)
            elif line.strip():
                out.append(("", [line]))  # output before any command: a block without prompts
            i += 1
            continue
        cmd = [line[2:]]
        while cmd[-1].rstrip().endswith("\\") and i + 1 < len(lines):
            i += 1
            cmd.append(lines[i])
        heredoc = re.search(r"<<-?\s*['\"]?(\w+)['\"]?", " ".join(cmd))
        if heredoc:
            while i + 1 < len(lines):
                i += 1
                cmd.append(lines[i])
                if lines[i].strip() == heredoc.group(1):
                    break
        out.append(("\n".join(cmd), []))
        i += 1
    return out


def output_matches(expected: list[str], actual: str) -> bool:
    """``...`` alone matches any lines; ``...`` in a line matches any text; trailing spaces and
    blank lines at the ends are ignored."""
    exp = [e.rstrip() for e in expected]
    while exp and not exp[-1]:
        exp.pop()
    act = [a.rstrip() for a in actual.strip("\n").split("\n")] if actual.strip() else []

    def line_re(e: str) -> re.Pattern:
        return re.compile("^" + ".*".join(re.escape(p) for p in e.split("...")) + "$")

    def match(ei: int, ai: int) -> bool:
        if ei == len(exp):
            return ai == len(act)
        if exp[ei].strip() == "...":
            return any(match(ei + 1, k) for k in range(ai, len(act) + 1))
        return ai < len(act) and bool(line_re(exp[ei]).match(act[ai])) and match(ei + 1, ai + 1)

    return match(0, 0)


# ---------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def docs_model(tmp_path_factory) -> Path:
    """The ``MODEL`` of the docs: a tiny random GPT-2 with a tokenizer trained on generated text."""
    from tinymodel import make_tiny_model

    from fictional_knowledge.dataset.builder import build
    from fictional_knowledge.dataset.io import read_rows
    from fictional_knowledge.models import BuildConfig

    tmp = tmp_path_factory.mktemp("docs-model")
    build(BuildConfig(seed=0, entities=20), tmp / "b", workers=1)
    texts = [p["text"] for p in read_rows(tmp / "b", "passages")]
    texts += [q["question"] + " " + q["answer"] for q in read_rows(tmp / "b", "qa")]
    return make_tiny_model(tmp / "model", texts, vocab_size=400, n_layer=2, n_embd=32, n_head=2)


@pytest.fixture(scope="session")
def fkgen_bin(tmp_path_factory) -> Path:
    """A folder with an ``fkgen`` that runs this checkout (CI installs the package; tests need not)."""
    bindir = tmp_path_factory.mktemp("docs-bin")
    shim = bindir / "fkgen"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m fictional_knowledge "$@"\n')
    shim.chmod(0o755)
    return bindir


def _env(bindir: Path, model: Optional[Path]) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(bindir), str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false",
               HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", NO_COLOR="1", COLUMNS="120",
               FK_DOCS_LIMIT="64")  # docs/regimes.md's train() and cut(): 64 rows per dataset
    if model is not None:
        env["MODEL"] = str(model)
    return env


def _fail(block: Block, why: str, output: str = "") -> None:
    tail = output[-4000:]
    pytest.fail(f"{block.where}: {block.lang} block {why}\n--- block ---\n{block.text}\n"
                + (f"--- output (last 4000 chars) ---\n{tail}" if tail else ""), pytrace=False)


def _run_shell(block: Block, cwd: Path, env: dict) -> None:
    if re.search(r"\b(pip|apt-get|apt|uv) +install\b", block.text):
        _fail(block, "installs software; mark it `<!-- docs-test: skip — installs packages; ... -->` "
              "(the test environment already has them, and a test must never change it)")
    if block.lang != "console":
        proc = subprocess.run(["bash", "-eo", "pipefail", "-c", block.text], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=600)
        if proc.returncode:
            _fail(block, f"exited with {proc.returncode}", proc.stdout + proc.stderr)
        return
    commands = console_commands(block.text)
    if not any(cmd for cmd, _ in commands):
        _fail(block, "has no '$ ' command line (use ```text for output only)")
    for cmd, expected in commands:
        if not cmd:
            continue
        proc = subprocess.run(["bash", "-eo", "pipefail", "-c", cmd], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=600)
        shown = next((e.strip() for e in expected if e.strip()), "")
        if shown.lower().startswith("error:"):
            if proc.returncode == 0:
                _fail(block, f"command should fail (the docs show an error) but exited 0: $ {cmd}",
                      proc.stdout + proc.stderr)
        elif proc.returncode:
            _fail(block, f"command exited with {proc.returncode}: $ {cmd}", proc.stdout + proc.stderr)
        if block.check_output and not output_matches(expected, proc.stdout + proc.stderr):
            _fail(block, f"output of `$ {cmd}` differs from the docs\n--- expected ---\n"
                  + "\n".join(expected), proc.stdout + proc.stderr)


def _run_python(block: Block, namespace: dict) -> None:
    if ">>>" in block.text:
        test = doctest.DocTestParser().get_doctest(block.text, namespace, block.where, str(block.path), block.line)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        report: list[str] = []
        runner.run(test, out=report.append, clear_globs=False)
        namespace.update(test.globs)
        if runner.failures:
            _fail(block, f"doctest failed ({runner.failures} example(s))", "".join(report))
        return
    try:
        code = compile(block.text, block.where, "exec")
        exec(code, namespace)  # noqa: S102 - the docs are this project's own code
    except Exception as exc:  # noqa: BLE001
        import traceback

        _fail(block, f"raised {type(exc).__name__}: {exc}", traceback.format_exc())


def _params():
    for path in DOC_FILES:
        marks = [pytest.mark.slow] if path.name in SLOW else []
        yield pytest.param(path, id=str(path.relative_to(ROOT)), marks=marks)


# ------------------------------------------------------------------------------------- tests


def test_doc_files_found():
    assert (ROOT / "README.md") in DOC_FILES and len(DOC_FILES) >= 2


@pytest.mark.parametrize("path", DOC_FILES, ids=[str(p.relative_to(ROOT)) for p in DOC_FILES])
def test_every_skip_says_why(path):
    for block in parse_blocks(path):
        if block.skip is not None:
            assert block.skip, f"{block.where}: a docs-test skip marker needs a reason (and its CPU time)"
            assert block.lang in RUN, f"{block.where}: skip marker on a ```{block.lang} block, which never runs"
        if block.check_output:
            assert block.lang == "console", f"{block.where}: check-output needs a ```console block"


@pytest.mark.parametrize("path", list(_params()))
def test_doc_runs(path, tmp_path, request, fkgen_bin, monkeypatch):
    blocks = [b for b in parse_blocks(path) if b.lang in RUN and b.skip is None]
    if not blocks:
        pytest.skip(f"{path.name} has no runnable block")
    uses_model = any(re.search(r"\bMODEL\b", b.text) for b in blocks)
    model = request.getfixturevalue("docs_model") if uses_model else None
    env = _env(fkgen_bin, model)
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TOKENIZERS_PARALLELISM", "HF_DATASETS_OFFLINE",
                "HF_HUB_OFFLINE", "FK_DOCS_LIMIT"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.setenv("PATH", env["PATH"])
    monkeypatch.chdir(tmp_path)
    if (ROOT / "releases").is_dir():
        shutil.copytree(ROOT / "releases", tmp_path / "releases")
    namespace: dict = {"__name__": "__docs__"}
    if model is not None:
        namespace["MODEL"] = str(model)
    for block in blocks:
        if block.lang == "python":
            _run_python(block, namespace)
        else:
            _run_shell(block, tmp_path, env)
    shutil.rmtree(tmp_path, ignore_errors=True)


# ------------------------------------------------------------------------ the harness itself


def test_harness_parses_markers_commands_and_output(tmp_path):
    md = tmp_path / "x.md"
    md.write_text(textwrap.dedent("""\
        <!-- docs-test: skip — trains a model; about 20 min of CPU -->

        ```python
        train()
        ```

        <!-- docs-test: check-output -->
        ```console
        $ echo a \\
            b
        a b
        $ python - <<'EOF'
        print(1)
        EOF
        1
        ```
        ```text
        $ not run
        ```
        """))
    blocks = parse_blocks(md)
    assert [(b.lang, b.line, b.skip, b.check_output) for b in blocks] == [
        ("python", 3, "trains a model; about 20 min of CPU", False), ("console", 8, None, True),
        ("text", 17, None, False)]
    assert console_commands(blocks[1].text) == [("echo a \\\n    b", ["a b"]),
                                                ("python - <<'EOF'\nprint(1)\nEOF", ["1"])]


@pytest.mark.parametrize("expected, actual, ok", [
    (["a", "b"], "a\nb\n", True),
    (["a", "b"], "a\nc\n", False),
    (["a", "..."], "a\nb\nc", True),
    (["...", "c"], "a\nb\nc", True),
    (["wrote x in ...s"], "wrote x in 3.1s", True),
    (["wrote x in ...s"], "wrote y in 3.1s", False),
    (["a"], "a\nextra", False),
    ([], "", True),
])
def test_output_matching(expected, actual, ok):
    assert output_matches(expected, actual) is ok


# ------------------------------------------------------- figures in the docs come from the code


def _matches(shown, real, where: str) -> None:
    """``shown`` (a README example, long fields cut with "…") agrees with the real value."""
    if isinstance(shown, dict):
        assert isinstance(real, dict), f"{where}: expected an object, the build has {real!r}"
        for key, value in shown.items():
            if key in ("...", "…"):
                continue
            assert key in real, f"{where}: the build's row has no field {key!r}"
            _matches(value, real[key], f"{where}.{key}")
    elif isinstance(shown, list):
        assert isinstance(real, list), f"{where}: expected a list, the build has {real!r}"
        cut = [i for i, v in enumerate(shown) if isinstance(v, str) and v.startswith("…")]
        items = shown[:cut[0]] if cut else shown
        if not cut:
            assert len(real) == len(shown), f"{where}: {len(shown)} items shown, the build has {len(real)}"
        for i, value in enumerate(items):
            _matches(value, real[i], f"{where}[{i}]")
    elif isinstance(shown, str) and "…" in shown:
        pos = 0
        for piece in (p.strip() for p in shown.split("…")):
            found = real.find(piece, pos)
            assert piece == "" or (found == 0 if pos == 0 and not shown.startswith("…") else found >= 0), \
                f"{where}: {piece!r} is not in the build's {real[:200]!r}"
            pos = max(pos, found + len(piece)) if piece else pos
    else:
        assert shown == real, f"{where}: the docs show {shown!r}, the build has {real!r}"


def _jsonc_rows(text: str) -> list[tuple[str, dict]]:
    """(config, object) pairs of a ```jsonc block: a ``// config`` comment, then JSON objects."""
    import json

    out, config, buf = [], None, []
    for line in text.split("\n") + ["// end"]:
        if line.startswith("//"):
            if buf:
                out.append((config, json.loads("\n".join(buf))))
                buf = []
            config = line[2:].strip().split(" ")[0]
        elif line.strip():
            buf.append(line)
    return out


@pytest.mark.slow
def test_readme_example_rows_are_real_rows_of_seed_0(tmp_path):
    """README "The data" shows one row of each config of release v1.0.0 (= `fkgen build --seed 0`):
    every field shown is the build's value (long fields may be cut with "…")."""
    from fictional_knowledge.dataset.builder import build
    from fictional_knowledge.dataset.io import read_rows
    from fictional_knowledge.models import BuildConfig

    blocks = [b for b in parse_blocks(ROOT / "README.md") if b.lang == "jsonc"]
    assert len(blocks) == 1, "README.md should have one ```jsonc block of example rows"
    examples = _jsonc_rows(blocks[0].text)
    assert {c for c, _ in examples} >= {"entities", "facts", "passages", "probes", "statements", "qa",
                                        "fictional_knowledge"}
    out = tmp_path / "seed-0"
    build(BuildConfig(seed=0), out, workers=1)
    for config, shown in examples:
        key = "id" if "id" in shown else "passage_id"
        rows = {r[key]: r for r in read_rows(out, config)}
        assert shown[key] in rows, f"README.md:{blocks[0].line}: {config} row {shown[key]} is not in seed 0's build"
        _matches(shown, rows[shown[key]], f"README.md:{blocks[0].line} {config} {shown[key]}")


def test_example_matcher_catches_differences():
    _matches({"a": "Napubez is a … country", "b": [1, "…"]}, {"a": "Napubez is a big country", "b": [1, 2]}, "x")
    for shown in ({"a": "Tonya"}, {"a": "Napubez was … country"}, {"b": [2, "…"]}, {"c": 1}):
        with pytest.raises(AssertionError):
            _matches(shown, {"a": "Napubez is a big country", "b": [1, 2]}, "x")
