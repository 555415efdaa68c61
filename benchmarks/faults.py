"""Fault suite: every ``fkgen`` subcommand walked through a table of bad inputs and faults.

Each case runs ``fkgen`` (in-process through typer's CliRunner, or as a subprocess where it needs
signals, resource limits or a second process) in a workspace holding a tiny build, a regime, a
release, a results file, a probe log, a user's folder and a plain file. A case is *clean* when

- the exit code is the expected one (2 bad input, 1 runtime failure, 130 Ctrl-C, 0 recovered),
- a failing case prints exactly one non-empty line on stderr, starting ``error: ``,
- nothing prints a traceback (nor the "unexpected …" line of an error no check anticipated),
- it ends within its time limit (else: *hang*), and
- every file that existed before (build, regime, release, user files…) is byte-identical after
  (else: *data loss*), and the case's own check (no temp folder left…) holds.

Run ``python benchmarks/faults.py`` for the table (``-v`` lists every case, ``-k TEXT`` filters);
``tests/test_faults.py`` runs the same table under pytest.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

IN_PROCESS_LIMIT = 120  # seconds before a case counts as a hang
SUBPROCESS_LIMIT = 120


@dataclass
class Case:
    cls: str                      # fault class, for the table
    cmd: str                      # fkgen arguments; {b} {r} {rel} {u} {f} {ro} {log} {res} {c} {ws} are filled in
    code: int                     # expected exit code
    setup: Optional[Callable] = None   # setup(ctx) before the run (corrupt copies, blocked modules…)
    check: Optional[Callable] = None   # check(ctx, outcome) -> problem text or None
    runner: str = "cli"           # cli (in-process), proc (subprocess) or a custom callable name
    xfail: Optional[str] = None   # reason, for cases fixed on another branch
    id: str = ""

    def __post_init__(self):
        if not self.id:
            desc = getattr(self.setup, "desc", "")
            self.id = f"{self.cls}: {self.cmd}" + (f" ({desc})" if desc else "")


@dataclass
class Outcome:
    code: Optional[int]
    stdout: str = ""
    stderr: str = ""
    hang: bool = False
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def traceback(self) -> bool:
        text = self.stdout + self.stderr
        return "Traceback (most recent call last)" in text or "FKGEN_DEBUG=1 for the traceback" in text


class Ctx:
    """Paths of the shared workspace and of this case's scratch folder ``c``."""

    def __init__(self, ws: Path, case_dir: Path):
        self.ws, self.c = ws, case_dir
        self.paths = {"ws": ws, "c": case_dir, "b": ws / "b", "r": ws / "r", "rel": ws / "releases" / "v1.0.0",
                      "u": ws / "u", "f": ws / "f", "log": ws / "log.jsonl", "res": ws / "res.json",
                      "ro": read_only_dir(ws)}
        self.restore: list[Callable] = []

    def fmt(self, cmd: str) -> list[str]:
        return [a.format(**{k: str(v) for k, v in self.paths.items()}) for a in shlex.split(cmd)]

    def __getattr__(self, name):
        try:
            return self.__dict__["paths"][name]
        except KeyError:
            raise AttributeError(name) from None


def read_only_dir(ws: Path) -> Path:
    """A folder this process cannot write: a chmod 555 folder, or /proc/self when running as root
    (root ignores permission bits)."""
    ro = ws / "ro"
    if not ro.exists():
        ro.mkdir()
        (ro / "keep.txt").write_text("keep")
        ro.chmod(0o555)
    return ro if not os.access(ro, os.W_OK) else Path("/proc/self")


# ----------------------------------------------------------------------------------------------
# the workspace


def make_workspace(ws: Path) -> None:
    """A tiny build, a regime, a release, results, a probe log, a user folder and a file."""
    from fictional_knowledge.dataset.builder import build
    from fictional_knowledge.models import BuildConfig
    from fictional_knowledge.regimes import make_regime
    from fictional_knowledge.release.core import make_release

    ws.mkdir(parents=True, exist_ok=True)
    config = BuildConfig(entities=12)
    build(config, ws / "b", workers=1)
    make_regime("forget", ws / "b", ws / "r")
    make_release("v1.0.0", config, releases_dir=ws / "releases", data_out=ws / "builds" / "v1.0.0",
                 workers=1, released="2025-01-01")
    (ws / "u").mkdir()
    (ws / "u" / "thesis.tex").write_text("\\documentclass{article} years of work")
    (ws / "f").write_text("a plain file\n")
    (ws / "res.json").write_text(results_json("fixture/a", "fp-A"))
    (ws / "res2.json").write_text(results_json("fixture/b", "fp-B"))
    write_log(ws / "log.jsonl")
    read_only_dir(ws)


def results_json(model: str, fingerprint: str) -> str:
    from fictional_knowledge.evaluate.results import Results

    scores = {k: {"n": 10, "loss": 2.0, "loss_sum": 4.0, "first_token_loss": 3.0, "exact_match": 0.5}
              for k in ("memorization", "semantic", "compositional")}
    scores["qa"] = {"n": 10, "mc_accuracy": 0.5, "generation_exact_match": 0.25}
    return Results(package_version="0.1.0", model=model, dataset={"path": "b", "package_version": "0.1.0", "seed": 0,
                                                            "fingerprints": {"probes": fingerprint}},
                   settings={}, scores=scores, created_at="2025-01-01T00:00:00Z").model_dump_json(indent=2)


def write_log(path: Path) -> None:
    rows = []
    for kind in ("memorization", "semantic", "compositional"):
        for n in range(3):
            for step in range(0, 121):
                loss = 5.0 - (1.0 if step >= 3 else step / 3) * (1 - 0.1 * (step > 3) * min(1.0, (step - 3) / 100))
                rows.append({"step": step, "probe_id": f"{kind}-{n}", "kind": kind, "loss": loss + 0.01 * n,
                             "loss_sum": 2 * loss, "first_token_loss": loss + 1, "n_tokens": 2})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def snapshot(ws: Path) -> dict[str, str]:
    """sha256 of every file in the workspace except the cases' scratch folders."""
    out = {}
    for folder, dirs, files in os.walk(ws):
        if Path(folder) == ws:
            dirs[:] = [d for d in dirs if d != "cases"]
        for name in files:
            p = Path(folder) / name
            try:
                out[str(p.relative_to(ws))] = hashlib.sha256(p.read_bytes()).hexdigest()
            except OSError:
                out[str(p.relative_to(ws))] = "unreadable"
    return out


