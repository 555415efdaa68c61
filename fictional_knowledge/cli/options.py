"""Command-line options generated from a Pydantic config: one option per field, with the field's
flag (``json_schema_extra={"flag": ...}``), default and description, so that the options of
``fkgen build`` and ``fkgen release`` cannot drift from :class:`~fictional_knowledge.models.BuildConfig`
and the card's "rebuild with" command (:func:`fictional_knowledge.models.build_command`) is exact."""

from __future__ import annotations

import functools
import inspect
from typing import Annotated, Callable, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from fictional_knowledge.errors import InputError
from fictional_knowledge.models import field_flag

M = TypeVar("M", bound=BaseModel)
_PREFIX = "config__"


def config_from_options(model: type[M], values: dict) -> M:
    """``model(**values)``, or one ``InputError`` line naming the option(s) at fault."""
    try:
        return model(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        message = err["msg"].removeprefix("Value error, ")
        if not err["loc"]:  # a rule between fields: name them by their flags
            for name in sorted(model.model_fields, key=len, reverse=True):
                message = message.replace(name, field_flag(model, name))
            raise InputError(message) from None
        raise InputError(f"{field_flag(model, str(err['loc'][0]))}: {message}") from None


def config_options(model: type[BaseModel]) -> Callable[[Callable], Callable]:
    """Decorate a typer command that takes ``config: MODEL``: the command gets one option per
    field of ``model`` (after its arguments, before its own options) and is called with the
    validated config."""
    def decorate(func: Callable) -> Callable:
        sig = inspect.signature(func, eval_str=True)
        own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in sig.parameters.values() if p.name != "config"]
        arguments = [p for p in own if isinstance(p.default, typer.models.ArgumentInfo)]
        options = [p for p in own if p not in arguments]
        generated = []
        for name, field in model.model_fields.items():
            help_text = field.description or name.replace("_", " ")
            generated.append(inspect.Parameter(
                _PREFIX + name, inspect.Parameter.KEYWORD_ONLY, default=field.default,
                annotation=Annotated[field.annotation, typer.Option(field_flag(model, name), help=help_text)]))

        @functools.wraps(func)
        def command(**kwargs):
            values = {name: kwargs.pop(_PREFIX + name) for name in model.model_fields}
            return func(config=config_from_options(model, values), **kwargs)

        params = arguments + generated + options
        command.__signature__ = sig.replace(parameters=params)
        command.__annotations__ = {p.name: p.annotation for p in params}
        del command.__wrapped__  # typer reads __signature__ and __annotations__, not the wrapped function's
        return command

    return decorate
