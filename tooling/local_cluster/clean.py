"""`make clean`: remove the local state (the local backend, rendered output, scratch folders, the local
clusters), but never the local backend's record of stacks that still have resources somewhere.

`.pulumi-state/` is the file backend scripts/pulumi-env.sh chooses when the user has none: deleting it
while a stack there still has resources orphans them (nothing could update or destroy them any more). So
clean reads the backend's checkpoints and refuses, naming each such stack and the command that removes it.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

from tooling.local_cluster.cluster import LocalCluster, remove_tree
from tooling.local_cluster.config import INSTANCES, instance
from tooling.paths import REPO_ROOT

LOCAL_BACKEND = REPO_ROOT / ".pulumi-state"
REMOVED = (".pulumi-state", ".rendered", ".scratch")
# Resources that every stack has and that stand for nothing outside the state.
BOOKKEEPING = ("pulumi:pulumi:Stack", "pulumi:providers:")


def _checkpoint(path: Path) -> dict:
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    return json.loads(raw)


def deployed_stacks(backend: Path = LOCAL_BACKEND) -> dict[str, int]:
    """Stack name -> how many resources its latest checkpoint holds (stacks with none are left out)."""
    stacks: dict[str, int] = {}
    root = backend / ".pulumi" / "stacks"
    if not root.is_dir():
        return stacks
    for path in sorted(root.rglob("*")):
        if not (path.name.endswith(".json") or path.name.endswith(".json.gz")) or not path.is_file():
            continue
        name = path.name.removesuffix(".gz").removesuffix(".json")
        try:
            latest = (_checkpoint(path).get("checkpoint") or {}).get("latest") or {}
        except (OSError, ValueError) as error:
            # unreadable is not empty: keep it
            stacks[name] = -1
            print(f"cannot read {path}: {error}")
            continue
        count = sum(1 for r in latest.get("resources") or [] if not r.get("type", "").startswith(BOOKKEEPING))
        if count:
            stacks[name] = count
    return stacks


def how_to_remove(stack: str, root: Path = REPO_ROOT) -> str:
    """The command that destroys STACK, quoted, with a note where it needs one."""
    base = stack.removesuffix("-local")
    if (root / f"Pulumi.{base}.yaml").is_file():
        hint = f"`make down STACK={base}`"
        return hint if base == stack else f"{hint} (it destroys {stack} when no kubeconfig is configured)"
    return f"`source scripts/pulumi-env.sh && pulumi destroy --stack {stack}`"


def clean(log: Callable[[str], None], root: Path = REPO_ROOT) -> int:
    deployed = deployed_stacks(root / ".pulumi-state")
    if deployed:
        log(
            "ERROR: refusing to delete .pulumi-state: it is the only record of what these stacks deployed, "
            "and deleting it would orphan their resources:"
        )
        for stack, count in deployed.items():
            what = "an unreadable checkpoint" if count < 0 else f"{count} resources"
            log(f"  {stack}: {what}; remove them first with {how_to_remove(stack, root)}")
        log("then run `make clean` again. Nothing was deleted.")
        return 1
    for name in INSTANCES:
        cluster = LocalCluster(instance(name), log)
        if cluster.instance.state_dir.is_dir():
            with cluster.lock():
                cluster.stop()
            remove_tree(cluster.instance.state_dir)
    for name in REMOVED:
        remove_tree(root / name)
    log(f"removed {', '.join(REMOVED)} and the local clusters' state")
    return 0