# ----------------------------------------------------------------------------------------------
# setups: corrupt copies and blocked modules


def described(desc: str):
    def wrap(setup):
        setup.desc = desc
        return setup
    return wrap


def big_build(dst: str = "big", entities: int = 4000):
    """A build large enough that validate, verify and regimes take several seconds."""
    @described(f"a {entities}-entity build")
    def setup(ctx: Ctx) -> Path:
        from fictional_knowledge import build
        from fictional_knowledge.models import BuildConfig

        build(BuildConfig(entities=entities), ctx.c / dst, workers=2)
        return ctx.c / dst
    return setup


def copy_of(src: str, dst: str = "x"):
    @described(f"copy of {src}")
    def setup(ctx: Ctx) -> Path:
        shutil.copytree(ctx.paths[src], ctx.c / dst)
        return ctx.c / dst
    return setup


def corrupt(src: str, config: str, how: str, dst: str = "x"):
    """A copy of build/release ``src`` whose first ``config`` parquet file is damaged."""
    @described(f"{src} with {how} {config} parquet")
    def setup(ctx: Ctx) -> None:
        folder = copy_of(src, dst)(ctx)
        path = sorted((folder / "data" / config).glob("*.parquet"))[0]
        data = path.read_bytes()
        if how == "garbage":
            path.write_bytes(b"not a parquet file at all" * 10)
        elif how == "truncate":
            path.write_bytes(data[: len(data) // 2])
        elif how == "empty":
            path.write_bytes(b"")
        elif how == "flip":
            mid = len(data) // 2
            path.write_bytes(data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1:])
    return setup


def rewrite(src: str, config: str, change: Callable[[list[dict]], list[dict]], dst: str = "x", drop: str = ""):
    """A copy of build ``src`` whose ``config`` rows are changed (a valid parquet file)."""
    @described(f"{src} with {config} rows changed")
    def setup(ctx: Ctx) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        folder = copy_of(src, dst)(ctx)
        path = sorted((folder / "data" / config).glob("*.parquet"))[0]
        table = pq.read_table(path)
        if drop:
            table = table.drop_columns([drop])
            pq.write_table(table, path)
            return
        pq.write_table(pa.Table.from_pylist(change(table.to_pylist())), path)
    return setup


def edit_file(src: str, name: str, text: Optional[bytes | str], dst: str = "x"):
    """A copy of ``src`` with file ``name`` replaced by ``text`` (None: deleted)."""
    @described(f"{src} with {name} " + ("deleted" if text is None else f"= {text[:12]!r}"))
    def setup(ctx: Ctx) -> None:
        folder = copy_of(src, dst)(ctx)
        if text is None:
            (folder / name).unlink()
        elif isinstance(text, bytes):
            (folder / name).write_bytes(text)
        else:
            (folder / name).write_text(text)
    return setup


def edit_json(src: str, name: str, change: Callable[[dict], None], dst: str = "x"):
    def setup(ctx: Ctx) -> None:
        folder = copy_of(src, dst)(ctx)
        data = json.loads((folder / name).read_text())
        change(data)
        (folder / name).write_text(json.dumps(data))
    return setup


def edit_sha(src: str, name: str, dst: str = "x"):
    """A copy of ``src`` whose file ``name`` has its first sha256 value zeroed."""
    def setup(ctx: Ctx) -> None:
        import re

        folder = copy_of(src, dst)(ctx)
        text = (folder / name).read_text()
        (folder / name).write_text(re.sub(r"[0-9a-f]{64}", "0" * 64, text, count=1))
    return setup


def folder_with(files: dict[str, str | bytes], dst: str = "x"):
    @described(f"{dst}/ holding {', '.join(f'{k}={v[:24]!r}' for k, v in files.items()) or 'nothing'}")
    def setup(ctx: Ctx) -> None:
        (ctx.c / dst).mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            path = ctx.c / dst / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return setup


def file_with(text: str | bytes, name: str):
    @described(f"{name} = {text[:16]!r}")
    def setup(ctx: Ctx) -> None:
        (ctx.c / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    return setup


def symlink_to(src: str, name: str = "link"):
    @described(f"{name} -> {src}")
    def setup(ctx: Ctx) -> None:
        (ctx.c / name).symlink_to(ctx.paths[src])
    return setup


def block_module(*names: str):
    """Make ``import NAME`` fail as if the optional extra were not installed."""
    @described(f"without {', '.join(names)}")
    def setup(ctx: Ctx) -> None:
        saved = {n: sys.modules.get(n, False) for n in names}
        for n in names:
            sys.modules[n] = None  # type: ignore[assignment]

        def undo():
            for n, mod in saved.items():
                if mod is False:
                    sys.modules.pop(n, None)
                else:
                    sys.modules[n] = mod
        ctx.restore.append(undo)
    return setup


@described("a tiny random GPT-2")
def with_model(ctx: Ctx) -> None:
    """A tiny random GPT-2 with a tokenizer trained on the build's passages, made once per
    workspace (tests/tinymodel.py; nothing is downloaded)."""
    if (ctx.ws / "model" / "config.json").is_file():
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from tinymodel import make_tiny_model

    from fictional_knowledge.dataset.io import read_rows

    from transformers.utils import logging as hf_logging

    texts = [p["text"] for p in read_rows(ctx.ws / "b", "passages")]
    hf_logging.disable_progress_bar()
    try:
        make_tiny_model(ctx.ws / "model", texts, vocab_size=300, n_layer=1, n_embd=32, n_head=2)
    finally:
        hf_logging.enable_progress_bar()


def both(*setups):
    @described(", ".join(getattr(s, "desc", "") for s in setups))
    def setup(ctx: Ctx) -> None:
        for s in setups:
            s(ctx)
    return setup


def _answer_index_9(rows):
    rows[0]["answer_index"] = 9
    return rows


def _empty_choices(rows):
    rows[0]["choices"] = []
    return rows


def _null_text(rows):
    rows[0]["text"] = None
    return rows


def _drop_row(rows):
    return rows[1:]


# checks


def no_leftovers(*names: str):
    """No ``.NAME.tmp-*`` / ``.NAME.old-*`` / ``.NAME.lock`` beside the case's outputs."""
    def check(ctx: Ctx, out: Outcome) -> Optional[str]:
        for name in names:
            left = [p.name for p in ctx.c.iterdir() if p.name.startswith(f".{name}.")]
            if left:
                return f"left behind: {left}"
        return None
    return check


def absent(*names: str):
    def check(ctx: Ctx, out: Outcome) -> Optional[str]:
        there = [n for n in names if (ctx.c / n).exists()]
        return f"half-written output exists: {there}" if there else None
    return check


def says(text: str):
    def check(ctx: Ctx, out: Outcome) -> Optional[str]:
        return None if text in out.stderr else f"stderr lacks {text!r}"
    return check


def all_of(*checks):
    def check(ctx: Ctx, out: Outcome) -> Optional[str]:
        for c in checks:
            problem = c(ctx, out)
            if problem:
                return problem
        return None
    return check


# ----------------------------------------------------------------------------------------------
# runners


def run_cli(ctx: Ctx, argv: list[str]) -> Outcome:
    from typer.testing import CliRunner

    from fictional_knowledge.cli import app

    class Hang(BaseException):
        pass

    def alarm(signum, frame):
        raise Hang()

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(IN_PROCESS_LIMIT)
    cwd = os.getcwd()
    os.chdir(ctx.c)
    try:
        res = CliRunner().invoke(app, argv, env={"HF_HUB_OFFLINE": "1", "FKGEN_DEBUG": None})
        out = Outcome(res.exit_code, res.stdout, res.stderr)
        if res.exception is not None and not isinstance(res.exception, SystemExit):
            import traceback

            out.stderr += "".join(traceback.format_exception(res.exception))
    except Hang:
        out = Outcome(None, hang=True)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        os.chdir(cwd)
    return out


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
            "PYTHONWARNINGS": "ignore"}


def _default_sigint() -> None:
    """In the child, before exec: Ctrl-C back to its default, so that Python installs its own
    handler. A process started with SIGINT ignored (a suite run under ``nohup`` or ``cmd &`` from a
    non-interactive shell) passes that on, and the interrupt cases would then see a build that
    cannot be interrupted."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _popen(ctx: Ctx, argv: list[str], **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "fictional_knowledge", *argv], cwd=ctx.c, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint, **kw)


def _finish(p: subprocess.Popen, limit: float = SUBPROCESS_LIMIT) -> Outcome:
    try:
        stdout, stderr = p.communicate(timeout=limit)
        return Outcome(p.returncode, stdout, stderr)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL) if p.pid else None
        p.communicate()
        return Outcome(None, hang=True)


def run_proc(ctx: Ctx, argv: list[str]) -> Outcome:
    return _finish(_popen(ctx, argv, start_new_session=True))


def _wait_for(pattern: str, folder: Path, limit: float = 60) -> bool:
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if list(folder.glob(pattern)):
            return True
        time.sleep(0.02)
    return False


def run_sigint(ctx: Ctx, argv: list[str]) -> Outcome:
    """Ctrl-C as a terminal sends it (to the whole process group) once the build writes."""
    p = _popen(ctx, argv, start_new_session=True)
    name = Path(argv[argv.index("--out") + 1]).name
    if not _wait_for(f".{name}.tmp-*/data/*/*.parquet", Path(argv[argv.index("--out") + 1]).parent):
        time.sleep(0.5)
    os.killpg(p.pid, signal.SIGINT)
    start = time.perf_counter()
    out = _finish(p, limit=30)
    out.stdout += f"\n[exited {time.perf_counter() - start:.2f}s after SIGINT]"
    return out


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``), 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_sigint_working(ctx: Ctx, argv: list[str]) -> Outcome:
    """Ctrl-C once the command has done some work (3 s of CPU: past start-up and imports), for
    commands that write no temp folder to wait for (validate, verify) or write it only at the end."""
    p = _popen(ctx, argv, start_new_session=True)
    start = time.monotonic()
    while p.poll() is None and _cpu_seconds(p.pid) < 3.0 and time.monotonic() - start < 60:
        time.sleep(0.05)
    if p.poll() is not None:
        out = _finish(p)
        out.problems.append("the command ended before the interrupt: the case tested nothing")
        return out
    os.killpg(p.pid, signal.SIGINT)
    start = time.perf_counter()
    out = _finish(p, limit=30)
    out.stdout += f"\n[exited {time.perf_counter() - start:.2f}s after SIGINT]"
    if time.perf_counter() - start > 5:
        out.problems.append(f"exited {time.perf_counter() - start:.1f}s after Ctrl-C (the limit is 5 s)")
    return out


def run_sigterm(ctx: Ctx, argv: list[str]) -> Outcome:
    """``kill PID`` (SIGTERM to the main process only) once the build writes."""
    p = _popen(ctx, argv, start_new_session=True)
    out_dir = Path(argv[argv.index("--out") + 1])
    if not _wait_for(f".{out_dir.name}.tmp-*/data/*/*.parquet", out_dir.parent):
        time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    start = time.perf_counter()
    out = _finish(p, limit=30)
    out.stdout += f"\n[exited {time.perf_counter() - start:.2f}s after SIGTERM]"
    return out


def run_kill9_then_rerun(ctx: Ctx, argv: list[str]) -> Outcome:
    """kill -9 a build in the middle, then run the same command again: it must succeed, remove
    the killed run's temp folder and leave no leftovers."""
    out_dir = Path(argv[argv.index("--out") + 1])
    p = _popen(ctx, argv, start_new_session=True)
    _wait_for(f".{out_dir.name}.tmp-*/data/*/*.parquet", out_dir.parent)
    os.killpg(p.pid, signal.SIGKILL)
    p.communicate()
    killed_left = [x.name for x in out_dir.parent.glob(f".{out_dir.name}.tmp-*")]
    small = [a if a != "3000" else "12" for a in argv]
    out = run_proc(ctx, small)
    if not killed_left:
        out.problems.append("the killed run left no temp folder: the case did not test cleanup")
    return out


def run_concurrent(ctx: Ctx, argv: list[str]) -> Outcome:
    """A second writer to the same output while the first runs: it must refuse (exit 1) and the
    first must finish normally."""
    out_dir = Path(argv[argv.index("--out") + 1])
    first = _popen(ctx, argv, start_new_session=True)
    _wait_for(f".{out_dir.name}.tmp-*", out_dir.parent)
    second = run_proc(ctx, [a if a != "3000" else "12" for a in argv])
    os.killpg(first.pid, signal.SIGINT)
    first_out = _finish(first, limit=30)
    if first_out.code not in (0, 130):
        second.problems.append(f"the first writer ended with {first_out.code}: {first_out.stderr[-200:]}")
    return second


def run_fsize(limit_bytes: int):
    """The command under a file-size limit (RLIMIT_FSIZE): writes fail with EFBIG."""
    def runner(ctx: Ctx, argv: list[str]) -> Outcome:
        import resource

        def limit():
            _default_sigint()
            os.setsid()
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
        p = subprocess.Popen([sys.executable, "-m", "fictional_knowledge", *argv], cwd=ctx.c, env=_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=limit)
        return _finish(p)
    return runner


RUNNERS = {"cli": run_cli, "proc": run_proc, "sigint": run_sigint, "sigint_working": run_sigint_working,
           "sigterm": run_sigterm, "kill9": run_kill9_then_rerun,
           "concurrent": run_concurrent, "fsize20k": run_fsize(20_000), "fsize2k": run_fsize(2_000),
           "fsize500": run_fsize(500)}


# ----------------------------------------------------------------------------------------------
# the table

VAL = None  # were fixed on branch val, now merged: these run as normal cases


def cases() -> list[Case]:
    C = Case
    o = "--out {c}/o"
    t = []
    # build: options out of range, refused before any work
    for opts in ["--entities 0", "--entities -5", "--entities x", "--entities 5000000", "--entities 1000000000",
                 "--paraphrases 10", "--paraphrases -1", "--memorization -1", "--memorization 1000",
                 "--semantic 5 --memorization 1", "--compositional 7", "--compositional -1", "--min-words 0",
                 "--max-words 0", "--max-words 1", "--min-words 1 --max-words 1 --entities 12",
                 "--memorization 60 --semantic 0 --entities 12", "--min-words 700 --max-words 600",
                 "--workers 0", "--workers -2", "--shard 1", "--shard a/b", "--shard 2/2", "--shard -1/3",
                 "--shard 0/0", "--seed x", "--bogus", "--entities", "--seed 1.5", "--min-words 100000000"]:
        t.append(C("build option", f"build {opts} {o}", 2, check=absent("o")))
    t.append(C("build option", "build extra-arg", 2))
    # build: outputs that must be refused (and never destroyed)
    for cmd, setup in [('build --entities 12 --out ""', None), ('build --entities 12 --out "" --overwrite', None),
                       ("build --entities 12 --out . --overwrite", None), ("build --entities 12 --out {f}", None),
                       ("build --entities 12 --out {f} --overwrite", None),
                       ("build --entities 12 --out {ro}/o", None), ("build --entities 12 --out {u}", None),
                       ("build --entities 12 --out {u} --overwrite", None), ("build --entities 12 --out {b}", None),
                       ("build --entities 12 --out / --overwrite", None),
                       ("build --entities 12 --out {c}/link --overwrite", symlink_to("b")),
                       ("build --entities 12 --out {f}/sub", None),
                       ("build --entities 12 --out {c}/x --overwrite", folder_with({"manifest.json": "{garbage"})),
                       ("build --entities 12 --out {c}/x --overwrite",
                        folder_with({"manifest.json": '{"name": "my web app", "icons": []}', "app.js": "x"})),
                       ("build --entities 12 --out {c}/x --overwrite", folder_with({"manifest.json": b"\xff\xfe\x00"})),
                       ("build --entities 12 --out {c}/x --overwrite", folder_with({"notes/a.txt": "mine"})),
                       ("build --entities 12 --out {r}", None),
                       ("regime forget {b} --out {b}", None)]:
        t.append(C("output refused", cmd, 2, setup=setup))
    t.append(C("output refused", "build --entities 12", 2, setup=file_with("x", "builds"),
               id="output refused: default --out under a file named builds"))
    # validate / show / schemas
    bad_builds = [("missing folder", None, "{c}/missing"), ("a file", None, "{f}"),
                  ("empty folder", folder_with({}), "{c}/x"),
                  ("garbage parquet", corrupt("b", "entities", "garbage"), "{c}/x"),
                  ("truncated parquet", corrupt("b", "probes", "truncate"), "{c}/x"),
                  ("empty parquet", corrupt("b", "qa", "empty"), "{c}/x"),
                  ("no manifest", edit_file("b", "manifest.json", None), "{c}/x"),
                  ("garbage manifest", edit_file("b", "manifest.json", "{not json"), "{c}/x"),
                  ("non-UTF-8 manifest", edit_file("b", "manifest.json", b"\xff\xfe{}"), "{c}/x"),
                  ("manifest of another schema", edit_file("b", "manifest.json", '{"a": 1}'), "{c}/x")]
    for name, setup, path in bad_builds:
        t.append(C("validate bad build", f"validate {path}", 2 if name in ("missing folder", "a file") else 1,
                   setup=setup, id=f"validate: {name}", xfail=VAL if name == "non-UTF-8 manifest" else None))
        t.append(C("show bad build", f"show {path} Doravel", 2, setup=setup, id=f"show: {name}"))
    for name, setup in [("answer_index 9", rewrite("b", "qa", _answer_index_9)),
                        ("empty choices", rewrite("b", "qa", _empty_choices)),
                        ("null passage text", rewrite("b", "passages", _null_text)),
                        ("dropped column", rewrite("b", "qa", None, drop="choices")),
                        ("dropped row", rewrite("b", "facts", _drop_row))]:
        t.append(C("validate bad rows", "validate {c}/x", 1, setup=setup, id=f"validate: {name}",
                   xfail=None if name == "dropped row" else VAL))
    t += [C("show", "show {b} no-such-entity", 2), C("show", "show {b}", 2), C("show", "show", 2)]
    for cmd in ["schemas --out {f}", "schemas --out {ro}/s", 'schemas --out ""', "schemas --out {f}/x",
                "schemas --out {c}/link"]:
        t.append(C("schemas output", cmd, 2, setup=symlink_to("u") if "link" in cmd else None))
    # lm-eval-tasks
    for cmd, setup in [("lm-eval-tasks --data {b} --out {f}", None), ("lm-eval-tasks --data {b} --out {u}", None),
                       ("lm-eval-tasks --revision v1", None), ("lm-eval-tasks --data {c}/missing --out {c}/t", None),
                       ("lm-eval-tasks --data {b} --revision v1 --out {c}/t", None),
                       ("lm-eval-tasks --data not-a-repo --out {c}/t", None),
                       ("lm-eval-tasks --data {b} --out {ro}/t", None),
                       ("lm-eval-tasks --data {c}/x --out {c}/t", folder_with({})),
                       ('lm-eval-tasks --data {b} --out ""', None)]:
        t.append(C("lm-eval-tasks", cmd, 2, setup=setup, check=absent("t")))
    # leaderboard and hub-eval-yaml
    for cmd, setup in [("leaderboard {c}/missing.json --out {c}/lb", None),
                       ("leaderboard {c}/x.json --out {c}/lb", file_with("{garbage", "x.json")),
                       ("leaderboard {c}/x.json --out {c}/lb", file_with(b"\xff\xfe\x00{", "x.json")),
                       ("leaderboard {c}/x.json --out {c}/lb", file_with("[]", "x.json")),
                       ("leaderboard {c}/x.json --out {c}/lb", file_with('{"model": 1}', "x.json")),
                       ("leaderboard {res} --out {f}", None), ("leaderboard {res} --out {u}", None),
                       ("leaderboard {res} --out {c}/lb --sort-by bogus", None),
                       ("leaderboard {res} --out {c}/lb --sort-by mean_exact_match:sideways", None),
                       ("leaderboard {res} --out {ro}/lb", None), ("leaderboard --out {c}/lb", None),
                       ("leaderboard {res} {ws}/res2.json --out {c}/lb", None),
                       ("leaderboard {u} --out {c}/lb", None), ('leaderboard {res} --out ""', None)]:
        t.append(C("leaderboard", cmd, 2, setup=setup, check=absent("lb")))
    for cmd, setup in [("hub-eval-yaml {c}/missing", None), ("hub-eval-yaml {f}", None),
                       ("hub-eval-yaml {ro}", None),
                       ("hub-eval-yaml {c}/x", folder_with({"manifest.json": "{garbage"})),
                       ("hub-eval-yaml {c}/x", folder_with({"manifest.json": b"\xff\xfe{}"})),
                       ("hub-eval-yaml {c}/x", folder_with({"manifest.json": '{"configs": 7}'})),
                       ("hub-eval-yaml {c}/x", folder_with({"manifest.json": '{"configs": {"entities": {}}}'}))]:
        t.append(C("hub-eval-yaml", cmd, 2, setup=setup))
    # eval: everything checked before a model is loaded
    ev = "eval --model {c}/m --data {b} --out {c}/r.json"
    model = folder_with({"config.json": "{}"}, dst="m")
    for extra, setup, code in [("", None, 2), ("--kinds bogus", model, 2), ("--per-probe {c}/p.csv", model, 2),
                               ("--device tpu", model, 2), ("--dtype int8", model, 2), ("--batch-size 0", model, 2),
                               ("--limit 0", model, 2), ("--max-new-tokens 0", model, 2)]:
        t.append(C("eval option", f"{ev} {extra}", code, setup=setup, check=absent("r.json")))
    for cmd, setup in [("eval --model {c}/m --data {c}/missing --out {c}/r.json", model),
                       ("eval --model {c}/m --data {c}/x --out {c}/r.json",
                        both(model, edit_file("b", "manifest.json", "{garbage"))),
                       ("eval --model {c}/m --data {f} --out {c}/r.json", model),
                       ("eval --model {c}/m --data {b} --out {c}", model),
                       ("eval --model {c}/m --data {b} --out {ro}/r.json", model),
                       ("eval --model {c}/m --data {b} --out {f}/r.json", model),
                       ("eval --model {c}/m --data {b} --out {c}/r.json --per-probe {ro}/p.jsonl", model),
                       ("eval --model {c}/x --data {b} --out {c}/r.json", folder_with({"weights.bin": "x"})),
                       ("eval --data {b} --out {c}/r.json", None)]:
        t.append(C("eval input", cmd, 2, setup=setup, check=absent("r.json")))
    t.append(C("missing extra", "eval --model {c}/m --data {b} --out {c}/r.json", 1,
               setup=both(model, block_module("torch")), check=says("error: fkgen eval needs the 'bench' extra: pip install torch==2.13.0"),
               id="missing extra: eval without torch"))
    t.append(C("missing extra", "eval --model {c}/m --data {b} --out {c}/r.json --device cpu", 1,
               setup=both(model, block_module("transformers")), check=says("'bench' extra"),
               id="missing extra: eval without transformers"))
    # eval with a real (tiny) model: damaged data, and a write that fails over an old results file
    evm = "eval --model {ws}/model --out {c}/r.json --device cpu --batch-size 4 --quiet"
    for setup in [corrupt("b", "probes", "garbage"), corrupt("b", "qa", "truncate"),
                  rewrite("b", "probes", None, drop="target")]:
        t.append(C("eval data", f"{evm} --data {{c}}/x", 2, setup=both(with_model, setup), check=absent("r.json")))
    t.append(C("file-size limit", f"{evm} --data {{b}} --limit 2", 1, runner="fsize500",
               setup=both(with_model, file_with('{"old": "results, kept"}', "r.json")),
               check=all_of(no_leftovers("r.json"), says("file size limit")),
               id="file-size limit: eval over an old results file"))
    # dynamics
    dy = "--injections 0 --window 10 --out {c}/d --no-progress"
    for log, setup in [("{c}/missing.jsonl", None), ("{c}/x.jsonl", file_with("{garbage\n", "x.jsonl")),
                       ("{c}/x.jsonl", file_with(b"\xff\xfe\x00\n", "x.jsonl")),
                       ("{c}/x.txt", file_with("{}\n", "x.txt")), ("{c}/x.jsonl", file_with("", "x.jsonl")),
                       ("{c}/x.jsonl", file_with('{"a": 1}\n', "x.jsonl")),
                       ("{c}/x.parquet", file_with("not parquet", "x.parquet")), ("{f}", None)]:
        t.append(C("dynamics log", f"dynamics {log} {dy}", 2, setup=setup, check=absent("d")))
    for extra in ["--injections x", "--injections 5000", "--window 0", "--batch-size 8", "--group-injections once",
                  "--iqr-factor -1", "--reference-step 7777"]:
        t.append(C("dynamics option", f"dynamics {{log}} --out {{c}}/d --window 10 --no-progress {extra}"
                   + ("" if "--injections" in extra else " --injections 0"), 2, check=absent("d")))
    for out in ["{f}", "{u}", "{ro}/d", '""']:
        t.append(C("dynamics output", f"dynamics {{log}} --injections 0 --window 10 --no-progress --out {out}", 2))
    t.append(C("missing extra", f"dynamics {{log}} {dy}", 1, setup=block_module("matplotlib", "matplotlib.pyplot"),
               check=all_of(says("'bench' extra"), absent("d"), no_leftovers("d")),
               id="missing extra: dynamics without matplotlib writes nothing"))
    # regimes
    for cmd, setup in [("regime forget {c}/missing --out {c}/o", None), ("regime forget {f} --out {c}/o", None),
                       ("regime forget {c}/x --out {c}/o", corrupt("b", "qa", "garbage")),
                       ("regime frequency {c}/x --out {c}/o", corrupt("b", "facts", "empty")),
                       ("regime forget {c}/x --out {c}/o", corrupt("b", "qa", "truncate")),
                       ("regime forget {c}/x --out {c}/o", edit_file("b", "manifest.json", "{garbage")),
                       ("regime forget {c}/x --out {c}/o", edit_file("b", "manifest.json", None)),
                       ("regime forget {b} --out {u} --overwrite", None), ("regime forget {b} --out {r}", None),
                       ("regime forget {b} --out {f}", None), ('regime forget {b} --out ""', None),
                       ("regime forget {b} --out {ro}/o", None), ("regime forget {b} --out {rel}", None),
                       ("regime forget {b} --out {c}/o --percents x", None),
                       ("regime forget {b} --out {c}/o --percents 0", None),
                       ("regime forget {b} --out {c}/o --percents 200", None),
                       ("regime injection {b} --out {c}/o --steps x", None),
                       ("regime injection {b} --out {c}/o --group-sizes 100,100,100", None),
                       ("regime injection {b} --out {c}/o --select bogus", None),
                       ("regime injection {b} --out {c}/o --passages nosuch", None),
                       ("regime two-stage {b} --out {c}/o --train-fraction 2", None),
                       ("regime two-stage {b} --out {c}/o --multiplicity 0", None),
                       ("regime continual {b} --out {c}/o --stage1-fraction 0", None),
                       ("regime continual {b} --out {c}/o --mix-ratio -1", None),
                       ("regime continual {b} --out {c}/o --vocabulary {c}/missing.txt", None),
                       ("regime continual {b} --out {c}/o --vocabulary {c}/v.txt", file_with(b"\xff\xfe\n", "v.txt")),
                       ("regime continual {b} --out {c}/o --generic-source {c}/missing.txt", None),
                       ("regime frequency {b} --out {c}/o --exponent -1", None),
                       ("regime frequency {b} --out {c}/o --max-count 0", None),
                       ("regime bogus {b} --out {c}/o", None), ("regime forget {r} --out {c}/o", None)]:
        t.append(C("regime", cmd, 2, setup=setup, check=absent("o")))
    # release / verify / publish (run in the case folder: releases/ and builds/ are created there)
    rel = "release v2.0.0 --entities 12 --workers 1 --quiet"
    for cmd, setup in [("release v1 --entities 12", None), ("release 1.0.0 --entities 12", None),
                       ("release v01.0.0 --entities 12", None), (f"{rel} --hub-repo bad", None),
                       (f"{rel} --hub-repo a/b/c", None), ("release v2.0.0 --workers 0", None),
                       ("release v2.0.0 --entities 0", None),
                       ("release v1.0.0 --entities 12 --releases-dir {ws}/releases", None),
                       (f"{rel} --data-out {{u}}", None), (f"{rel} --data-out {{u}} --overwrite", None),
                       ("release v2.0.0 --entities 20 --workers 1 --quiet --data-out {b}", None),
                       (f"{rel} --releases-dir {{f}}", None), (f"{rel} --data-out {{f}}", None),
                       (f'{rel} --data-out ""', None), (f"{rel} --releases-dir {{ro}}", None)]:
        t.append(C("release", cmd, 2, setup=setup, check=absent("releases", "builds")))
    for name, setup, code, xf in [
            ("missing", None, 2, None), ("a file", None, 2, None), ("empty folder", folder_with({}), 2, None),
            ("garbage parquet", corrupt("b", "entities", "garbage"), 1, None),
            ("truncated parquet", corrupt("b", "probes", "truncate"), 1, None),
            ("garbage manifest", edit_file("b", "manifest.json", "{garbage"), 2, None),
            ("non-UTF-8 manifest", edit_file("b", "manifest.json", b"\xff\xfe"), 2, None),
            ("rows changed", rewrite("b", "facts", _drop_row), 1, None),
            ("release without croissant.json", edit_file("rel", "croissant.json", None), 1, VAL),
            ("release without README.md", edit_file("rel", "README.md", None), 1, VAL),
            ("release with garbage eval.yaml", edit_file("rel", "eval.yaml", "{[garbage"), 1, VAL),
            ("release.json without files", edit_json("rel", "release.json", lambda d: d.pop("files")), 1, VAL),
            ("release.json with an edited sha256",
             edit_json("rel", "release.json", lambda d: d["files"][0].update(sha256="0" * 64)), 1, VAL),
            ("croissant.json with an edited sha256", edit_sha("rel", "croissant.json"), 1, VAL),
            ("release with garbage release.json", edit_file("rel", "release.json", "{garbage"), 2, None)]:
        path = {"missing": "{c}/missing", "a file": "{f}"}.get(name, "{c}/x")
        t.append(C("verify", f"verify {path} --workers 1", code, setup=setup, xfail=xf, id=f"verify: {name}"))
    pub = "--repo org/name --dry-run --builds-dir {ws}/builds"
    for cmd, setup, code, xf in [
            (f"publish {{c}}/missing {pub}", None, 2, None), ("publish {rel} --repo bad --dry-run", None, 2, None),
            ("publish {rel} --repo a/b/c --dry-run", None, 2, None),
            (f"publish {{rel}} {pub} --data {{c}}/x", corrupt("b", "qa", "garbage"), 2, None),
            (f"publish {{rel}} {pub} --data {{u}}", None, 2, None),
            (f"publish {{rel}} {pub} --data {{r}}", None, 2, None),
            (f"publish {{c}}/x {pub}", folder_with({"manifest.json": "{}"}), 2, None),
            (f"publish {{c}}/v1.0.0 {pub}", edit_file("rel", "croissant.json", None, dst="v1.0.0"), 2, None),
            ("publish {rel} --repo org/name --builds-dir {ws}/builds --token x --endpoint http://127.0.0.1:9", None, 1,
             None)]:
        t.append(C("publish", cmd, code, setup=setup, xfail=xf))
    # stats: any corpus in, a table out
    for cmd, setup in [("stats {c}/missing", None), ("stats {f}", None), ("stats {u}", None),
                       ("stats {c}/x.json", file_with("{garbage", "x.json")),
                       ("stats {c}/x.jsonl", file_with('{"no_text": 1}\n', "x.jsonl")),
                       ("stats {c}/x.json", file_with(b"\xff\xfe\x00[", "x.json")),
                       ("stats {c}/x.json", file_with("[]", "x.json")),
                       ("stats {b} --sample 0", None), ("stats {b} --json {u}", None),
                       ("stats {b} --json {ro}/s.json", None), ("stats {c}/x", corrupt("b", "passages", "garbage"))]:
        t.append(C("stats", cmd, 2, setup=setup))
    # experiment: every bad option is refused before any training
    for cmd in ["experiment bogus --out {c}/e", "experiment frequency --scale huge --out {c}/e",
                "experiment frequency --scale smoke --set bogus=1 --out {c}/e",
                "experiment frequency --scale smoke --set lr --out {c}/e",
                "experiment frequency --scale smoke --threads 0 --out {c}/e",
                "experiment frequency --scale smoke --device tpu --out {c}/e",
                "experiment frequency --scale smoke --out {u}", "experiment frequency --scale smoke --out {f}",
                'experiment frequency --scale smoke --out ""']:
        t.append(C("experiment", cmd, 2, check=absent("e")))
    # the command line itself
    t += [C("usage", "bogus-command", 2), C("usage", "--bogus", 2), C("usage", "regime", 0),
          C("usage", "build --entities 1 --entities", 2)]
    # processes: interrupts, limits, concurrency, killed runs (subprocesses)
    big = "build --entities 3000 --workers 2 --quiet --out {c}/o"
    t += [
        C("interrupt", big, 130, runner="sigint", check=all_of(no_leftovers("o"), absent("o")),
          id="interrupt: Ctrl-C during a 2-worker build"),
        C("interrupt", "build --entities 3000 --workers 1 --quiet --out {c}/o", 130, runner="sigint",
          check=all_of(no_leftovers("o"), absent("o")), id="interrupt: Ctrl-C during a 1-worker build"),
        C("interrupt", "build --entities 3000 --workers 2 --quiet --overwrite --out {c}/x", 130, runner="sigint",
          setup=copy_of("b"), check=no_leftovers("x"), id="interrupt: Ctrl-C while replacing a build"),
        C("interrupt", "validate {c}/big", 130, runner="sigint_working", setup=big_build(),
          id="interrupt: Ctrl-C during validate"),
        C("interrupt", "verify {c}/big", 130, runner="sigint_working", setup=big_build(),
          id="interrupt: Ctrl-C during verify of a build"),
        C("interrupt", "regime frequency {c}/big --out {c}/r", 130, runner="sigint_working", setup=big_build(),
          check=all_of(no_leftovers("r"), absent("r")), id="interrupt: Ctrl-C during regime frequency"),
        C("interrupt", big, 143, runner="sigterm", check=all_of(no_leftovers("o"), absent("o"), says("terminated")),
          id="interrupt: SIGTERM (kill PID) during a 2-worker build"),
        C("concurrency", big, 1, runner="concurrent", check=says("is being written by another fkgen process"),
          id="concurrency: a second build into the same --out refuses"),
        C("killed run", big, 0, runner="kill9", check=no_leftovers("o"),
          id="killed run: kill -9, then the next build removes its temp folder"),
        C("file-size limit", "build --entities 200 --workers 1 --quiet --overwrite --out {c}/x", 1, runner="fsize20k",
          setup=copy_of("b"), check=all_of(no_leftovers("x"), says("file size limit")),
          id="file-size limit: build over an existing build"),
        C("file-size limit", "leaderboard {res} --out {c}/x", 1, runner="fsize2k",
          setup=folder_with({"leaderboard.json": "{}", "leaderboard.md": "old", "index.html": "old"}),
          check=all_of(no_leftovers("x"), says("file size limit")),
          id="file-size limit: leaderboard over an old leaderboard"),
        C("file-size limit", f"dynamics {{log}} --injections 0 --window 10 --no-progress --out {{c}}/x", 1,
          runner="fsize2k", setup=folder_with({"metrics.json": "{}", "summary.md": "old"}),
          check=all_of(no_leftovers("x"), says("file size limit")),
          id="file-size limit: dynamics over an old report"),
        C("file-size limit", "schemas --out {c}/x", 1, runner="fsize2k", setup=folder_with({"keep.txt": "mine"}),
          check=no_leftovers("x"), id="file-size limit: schemas"),
        C("file-size limit", "regime forget {b} --out {c}/x --overwrite", 1, runner="fsize2k",
          setup=copy_of("r"), check=no_leftovers("x"), id="file-size limit: regime over an existing regime"),
    ]
    return t


# ----------------------------------------------------------------------------------------------


def run_case(case: Case, ws: Path) -> Outcome:
    case_dir = Path(tempfile.mkdtemp(prefix="case-", dir=ws / "cases"))
    ctx = Ctx(ws, case_dir)
    pre_case = {}
    try:
        if case.setup:
            case.setup(ctx)
        pre_case = snapshot_dir(case_dir)
        before = snapshot(ws)
        start = time.perf_counter()
        out = RUNNERS[case.runner](ctx, ctx.fmt(case.cmd))
        out.seconds = time.perf_counter() - start
    finally:
        for undo in ctx.restore:
            undo()
    after = snapshot(ws)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k)
                     and not k.startswith("cases/"))
    if changed:
        out.problems.append(f"data loss: {changed[:3]}")
    # files the case set up (corrupt copies, user folders) must be unchanged too, unless replaced on purpose
    if case.code != 0:
        post = snapshot_dir(case_dir)
        lost = [k for k, v in pre_case.items() if post.get(k) != v]
        if lost:
            out.problems.append(f"data loss in the case's own files: {lost[:3]}")
    if case.check and not out.hang:
        problem = case.check(ctx, out)
        if problem:
            out.problems.append(problem)
    shutil.rmtree(case_dir, ignore_errors=True)
    return out


