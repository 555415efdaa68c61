"""Arrow schemas of the configs, derived from the Pydantic models (nothing kept twice)."""

from __future__ import annotations

import types
import typing
from functools import lru_cache

import pyarrow as pa
from pydantic import BaseModel

from fictional_knowledge.models import RECORD_MODELS

_SCALARS = {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_()}


def arrow_type(annotation) -> pa.DataType:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"cannot map {annotation} to arrow")
        return arrow_type(args[0])
    if origin is typing.Literal:
        return arrow_type(type(typing.get_args(annotation)[0]))
    if origin is list:
        return pa.list_(arrow_type(typing.get_args(annotation)[0]))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return pa.struct([pa.field(n, arrow_type(f.annotation)) for n, f in annotation.model_fields.items()])
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    raise TypeError(f"cannot map {annotation} to arrow")


@lru_cache(maxsize=None)
def schema_of(config: str) -> pa.Schema:
    model = RECORD_MODELS[config]
    return pa.schema([pa.field(n, arrow_type(f.annotation), nullable=not f.is_required())
                      for n, f in model.model_fields.items()])
