"""Which cluster: versions and ports (toolchain/versions.env, the environment wins) and the instances.

An instance is a state folder plus a block of loopback ports, so that two clusters can run side by side:
`default` is the one `make up` deploys to (`.local-cluster/`, the LOCAL_*_PORT ports); `test` is the
test tiers' own (`.local-cluster-test/`, the same ports plus LOCAL_TEST_PORT_OFFSET); `bench` is bench/deploy.py's
(`.local-cluster-bench/`, the same ports plus twice LOCAL_TEST_PORT_OFFSET), so a benchmark touches neither.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from tooling.paths import REPO_ROOT, TOOLS_BIN

VERSIONS_FILE = REPO_ROOT / "toolchain" / "versions.env"
TOOLS_SHARE = REPO_ROOT / ".tools" / "share"
K8S_MOD_DIR = REPO_ROOT / "toolchain" / "k8s"
KWOK_MOD_DIR = K8S_MOD_DIR / "kwok"
CERT_MANAGER_MOD_DIR = REPO_ROOT / "toolchain" / "cert-manager"
DATA_DIR = Path(__file__).resolve().parent / "kwok"

# What versions.env says when it is silent (the same values it pins today).
DEFAULTS = {
    "LOCAL_K8S_VERSION": "v1.34.2",
    "LOCAL_ETCD_VERSION": "v3.6.4",
    "LOCAL_KWOK_VERSION": "v0.8.0",
    "LOCAL_PROMETHEUS_OPERATOR_VERSION": "v0.85.0",
    "LOCAL_CERT_MANAGER_VERSION": "v1.21.2",
    "LOCAL_APISERVER_PORT": "16443",
    "LOCAL_ETCD_CLIENT_PORT": "16379",
    "LOCAL_ETCD_PEER_PORT": "16380",
    "LOCAL_KCM_PORT": "16257",
    "LOCAL_SCHEDULER_PORT": "16259",
    "LOCAL_KWOK_PORT": "16247",
    "LOCAL_CERT_MANAGER_METRICS_PORT": "16402",
    "LOCAL_CERT_MANAGER_HEALTHZ_PORT": "16403",
    "LOCAL_TEST_PORT_OFFSET": "100",
}
INSTANCES = ("default", "test", "bench")
# How many LOCAL_TEST_PORT_OFFSETs above the default ports each other instance sits.
PORT_OFFSET_STEPS = {"default": 0, "test": 1, "bench": 2}


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines of a file that bash sources (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip().strip("\"'")
    return values


def settings(environ: Mapping[str, str] | None = None, versions_file: Path = VERSIONS_FILE) -> dict[str, str]:
    """The LOCAL_* settings: the built-in defaults, then versions.env, then the environment."""
    env = os.environ if environ is None else environ
    merged = {**DEFAULTS, **{k: v for k, v in read_env_file(versions_file).items() if k.startswith("LOCAL_")}}
    merged.update({k: v for k, v in env.items() if k.startswith("LOCAL_") and v})
    return merged


@dataclass(frozen=True)
class Versions:
    kubernetes: str
    etcd: str
    kwok: str
    prometheus_operator: str
    cert_manager: str

    @staticmethod
    def minor(version: str) -> str:
        """v1.34.2 -> 1.34"""
        return ".".join(version.lstrip("v").split(".")[:2])


def _port(setting: str, component: str) -> Any:
    return field(metadata={"setting": setting, "component": component})


@dataclass(frozen=True)
class Ports:
    """The loopback ports of one instance; each field names the setting that moves it."""

    apiserver: int = _port("LOCAL_APISERVER_PORT", "kube-apiserver")
    etcd_client: int = _port("LOCAL_ETCD_CLIENT_PORT", "etcd (clients)")
    etcd_peer: int = _port("LOCAL_ETCD_PEER_PORT", "etcd (peers)")
    controller_manager: int = _port("LOCAL_KCM_PORT", "kube-controller-manager")
    scheduler: int = _port("LOCAL_SCHEDULER_PORT", "kube-scheduler")
    kwok: int = _port("LOCAL_KWOK_PORT", "kwok")
    cert_manager_metrics: int = _port("LOCAL_CERT_MANAGER_METRICS_PORT", "cert-manager-controller (metrics)")
    cert_manager_healthz: int = _port("LOCAL_CERT_MANAGER_HEALTHZ_PORT", "cert-manager-controller (healthz)")

    def items(self) -> list[tuple[str, int]]:
        return [(f.name, getattr(self, f.name)) for f in fields(self)]

    @staticmethod
    def describe(name: str) -> tuple[str, str]:
        """(setting, component) of the port field NAME."""
        meta = next(f.metadata for f in fields(Ports) if f.name == name)
        return meta["setting"], meta["component"]

    @classmethod
    def from_settings(cls, conf: Mapping[str, str], offset: int = 0) -> Ports:
        return cls(**{f.name: int(conf[f.metadata["setting"]]) + offset for f in fields(cls)})


@dataclass(frozen=True)
class Instance:
    name: str
    state_dir: Path
    ports: Ports
    versions: Versions
    tools_bin: Path

    @property
    def pki(self) -> Path:
        return self.state_dir / "pki"

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports.apiserver}"

    def port_setting(self, name: str) -> str:
        """What to set when the port field NAME is taken."""
        if self.name == "default":
            return f"set {Ports.describe(name)[0]} to a free port (environment or toolchain/versions.env)"
        return "set LOCAL_TEST_PORT_OFFSET (environment or toolchain/versions.env) to move the whole block"


def instance(name: str = "default", environ: Mapping[str, str] | None = None) -> Instance:
    """The default instance (`make up`'s), the `test` or the `bench` one: its own folder, its ports offset."""
    if name not in INSTANCES:
        raise ValueError(f"unknown local cluster instance {name!r} (known: {', '.join(INSTANCES)})")
    env = os.environ if environ is None else environ
    conf = settings(env)
    offset = 0
    if name == "default":
        state_dir = Path(env.get("LOCAL_CLUSTER_DIR") or REPO_ROOT / ".local-cluster")
    else:
        state_dir = REPO_ROOT / f".local-cluster-{name}"
        offset = PORT_OFFSET_STEPS[name] * int(conf["LOCAL_TEST_PORT_OFFSET"])
    return Instance(
        name=name,
        state_dir=state_dir.resolve(),
        ports=Ports.from_settings(conf, offset),
        versions=Versions(
            conf["LOCAL_K8S_VERSION"],
            conf["LOCAL_ETCD_VERSION"],
            conf["LOCAL_KWOK_VERSION"],
            conf["LOCAL_PROMETHEUS_OPERATOR_VERSION"],
            conf["LOCAL_CERT_MANAGER_VERSION"],
        ),
        tools_bin=Path(env.get("LOCAL_CLUSTER_TOOLS_BIN") or TOOLS_BIN),
    )