def snapshot_dir(folder: Path) -> dict[str, str]:
    out = {}
    for p in folder.rglob("*"):
        if p.is_file() and not p.is_symlink():
            out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def verdict(case: Case, out: Outcome) -> tuple[str, str]:
    """(category, detail): clean, traceback, hang, data loss or wrong."""
    if out.hang:
        return "hang", "no exit within the limit"
    if any(p.startswith("data loss") for p in out.problems):
        return "data loss", "; ".join(out.problems)
    if out.traceback:
        return "traceback", (out.stderr.strip().splitlines() or ["?"])[-1][:200]
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    if out.code != case.code:
        return "wrong", f"exit {out.code}, expected {case.code}: {' | '.join(lines)[:200]}"
    if case.code not in (0,) and (len(lines) != 1 or not lines[0].startswith("error: ")):
        return "wrong", f"stderr is not one error: line: {lines[:3]}"
    if out.problems:
        return "wrong", "; ".join(out.problems)[:200]
    return "clean", (lines[0] if lines else "")[:200]


def main(argv: Optional[list[str]] = None) -> int:
    import argparse
    import warnings

    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="print every case")
    parser.add_argument("-k", default="", help="only cases whose id contains this text")
    args = parser.parse_args(argv)
    todo = [c for c in cases() if args.k in c.id]
    counts = {"tried": 0, "clean": 0, "traceback": 0, "hang": 0, "data loss": 0, "wrong": 0}
    by_class: dict[str, dict[str, int]] = {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fk-faults-") as tmp:
        ws = Path(tmp) / "ws"
        make_workspace(ws)
        (ws / "cases").mkdir()
        for case in todo:
            out = run_case(case, ws)
            kind, detail = verdict(case, out)
            counts["tried"] += 1
            counts[kind] += 1
            row = by_class.setdefault(case.cls, {k: 0 for k in counts})
            row["tried"] += 1
            row[kind] += 1
            if args.verbose or kind != "clean":
                mark = f" [xfail: {case.xfail}]" if case.xfail else ""
                took = out.stdout.rsplit("[exited ", 1)[-1].rstrip("]") if "[exited " in out.stdout \
                    else f"{out.seconds:.1f}s"
                print(f"{kind:<9} {case.id}{mark}\n          {detail} ({took})", flush=True)
        ro = ws / "ro"
        if ro.exists():
            ro.chmod(0o755)
    print(f"\n{'fault class':<22}" + "".join(f"{k:>11}" for k in counts))
    for cls, row in by_class.items():
        print(f"{cls:<22}" + "".join(f"{row[k]:>11}" for k in counts))
    print(f"{'total':<22}" + "".join(f"{counts[k]:>11}" for k in counts))
    print(f"\n{counts['tried']} cases in {time.perf_counter() - start:.0f}s")
    return 0 if counts["clean"] == counts["tried"] else 1


if __name__ == "__main__":
    sys.exit(main())
