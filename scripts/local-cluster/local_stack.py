"""Derive `Pulumi.<stack>-local.yaml` for `make up` on the local control plane (called by scripts/up.sh).

    python scripts/local-cluster/local_stack.py STACK KUBECONFIG STORAGECLASS[,STORAGECLASS...]

The derived stack is the committed one plus what the loopback cluster needs: its kubeconfig, the
Bitnami chart's test double (the OCI registry is out of reach), every `storageClass` the cluster
does not have replaced by its default class, and no `instanceType` (the fake nodes have none).
Each change is reported on stderr so the user sees it.
The file is rewritten on every run but keeps what Pulumi added to it (encryption salt, secret config),
otherwise the stack's state could no longer be decrypted.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tooling.paths import BITNAMI_STANDIN, REPO_ROOT
from tooling.stackfiles import stack_config, stack_file, write_derived_stack_file

DEFAULT_CLASS = "standard"


def local_storage_classes(config: Any, available: set[str], path: str = "") -> tuple[Any, list[str]]:
    """The config with each `storageClass` the cluster lacks set to the default and every `instanceType`
    dropped; and what was changed."""
    changes: list[str] = []
    if isinstance(config, dict):
        result: dict[str, Any] = {}
        for key, value in config.items():
            where = f"{path}.{key}" if path else key
            if key == "instanceType":
                # kwok's fake nodes carry no instance-type label: a node selector on it never schedules
                changes.append(f"{where}: {value} dropped (the local nodes have no instance types)")
                result[key] = None  # None removes the key when merged over the committed config
                continue
            if key == "storageClass" and isinstance(value, str) and value not in available:
                result[key] = DEFAULT_CLASS
                changes.append(f"{where}: {value} -> {DEFAULT_CLASS}")
            else:
                result[key], sub = local_storage_classes(value, available, where)
                changes += sub
        return result, changes
    if isinstance(config, list):
        items = []
        for index, value in enumerate(config):
            item, sub = local_storage_classes(value, available, f"{path}[{index}]")
            items.append(item)
            changes += sub
        return items, changes
    return config, changes


def derive(stack: str, kubeconfig: str, available: set[str]) -> Path:
    name = f"{stack}-local"
    kept: dict[str, Any] = {}
    path = stack_file(name)
    if path.exists():
        old = yaml.safe_load(path.read_text()) or {}
        kept = {k: v for k, v in old.items() if k != "config"}
        kept_config = {k: v for k, v in (old.get("config") or {}).items() if isinstance(v, dict) and "secure" in v}
    else:
        kept_config = {}
    config, changes = local_storage_classes(stack_config(stack), available)
    overrides = {
        **config,
        "kubernetes": {**(config.get("kubernetes") or {}), "kubeconfig": kubeconfig},
        "postgresChart": {"path": str(BITNAMI_STANDIN)},
    }
    write_derived_stack_file(stack, name, overrides)
    header, document = path.read_text().split("\n", 1)
    data = yaml.safe_load(document)
    data["config"].update(kept_config)
    path.write_text(header + "\n" + yaml.safe_dump({**kept, **data}))
    warn = "\033[1;33mWARNING\033[0m" if sys.stderr.isatty() else "WARNING"
    print(
        f"{warn}: stack {name} uses the TEST DOUBLE of the Bitnami PostgreSQL chart "
        f"({BITNAMI_STANDIN.relative_to(REPO_ROOT)}): the real chart's\n"
        "         OCI registry (registry-1.docker.io/bitnamicharts) is unreachable from this machine.",
        file=sys.stderr,
    )
    for change in changes:
        print(f"NOTE: local run, changed from the committed stack: {change}", file=sys.stderr)
    return path


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    stack, kubeconfig, classes = argv[1:]
    derive(stack, kubeconfig, {c for c in classes.split(",") if c} or {DEFAULT_CLASS})
    print(f"{stack}-local")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
