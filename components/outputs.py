"""Stack outputs declared once: as the typed attributes of a component (or endpoint) marked `Exported`.

    class PostgresCluster(Exporting, pulumi.ComponentResource):
        writer_host: Exported[pulumi.Output[str]]      # exported as `writerHost`
        password: pulumi.Output[str]                   # an attribute, not an output

`outputs()` is derived from those declarations: each exported attribute under its camelCase name (the
stack-output contract, docs/stack-outputs.schema.json), with values that export themselves (endpoints,
maps of them) replaced by their own `outputs()`. So an output is named once, where its type is.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

T = TypeVar("T")
_EXPORTED = "exported as a stack output"
Exported = Annotated[T, _EXPORTED]


def camel_case(name: str) -> str:
    """`writer_host` -> `writerHost`, `order-command-service` -> `orderCommandService`."""
    first, *rest = name.replace("-", "_").split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


@functools.cache
def exported_attributes(cls: type) -> tuple[str, ...]:
    """The attributes `cls` (and its bases of this project) mark `Exported`, in declaration order."""
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        if klass.__module__.split(".")[0] in ("builtins", "pulumi"):
            continue
        for name, hint in inspect.get_annotations(klass, eval_str=True).items():
            if _EXPORTED in getattr(hint, "__metadata__", ()) and name not in names:
                names.append(name)
    return tuple(names)


def _exported(value: Any) -> Any:
    if isinstance(value, Exporting):
        return value.outputs()
    if isinstance(value, Mapping):
        return {key: _exported(item) for key, item in value.items()}
    return value


class Exporting:
    """Mixin: `outputs()` from the attributes marked `Exported`."""

    def outputs(self) -> dict[str, Any]:
        """The stack-output shape: every exported attribute by its camelCase name."""
        return {camel_case(name): _exported(getattr(self, name)) for name in exported_attributes(type(self))}
