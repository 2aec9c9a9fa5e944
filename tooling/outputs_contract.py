"""The stack-outputs contract (docs/stack-outputs.schema.json): validate outputs and say which are secret.

`validate_outputs(outputs)` checks a stack's outputs (resolved under mocks by `run_stack`, or the real
`pulumi stack output --json --show-secrets`) against the schema and raises `OutputsContractError` listing
every violation by its path. The schema marks Pulumi-secret properties with `"x-secret": true`;
`secret_paths_in_schema()` lists those as dotted patterns (`*` stands for a cluster, database or tenant
name) and `secret_paths(outputs)` the concrete secret paths of one stack's outputs.
"""

from __future__ import annotations

import fnmatch
import functools
import json
from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema

from tooling.paths import STACK_OUTPUTS_SCHEMA

SCHEMA_PATH = STACK_OUTPUTS_SCHEMA
SECRET_MARK = "x-secret"


class OutputsContractError(AssertionError):
    """The outputs do not match the contract; the message lists each violation as `path: reason`."""


@functools.cache
def load_schema() -> dict[str, Any]:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return schema


def validate_outputs(outputs: Mapping[str, Any]) -> None:
    """Raise OutputsContractError unless `outputs` (a whole stack's outputs, secrets revealed) match the schema."""
    validator = jsonschema.Draft7Validator(load_schema())
    errors = [leaf for error in validator.iter_errors(dict(outputs)) for leaf in _innermost(error)]
    if errors:
        lines = sorted(f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}" for e in errors)
        raise OutputsContractError("stack outputs break docs/stack-outputs.schema.json:\n  " + "\n  ".join(lines))


def _innermost(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """For a nullable `oneOf` ("not valid under any of the given schemas"), the errors of the object branch,
    which name the property that is wrong, rather than 'is not null'."""
    if not error.context:
        return [error]
    inner = [e for e in error.context if not (e.validator == "type" and e.absolute_path == error.absolute_path)]
    return [leaf for e in inner for leaf in _innermost(e)] or [error]


def resolve_ref(node: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow local `$ref`s (`#/definitions/...`) to the schema they name."""
    while "$ref" in node:
        target: Any = load_schema()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _children(node: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(key pattern, sub-schema) of an object schema, through nullable `oneOf`/`anyOf` alternatives."""
    node = resolve_ref(node)
    for alternative in node.get("oneOf", []) + node.get("anyOf", []):
        yield from _children(alternative)
    for key, sub in node.get("properties", {}).items():
        yield key, sub
    for _pattern, sub in node.get("patternProperties", {}).items():
        yield "*", sub


def _secret_patterns(node: Mapping[str, Any], prefix: str) -> Iterator[str]:
    for key, sub in _children(node):
        path = f"{prefix}.{key}" if prefix else key
        if resolve_ref(sub).get(SECRET_MARK) or sub.get(SECRET_MARK):
            yield path
        else:
            yield from _secret_patterns(sub, path)


def secret_paths_in_schema() -> set[str]:
    """Dotted paths the schema marks `x-secret` (`*` for a map key): e.g. `postgres.*.writerUrl`."""
    return set(_secret_patterns(load_schema(), ""))


def _leaf_paths(value: Any, prefix: str) -> Iterator[str]:
    yield prefix
    if isinstance(value, Mapping):
        for key, sub in value.items():
            yield from _leaf_paths(sub, f"{prefix}.{key}" if prefix else str(key))


def secret_paths(outputs: Mapping[str, Any]) -> set[str]:
    """The concrete paths of `outputs` the schema says are secret (`postgres.orders.writerUrl`, ...)."""
    patterns = secret_paths_in_schema()
    return {
        path
        for path in _leaf_paths(outputs, "")
        if path and any(fnmatch.fnmatchcase(path, p) and path.count(".") == p.count(".") for p in patterns)
    }
