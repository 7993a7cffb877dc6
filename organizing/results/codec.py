"""Store typed results as JSON plus arrays, and read them back without executing code.

:func:`encode` walks a frozen dataclass and returns a JSON-able tree and a dict
of NumPy arrays (saved with ``numpy.savez``; read back with
``allow_pickle=False``). :func:`decode` rebuilds the dataclass from the same
two pieces, guided only by the dataclass's type hints, so a cache entry can
describe data but never name a class or a function to call.

Supported leaves: ``bool``, ``int``, ``float`` (NaN and infinities included),
``str``, ``None``, enums, NumPy arrays of numbers, booleans or strings, and
pandas frames whose columns hold numbers, booleans or strings. Containers:
``dict`` (string or enum keys), ``tuple``, ``list``, and nested dataclasses.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from typing import Any

import numpy as np
import pandas as pd


class CodecError(ValueError):
    """A value that the cache format cannot hold, or an entry that does not fit its type."""


def encode(value: Any, arrays: dict[str, np.ndarray], path: str = "r") -> Any:
    """The JSON-able form of ``value``; arrays go into ``arrays`` under unique keys."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, int | float | np.integer | np.floating):
        number = value.item() if isinstance(value, np.generic) else value
        if isinstance(number, float) and not np.isfinite(number):
            return {"float": repr(number)}
        return number
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise CodecError(f"{path}: arrays of Python objects cannot be cached")
        arrays[path] = value
        return {"array": path}
    if isinstance(value, pd.DataFrame):
        columns = []
        for position, name in enumerate(value.columns):
            column = value[name].to_numpy()
            if column.dtype == object or pd.api.types.is_string_dtype(value[name]):
                column = np.asarray([str(v) for v in column], dtype=str)
            key = f"{path}.{position}"
            arrays[key] = column
            columns.append([str(name), key])
        return {"frame": columns, "rows": len(value)}
    if dataclasses.is_dataclass(value):
        return {f.name: encode(getattr(value, f.name), arrays, f"{path}.{f.name}")
                for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k.value if isinstance(k, enum.Enum) else k):
                encode(v, arrays, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v, arrays, f"{path}.{i}") for i, v in enumerate(value)]
    raise CodecError(f"{path}: cannot cache a value of type {type(value).__name__}")


def _float(node: Any) -> float:
    if isinstance(node, dict) and set(node) == {"float"} and node["float"] in ("nan", "inf",
                                                                              "-inf"):
        return float(node["float"])
    if isinstance(node, int | float) and not isinstance(node, bool):
        return float(node)
    raise CodecError(f"expected a number, found {node!r}")


def decode(kind: Any, node: Any, arrays: typing.Mapping[str, np.ndarray]) -> Any:
    """Rebuild a value of type ``kind`` from :func:`encode`'s output."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if node is None and type(None) in options:
            return None
        (inner,) = [o for o in options if o is not type(None)]
        return decode(inner, node, arrays)
    if kind is Any:
        return node
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        if not isinstance(node, dict):
            raise CodecError(f"expected a record for {kind.__name__}")
        return kind(**{f.name: decode(hints[f.name], node[f.name], arrays)
                       for f in dataclasses.fields(kind) if f.name in node})
    if kind is np.ndarray:
        return np.asarray(arrays[node["array"]])
    if kind is pd.DataFrame:
        frame = pd.DataFrame({name: arrays[key] for name, key in node["frame"]})
        if not node["frame"]:
            frame = pd.DataFrame(index=range(node["rows"]))
        return frame
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind(node)
    if kind is float:
        return _float(node)
    if kind in (int, str, bool):
        if not isinstance(node, kind):
            raise CodecError(f"expected {kind.__name__}, found {node!r}")
        return node
    if origin is dict or kind is dict:
        key_kind, value_kind = typing.get_args(kind) or (str, Any)
        return {decode(key_kind, k, arrays): decode(value_kind, v, arrays)
                for k, v in node.items()}
    if origin in (tuple, list):
        args = typing.get_args(kind)
        inner = args[0] if args else Any
        items = [decode(inner, v, arrays) for v in node]
        return tuple(items) if origin is tuple else items
    raise CodecError(f"cannot decode a value of type {kind!r}")
