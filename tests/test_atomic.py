"""The one atomic writer: replace, crash recovery, lock, leftovers, permissions, refusals."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from fictional_knowledge import atomic
from fictional_knowledge.atomic import (OutputLocked, atomic_file, atomic_folder, check_out_path, held_by, leftovers,
                                        ours, recover, write_text)
from fictional_knowledge.errors import InputError


class Crash(BaseException):
    """Stands for the process dying at a given step (BaseException: no cleanup code catches it)."""


def _folder(path, text):
    path.mkdir()
    (path / "manifest.json").write_text('{"package": "fictional-knowledge", "v": "%s"}' % text)
    (path / "data.txt").write_text(text)


def _state(path):
    return (path / "data.txt").read_text() if (path / "data.txt").exists() else None


def test_new_folder_replaces_old_and_leaves_nothing_beside_it(tmp_path):
    out = tmp_path / "out"
    _folder(out, "old")
    with atomic_folder(out, overwrite=True) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".out.tmp-")
        (tmp / "data.txt").write_text("new")
    assert _state(out) == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_failure_inside_leaves_old_untouched(tmp_path):
    out = tmp_path / "out"
    _folder(out, "old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_folder(out, overwrite=True) as tmp:
            (tmp / "data.txt").write_text("half")
            raise KeyboardInterrupt
    assert _state(out) == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("exchange", [True, False])
@pytest.mark.parametrize("step", ["exchanged", "moved-old", "renamed"])
def test_crash_at_any_step_leaves_old_or_new(tmp_path, monkeypatch, exchange, step):
    """Kill the replace between its steps: the output is always the old or the new folder,
    directly or after recover() (which the next writer runs first)."""
    out = tmp_path / "out"
    _folder(out, "old")
    if not exchange:
        monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)

    def hook(name):
        if name == step:
            raise Crash(name)

    monkeypatch.setattr(atomic, "_crash_hook", hook)
    monkeypatch.setattr(atomic, "_remove", lambda p: None)  # a dead process cleans nothing up
    monkeypatch.setattr(atomic._Lock, "release", lambda self: os.close(self.fd) if self.fd else None)
    crashed = True
    try:
        with atomic_folder(out, overwrite=True) as tmp:
            (tmp / "data.txt").write_text("new")
            (tmp / "manifest.json").write_text('{"package": "fictional-knowledge"}')
        crashed = False
    except Crash:
        pass
    monkeypatch.undo()
    recover(out)
    assert _state(out) in ("old", "new")
    if not crashed:  # this step does not exist on this path: the replace completed
        assert _state(out) == "new"
    # the next writer removes the leftovers and replaces cleanly
    with atomic_folder(out, overwrite=True) as tmp:
        (tmp / "data.txt").write_text("third")
    assert _state(out) == "third" and leftovers(out) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_fallback_crash_between_renames_is_recovered_by_next_writer(tmp_path, monkeypatch):
    out = tmp_path / "out"
    _folder(out, "old")
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    monkeypatch.setattr(atomic, "_crash_hook", lambda name: (_ for _ in ()).throw(Crash()) if name == "moved-old" else None)
    monkeypatch.setattr(atomic, "_remove", lambda p: None)
    with pytest.raises(Crash):
        with atomic_folder(out, overwrite=True) as tmp:
            (tmp / "data.txt").write_text("new")
    monkeypatch.undo()
    assert not out.exists() and any(p.name.startswith(".out.old-") for p in tmp_path.iterdir())
    with pytest.raises(InputError, match="not empty"):  # the old folder is back, so it needs --overwrite
        with atomic_folder(out):
            pass
    assert _state(out) == "old"


def test_stale_leftovers_of_killed_runs_are_removed(tmp_path):
    out = tmp_path / "out"
    (tmp_path / ".out.tmp-99999-abc").mkdir()
    (tmp_path / ".out.tmp-99999-abc" / "big.parquet").write_bytes(b"x" * 1000)
    (tmp_path / ".other.tmp-1-x").mkdir()  # another output's: not ours to remove
    with atomic_folder(out) as tmp:
        (tmp / "a").write_text("a")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.tmp-1-x", "out"]


def test_second_writer_refuses_while_first_runs(tmp_path):
    out = tmp_path / "out"
    with atomic_folder(out) as tmp:
        assert held_by(out) == os.getpid()
        code = textwrap.dedent(f"""
            from fictional_knowledge.atomic import atomic_folder, OutputLocked
            try:
                with atomic_folder({str(out)!r}):
                    pass
            except OutputLocked as e:
                print(e)
        """)
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": os.getcwd()})
        assert f"is being written by another fkgen process (pid {os.getpid()})" in res.stdout, res.stderr
        assert tmp.exists()  # the refused writer removed nothing of ours
        (tmp / "a").write_text("a")
    assert (out / "a").read_text() == "a" and held_by(out) is None


def test_lock_in_same_process_refuses_too(tmp_path):
    out = tmp_path / "out"
    with atomic_folder(out):
        with pytest.raises(OutputLocked):
            with atomic_folder(out):
                pass


def test_modes_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_folder(tmp_path / "out") as tmp:
            (tmp / "f").write_text("x")
        write_text(tmp_path / "r.json", "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o644


def test_atomic_file_keeps_old_on_failure_and_suffix_for_writers(tmp_path):
    target = tmp_path / "rows.parquet"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_file(target) as tmp:
            assert tmp.suffix == ".parquet"
            tmp.write_text("partial")
            raise RuntimeError("disk full")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["rows.parquet"]


@pytest.mark.parametrize("bad", ["", ".", "..", "/"])
def test_paths_that_name_no_folder_are_refused(bad):
    with pytest.raises(InputError):
        check_out_path(bad)


def test_file_vs_folder_and_readonly_parent(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        check_out_path(tmp_path / "f")
    with pytest.raises(InputError, match="is a folder"):
        check_out_path(tmp_path, folder=False)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user that ignores permissions")
        with pytest.raises(InputError, match="cannot write"):
            check_out_path(ro / "out")
    finally:
        ro.chmod(0o755)


def test_ours_recognises_only_our_outputs(tmp_path):
    (tmp_path / "a").mkdir()
    assert ours(tmp_path / "a")  # empty
    (tmp_path / "a" / "manifest.json").write_text('{"name": "my web app"}')
    assert not ours(tmp_path / "a")  # someone else's manifest.json
    (tmp_path / "a" / "manifest.json").write_text("\xff garbage")
    assert not ours(tmp_path / "a")
    (tmp_path / "a" / "manifest.json").write_text('{"package": "fictional-knowledge"}')
    assert ours(tmp_path / "a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "index.html").write_text("x")
    assert ours(tmp_path / "b", names=["index.html"]) and not ours(tmp_path / "b")


def test_exchange_swaps_two_folders_in_one_step(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "x").write_text("a")
    (b / "x").write_text("b")
    if not atomic._exchange(a, b):
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available here: the two-rename path is used")
    assert (a / "x").read_text() == "b" and (b / "x").read_text() == "a"
