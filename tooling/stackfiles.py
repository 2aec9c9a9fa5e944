"""Stack files as data: read a committed `Pulumi.<stack>.yaml`, derive another stack's file from it.

Local runs (`make up` on the embedded control plane), the engine and cluster test tiers and the
benchmarks never edit the committed stack files: they write a derived, git-ignored
`Pulumi.<name>.yaml` (names `*-local` and `scratch-*`) from a committed one plus overrides.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from platform_config import PROJECT
from tooling.paths import REPO_ROOT


def stack_file(stack: str) -> Path:
    return REPO_ROOT / f"Pulumi.{stack}.yaml"


def stack_config(stack: str) -> dict[str, Any]:
    """The stack file's `nexus-platform:` keys, prefix removed."""
    document = yaml.safe_load(stack_file(stack).read_text()) or {}
    prefix = f"{PROJECT}:"
    return {k.removeprefix(prefix): v for k, v in (document.get("config") or {}).items() if k.startswith(prefix)}


def deep_merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Overrides win; nested mappings merge; a value of None removes the key."""
    merged = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def write_derived_stack_file(base: str, name: str, overrides: Mapping[str, Any] | None = None) -> Path:
    """Write `Pulumi.<name>.yaml`: the base stack's config with overrides applied (no secrets)."""
    if name in ("dev", "staging", "prod"):
        raise ValueError(f"refusing to overwrite the committed stack file of {name!r}")
    config = deep_merge(stack_config(base), overrides or {})
    path = stack_file(name)
    header = f"# Derived from Pulumi.{base}.yaml by tooling/stackfiles.py; git-ignored, safe to delete.\n"
    path.write_text(header + yaml.safe_dump({"config": {f"{PROJECT}:{k}": v for k, v in config.items()}}))
    return path
