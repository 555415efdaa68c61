"""The ``fkgen`` console script.

Every failure is reported here, in one place (:class:`FKGroup`): one line ``error: …`` on stderr,
no traceback, exit 2 for bad input (usage errors included) and 1 for a runtime failure (see
:mod:`fictional_knowledge.errors`); Ctrl-C exits 130 and SIGTERM 143, both after the same cleanup.
``FKGEN_DEBUG=1`` adds the traceback.
"""

from __future__ import annotations

import importlib
import signal
import sys

import click
import typer
from typer.core import TyperGroup

from fictional_knowledge.errors import EXIT_INTERRUPTED, report

try:  # typer >= 0.20 vendors click as typer._click; older typer raises click's own exceptions
    from typer import _click as _tclick
except ImportError:  # pragma: no cover
    _tclick = click


def _both(name: str) -> tuple[type, ...]:
    return tuple({getattr(mod, name) for mod in (click.exceptions, _tclick.exceptions, typer) if hasattr(mod, name)})


_NO_ARGS, _USAGE, _ABORT, _CLICK = (_both("NoArgsIsHelpError"), _both("UsageError"), _both("Abort"),
                                    _both("ClickException"))


class FKGroup(TyperGroup):
    """The root command group: runs the command with ``standalone_mode=False`` and turns every
    exception into one ``error:`` line and an exit code."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        err = lambda text: typer.echo(text, err=True)  # noqa: E731
        terminated = []

        def on_sigterm(signum, frame):  # `kill PID`: clean up like Ctrl-C does (temp folders, workers)
            terminated.append(signum)
            raise KeyboardInterrupt

        try:
            previous = signal.signal(signal.SIGTERM, on_sigterm)
        except ValueError:  # not the main thread: leave signals alone
            previous = None
        try:
            rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                              standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else 0
            if code == EXIT_INTERRUPTED and terminated:
                err("error: terminated")
                code = 128 + signal.SIGTERM
            elif code == EXIT_INTERRUPTED:  # typer turns KeyboardInterrupt into Exit(130)
                err("error: interrupted")
        except _NO_ARGS as exc:
            typer.echo(exc.format_message())
            code = 0
        except _USAGE as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "fkgen"
            message = " ".join(exc.format_message().split())
            err(f"error: {where}: {message} (see '{where} --help')")
            code = exc.exit_code
        except _ABORT:
            err("error: aborted")
            code = 1
        except _CLICK as exc:
            err(f"error: {' '.join(exc.format_message().split())}")
            code = exc.exit_code
        except SystemExit:
            raise
        except BaseException as exc:  # KeyboardInterrupt included
            words = [a for a in (sys.argv[1:] if args is None else list(args)) if not str(a).startswith("-")]
            code = report(exc, err, " ".join(["fkgen", *map(str, words[:1])]))
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(
    name="fkgen",
    cls=FKGroup,
    help="Generate fictional knowledge from a seed, and benchmark language models on it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help, no boxes
)


def _print_version(value: bool) -> None:
    if value:
        from fictional_knowledge import __version__

        typer.echo(f"fictional-knowledge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                       help="Print the package version and exit.")) -> None:
    """Generate fictional knowledge from a seed, and benchmark language models on it."""


# Each module below defines ``register(app)``, which adds its commands. Heavy imports (torch,
# transformers, matplotlib) stay inside the command functions so `fkgen build` starts fast.
_COMMAND_MODULES = [
    "fictional_knowledge.cli.build",
    "fictional_knowledge.cli.lmeval",
    "fictional_knowledge.cli.eval",
    "fictional_knowledge.cli.leaderboard",
    "fictional_knowledge.cli.dynamics",
    "fictional_knowledge.cli.release",
    "fictional_knowledge.cli.regime",
    "fictional_knowledge.cli.stats",
    "fictional_knowledge.cli.experiment",
]

for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:  # pragma: no cover - console entry point
    app(prog_name="fkgen")
