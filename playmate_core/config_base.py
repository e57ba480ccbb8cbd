"""One strict (de)serialisation for every architecture config (frozen dataclasses).

`from_dict` refuses unknown keys (a misspelled or newer option fails loudly) and missing required
keys, rebuilds nested config dataclasses and turns JSON lists back into tuples. Configs never read
files; checkpoints store `to_dict()` / `to_json()` and rebuild with `from_dict`.
"""
from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any, Mapping


def config_from_dict(cls, data: Mapping[str, Any]):
    """Build dataclass `cls` from `data` strictly (see module docstring)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    required = {n for n, f in fields.items()
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    unknown, missing = sorted(set(data) - set(fields)), sorted(required - set(data))
    if unknown or missing:
        raise ValueError(f"{cls.__name__}: unknown keys {unknown}, missing keys {missing}; expected the keys "
                         f"{sorted(fields)} (a file written by a different version of this model?)")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in data.items():
        ftype = hints.get(key)
        if dataclasses.is_dataclass(ftype) and isinstance(value, Mapping):
            value = config_from_dict(ftype, value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[key] = value
    return cls(**kwargs)


class ConfigMixin:
    """`to_dict`, `to_json` and a strict `from_dict` for frozen config dataclasses."""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]):
        return config_from_dict(cls, data)
