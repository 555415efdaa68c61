"""The exceptions a user can cause or meet, and how ``fkgen`` reports them.

Every error meant for the user derives from :class:`FKError`. Its message is one line and its
``exit_code`` is what ``fkgen`` exits with:

- :class:`InputError` (exit 2): bad input, caught before or while reading it: an option out of
  range, a missing or corrupt file, an output folder that must not be replaced.
- :class:`RuntimeFailure` (exit 1): the input was fine but the work failed: the Hub refused a
  commit, the disk filled up, another ``fkgen`` process holds the output.
- :class:`MissingExtra` (exit 1): an optional dependency (the ``bench`` extra) is not installed.

The command line (``fictional_knowledge.cli``) prints ``error: <message>`` on stderr for any of
them, with no traceback; see :func:`describe` for how other exceptions are turned into one line.
"""

from __future__ import annotations

import errno
import json
import os
import traceback
from typing import Optional

#: ``fkgen`` exits with this after Ctrl-C (128 + SIGINT), like a shell does.
EXIT_INTERRUPTED = 130
#: Set this environment variable to 1 to see the traceback of an unexpected error.
DEBUG_ENV = "FKGEN_DEBUG"

BENCH_INSTALL = "pip install torch==2.13.0 && pip install 'fictional-knowledge[bench]'"
#: Top-level modules of the ``bench`` extra (``pyproject.toml``).
BENCH_MODULES = frozenset({"torch", "transformers", "tokenizers", "matplotlib", "lm_eval", "mlcroissant", "pandas",
                           "scipy"})


class FKError(Exception):
    """Base of every error ``fkgen`` reports as one line. ``exit_code``: 2 bad input, 1 failure."""

    exit_code = 1

    def __str__(self) -> str:
        text = super().__str__()
        return text.splitlines()[0] if text else type(self).__name__


class InputError(FKError):
    """Bad input: an option, a file or an output location the command cannot use (exit 2)."""

    exit_code = 2


class RuntimeFailure(FKError):
    """The input was acceptable but the work failed (exit 1)."""

    exit_code = 1


class MissingExtra(RuntimeFailure):
    """An optional dependency is missing; the message says which extra installs it."""

    def __init__(self, module: str, what: str = "this command") -> None:
        super().__init__(f"{what} needs the 'bench' extra: {BENCH_INSTALL} (no module named {module!r})")
        self.module = module


def is_debug() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def _os_message(exc: OSError) -> tuple[str, int]:
    """One line for an OSError, and its exit code (2 when the path is the user's to fix)."""
    where = exc.filename if exc.filename is not None else ""
    reason = exc.strerror or _first_line(exc)
    if exc.errno == errno.ENOSPC:
        return f"no space left on the device{f' while writing {where}' if where else ''}", 1
    if exc.errno == errno.EFBIG:
        return f"file size limit exceeded{f' while writing {where}' if where else ''}", 1
    if exc.errno == errno.EDQUOT:
        return f"disk quota exceeded{f' while writing {where}' if where else ''}", 1
    code = 2 if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError,
                                 NotADirectoryError, FileExistsError)) else 1
    return (f"{where}: {reason}" if where else reason), code


def describe(exc: BaseException, command: str = "this command") -> tuple[str, int, bool]:
    """``(message, exit code, expected)`` for an exception that reached the command line.
    ``expected`` is False for an error no check anticipated (a bug, or a library failure): the
    message then names the exception type and points at ``FKGEN_DEBUG``."""
    if isinstance(exc, FKError):
        return str(exc), exc.exit_code, True
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", EXIT_INTERRUPTED, True
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] in BENCH_MODULES:
        return str(MissingExtra(exc.name.split(".")[0], command)), 1, True
    if isinstance(exc, MemoryError):
        return "out of memory: try fewer --entities or --workers", 1, True
    if isinstance(exc, UnicodeDecodeError):
        return f"a file is not UTF-8 text ({exc.reason} at byte {exc.start})", 2, True
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", 2, True
    if isinstance(exc, OSError):
        message, code = _os_message(exc)
        return message, code, True
    try:  # corrupt parquet / arrow data
        import pyarrow as pa

        if isinstance(exc, pa.ArrowException):
            return f"unreadable data file: {_first_line(exc)}", 2, True
    except ImportError:  # pragma: no cover - pyarrow is a core dependency
        pass
    try:
        from pydantic import ValidationError

        if isinstance(exc, ValidationError):
            err = exc.errors()[0]
            loc = ".".join(str(x) for x in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            return f"invalid {exc.title}{f' field {loc!r}' if loc else ''}: {msg}", 2, True
    except ImportError:  # pragma: no cover
        pass
    return f"unexpected {type(exc).__name__}: {_first_line(exc)} (set {DEBUG_ENV}=1 for the traceback)", 1, False


def report(exc: BaseException, echo, command: str = "this command") -> int:
    """Print ``exc`` as one ``error:`` line with ``echo`` (and the traceback first under
    ``FKGEN_DEBUG=1``); return the exit code. ``command`` names the command in a missing-extra
    message."""
    message, code, _ = describe(exc, command)
    if is_debug() and not isinstance(exc, KeyboardInterrupt):
        echo("".join(traceback.format_exception(exc)).rstrip())
    echo(f"error: {message}")
    return code


def require(module: str, what: Optional[str] = None):
    """Import an optional dependency, or raise :class:`MissingExtra` naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] == module.split(".")[0]:
            raise MissingExtra(module.split(".")[0], what or "this command") from None
        raise
