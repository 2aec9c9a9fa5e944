"""A rendered pod, run as processes on this machine.

`Cluster(objects)` holds what `helm template` rendered for one release (or what a component created under
mocks). `cluster.pod("product-postgres", 0)` is pod 0 of that StatefulSet; `pod.container("postgres")` is
its container with:
- `argv`: the container's command + args exactly as rendered (`$(VAR)` expanded as the kubelet does);
- `env`: its env as rendered, `secretKeyRef` resolved from `Secrets`, `fieldRef` from the pod, plus what
  the kubelet or the image sets (HOSTNAME, PATH);
- its volumes as directories: emptyDir and claims are empty directories, configMap and secret volumes hold
  their keys (the scripts ConfigMap's files, with its `items` and modes).

What cannot be the same outside a container is rewritten, visibly, in two tables and nowhere else:
- `Container.paths`: every in-pod path the container mounts -> its directory here, plus the image programs
  our scripts exec (`/etc/confluent/docker/run`) -> their stand-ins. Applied to the scripts' text when their
  ConfigMap is materialised, to literal env values and to argv. Whole path components only (`/data` never
  matches inside `/var/lib/postgresql/data`), in a single pass.
- `Network`: every pod gets its own loopback address (127.77.x.y: its "pod IP", so two pods can both
  listen on 5432 or 6379, as they do); in-cluster DNS names -> those addresses, for the pod's headless name
  (`redis-0.redis-headless.<ns>.svc.<domain>`) and each Service that selects it, and `127.0.0.1` in a
  container's env/argv/probes/script files -> its own pod's address (a pod's loopback is its own). C programs get the
  rewritten env values; JVMs also resolve through a hosts file (`-Djdk.net.hosts.file`), since the Kafka
  start script builds its advertised name at run time.
Secret values are never rewritten: a password stays byte for byte what the Secret holds.
"""

from __future__ import annotations

import json
import os
import re
import secrets as random_secrets
import shlex
import socket
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tooling.dataplane.paths import CP_BASE_NEW_LIB, PG_BIN, REDIS_SERVER, SYSTEM_PYTHON
from tooling.dataplane.processes import Server, Supervisor
from tooling.paths import REPO_ROOT

ADDRESS_PREFIX = "127.77"
STANDIN_DIR = Path(__file__).resolve().parent


class Secrets:
    """The Secrets pods read: a generated value per (secret, key), unless a test sets its own. An optional
    reference (`optional: true`) resolves only to a value a test set (a key the Secret may lack, such as the
    previous password before any rotation); otherwise the variable is unset, as the kubelet leaves it. A Secret
    named in `absent` does not exist at all: a required reference to it is an error."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str], str] = {}
        self.absent: set[str] = set()

    def get(self, name: str, key: str) -> str:
        if (name, key) not in self._values:
            alphabet = string.ascii_letters + string.digits
            self._values[(name, key)] = "".join(random_secrets.choice(alphabet) for _ in range(24))
        return self._values[(name, key)]

    def set(self, name: str, key: str, value: str) -> None:
        self._values[(name, key)] = value

    def has(self, name: str, key: str) -> bool:
        return (name, key) in self._values and name not in self.absent

    def keys(self, name: str) -> list[str]:
        """The keys set for one Secret (a volume without `items` holds them all)."""
        return [key for (secret, key) in self._values if secret == name]

    def values(self) -> list[str]:
        return list(self._values.values())


def _boundary_pattern(keys: Iterable[str], *, path: bool) -> re.Pattern[str] | None:
    keys = sorted(set(keys), key=len, reverse=True)
    if not keys:
        return None
    before = r"(?<![\w.\-/])" if path else r"(?<![\w.\-])"
    after = r"(?![\w.\-])" if path else r"(?![\w\-])"
    return re.compile(before + "(" + "|".join(re.escape(k) for k in keys) + ")" + after)


def rewrite(text: str, table: Mapping[str, str], *, path: bool = True) -> str:
    """Replace every whole occurrence of a table key in one pass (longest key first)."""
    pattern = _boundary_pattern(table, path=path)
    return pattern.sub(lambda m: table[m.group(1)], text) if pattern else text


class Network:
    """Pod addresses on loopback and the in-cluster names that point at them."""

    def __init__(self, root: Path, subnet: int) -> None:
        self.subnet = subnet
        self.next_host = 2
        self.names: dict[str, str] = {}
        self.hosts_file = root / "hosts"
        self._write_hosts()

    def allocate(self) -> str:
        address = f"{ADDRESS_PREFIX}.{self.subnet}.{self.next_host}"
        self.next_host += 1
        if self.next_host > 254:
            raise RuntimeError("out of pod addresses")
        return address

    def register(self, name: str, address: str, *, replace: bool = False) -> None:
        if replace or name not in self.names:
            self.names[name] = address
            self._write_hosts()

    def resolve(self, text: str, own_address: str | None = None) -> str:
        table = dict(self.names)
        if own_address:
            table["127.0.0.1"] = own_address
            table["localhost"] = own_address
        return rewrite(text, table, path=False)

    def _write_hosts(self) -> None:
        lines = ["127.0.0.1 localhost", f"127.0.0.1 {socket.gethostname()}"]
        lines += [f"{address} {name}" for name, address in sorted(self.names.items())]
        self.hosts_file.write_text("\n".join(lines) + "\n")


def pod_template(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """The pod template (`metadata` + `spec`) of a workload object."""
    kind = obj["kind"]
    if kind == "Pod":
        return obj
    spec = obj["spec"]
    if kind == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]


_VAR_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def expand_var_refs(value: str, env: Mapping[str, str]) -> str:
    """The kubelet's `$(VAR)` expansion in command, args and env values (unknown references stay)."""
    return _VAR_REF.sub(lambda m: env.get(m.group(1), m.group(0)), value)


@dataclass
class Cluster:
    """One release's rendered objects, run on this machine under `root`."""

    root: Path
    objects: Sequence[Mapping[str, Any]]
    namespace: str
    supervisor: Supervisor
    secrets: Secrets
    network: Network
    cluster_domain: str = "cluster.local"
    pods: dict[str, Pod] = field(default_factory=dict)

    def find(self, kind: str, name: str) -> Mapping[str, Any]:
        found = [o for o in self.objects if o.get("kind") == kind and o["metadata"]["name"] == name]
        if len(found) != 1:
            have = sorted(f"{o.get('kind')}/{o['metadata']['name']}" for o in self.objects)
            raise LookupError(f"expected one {kind}/{name}, found {len(found)}; rendered: {have}")
        return found[0]

    def config_map(self, name: str) -> Mapping[str, str]:
        return self.find("ConfigMap", name).get("data") or {}

    def service_domain(self) -> str:
        return f"{self.namespace}.svc.{self.cluster_domain}"

    def mkdir(self, path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        if self.supervisor.run_as:
            for part in [path, *path.parents]:
                if part == self.root.parent:
                    break
                self.supervisor.run_as.own(part)
        return path

    def pod(self, kind: str, name: str, ordinal: int | None = None, *, pod_name: str | None = None) -> Pod:
        """A new pod of a workload: `("StatefulSet", "redis", 1)` is redis-1; a Job's or CronJob's pod takes
        `pod_name` (default `<name>-run<N>`). Every call is a new pod with fresh, empty volumes."""
        obj = self.find(kind, name)
        if pod_name is None:
            pod_name = f"{name}-{ordinal}" if ordinal is not None else f"{name}-run{len(self.pods)}"
        root = self.root / "pods" / f"{pod_name}-{len(self.pods)}"
        pod = Pod(self, obj, pod_name, self.network.allocate(), self.mkdir(root), ordinal)
        self.pods[f"{pod_name}-{len(self.pods)}"] = pod
        pod.register_names()
        return pod

    def claim_dir(self, claim: str) -> Path:
        """A PersistentVolumeClaim's data: one directory per claim name, shared by every pod that mounts it."""
        return self.mkdir(self.root / "claims" / claim)


@dataclass
class Pod:
    cluster: Cluster
    workload: Mapping[str, Any]
    name: str
    address: str
    root: Path
    ordinal: int | None

    @property
    def template(self) -> Mapping[str, Any]:
        return pod_template(self.workload)

    @property
    def spec(self) -> Mapping[str, Any]:
        return self.template["spec"]

    def labels(self) -> dict[str, str]:
        labels = dict(self.template.get("metadata", {}).get("labels") or {})
        if self.workload["kind"] == "StatefulSet":
            labels["statefulset.kubernetes.io/pod-name"] = self.name
        return labels

    def register_names(self) -> None:
        """This pod's DNS names: its headless name (StatefulSets), and each Service that selects it (a
        Service over several pods resolves to the first pod started, as a single endpoint would)."""
        network, domain = self.cluster.network, self.cluster.service_domain()
        if self.workload["kind"] == "StatefulSet":
            headless = self.workload["spec"]["serviceName"]
            network.register(f"{self.name}.{headless}.{domain}", self.address, replace=True)
        labels = self.labels()
        for service in (o for o in self.cluster.objects if o.get("kind") == "Service"):
            selector = service.get("spec", {}).get("selector") or {}
            if selector and all(labels.get(k) == v for k, v in selector.items()):
                pinned = "statefulset.kubernetes.io/pod-name" in selector
                network.register(f"{service['metadata']['name']}.{domain}", self.address, replace=pinned)

    def volume_dir(self, volume: str) -> Path:
        return self.cluster.mkdir(self.root / "volumes" / volume)

    def container(self, name: str) -> Container:
        specs = [*self.spec.get("initContainers", []), *self.spec["containers"]]
        found = [c for c in specs if c["name"] == name]
        if not found:
            raise LookupError(f"{self.name} has no container {name!r}: {[c['name'] for c in specs]}")
        return Container(self, found[0])


# Programs of the images our scripts exec, and the stand-ins run in their place (Container.paths).
CONFLUENT_RUN = "/etc/confluent/docker/run"
# The Confluent images' jar folder our scripts read (files/jmx-agent.sh: the JMX exporter agent).
CP_BASE_NEW = "/usr/share/java/cp-base-new"


@dataclass
class Container:
    pod: Pod
    spec: Mapping[str, Any]
    paths: dict[str, str] = field(init=False)
    bin_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        cluster = self.pod.cluster
        self.dir = cluster.mkdir(self.pod.root / "containers" / self.spec["name"])
        self.bin_dir = cluster.mkdir(self.dir / "bin")
        self.paths = {}
        volumes = {v["name"]: v for v in self.pod.spec.get("volumes", [])}
        mounts = self.spec.get("volumeMounts", [])
        for mount in mounts:
            self.paths[mount["mountPath"]] = str(self._mount_dir(mount, volumes.get(mount["name"])))
        self._install_standins()
        for mount in mounts:
            volume = volumes.get(mount["name"])
            if volume and ("configMap" in volume or "secret" in volume):
                self._materialise(volume, Path(self.paths[mount["mountPath"]]))

    # --- volumes ---------------------------------------------------------------------------------------------

    def _mount_dir(self, mount: Mapping[str, Any], volume: Mapping[str, Any] | None) -> Path:
        cluster = self.pod.cluster
        if volume is None:  # a volumeClaimTemplate: the pod's own claim
            base = self.pod.volume_dir(mount["name"])
        elif "persistentVolumeClaim" in volume:
            base = cluster.claim_dir(volume["persistentVolumeClaim"]["claimName"])
        elif "configMap" in volume or "secret" in volume:
            base = cluster.mkdir(self.dir / "volumes" / mount["name"])
        else:
            base = self.pod.volume_dir(mount["name"])
        return cluster.mkdir(base / mount["subPath"]) if mount.get("subPath") else base

    def _materialise(self, volume: Mapping[str, Any], target: Path) -> None:
        """A configMap or secret volume's files (`items` and `defaultMode` honoured); scripts get the path table."""
        if "configMap" in volume:
            source = volume["configMap"]
            data = dict(self.pod.cluster.config_map(source["name"]))
        else:
            source = volume["secret"]
            secret = source["secretName"]
            keys = [i["key"] for i in source.get("items", [])] or self.pod.cluster.secrets.keys(secret)
            secrets = self.pod.cluster.secrets
            # An optional volume's keys a test did not set are absent, as the kubelet leaves them out.
            keys = [key for key in keys if not source.get("optional") or secrets.has(secret, key)]
            data = {key: secrets.get(secret, key) for key in keys}
        items = [i for i in source.get("items") or [{"key": key, "path": key} for key in data] if i["key"] in data]
        mode = source.get("defaultMode", 0o644)
        for item in items:
            path = target / item["path"]
            content = data[item["key"]]
            path.write_text(self._script_text(content) if "configMap" in volume else content)
            path.chmod(item.get("mode", mode))
            run_as = self.pod.cluster.supervisor.run_as
            if run_as and "secret" in volume:
                # As the kubelet leaves them: root's, group the pod's fsGroup (here the pod user's group), so a
                # server that checks its key file's owner (PostgreSQL) sees what it sees in a cluster.
                os.chown(path, 0, run_as.gid)
            elif run_as:
                run_as.own(path)

    def _script_text(self, content: str) -> str:
        """A ConfigMap file as this pod sees it: in-pod paths mapped, and in-cluster names and the pod's own
        loopback (`redis-cli -h 127.0.0.1` in a start script) resolved like env values."""
        return self.pod.cluster.network.resolve(rewrite(content, self.paths), self.pod.address)

    # --- stand-ins -------------------------------------------------------------------------------------------

    def _install_standins(self) -> None:
        image = self.spec.get("image", "")
        if "confluentinc/cp-kafka" in image or "confluentinc/cp-zookeeper" in image:
            component = "kafka" if "cp-kafka" in image else "zookeeper"
            mounts = self.dir / "mounts.json"
            mounts.write_text(json.dumps(self.paths))
            self._shim(
                "confluent-run",
                f"PYTHONPATH={shlex.quote(str(REPO_ROOT))} exec {SYSTEM_PYTHON} -m tooling.dataplane.confluent "
                f"{component} --mounts {shlex.quote(str(mounts))} --hosts-file "
                f"{shlex.quote(str(self.pod.cluster.network.hosts_file))}",
            )
            self.paths[CONFLUENT_RUN] = str(self.bin_dir / "confluent-run")
            self.paths[CP_BASE_NEW] = str(CP_BASE_NEW_LIB)
        if "redis" in image.rsplit("/", 1)[-1].split(":")[0]:
            # A pod has its own network namespace, so redis listens on every interface of it; here the
            # pod's interface is its loopback address, added after the config file (argv, no secrets).
            self._shim("redis-server", f'exec {REDIS_SERVER} "$@" --bind {self.pod.address}')

    def _shim(self, name: str, body: str) -> None:
        path = self.bin_dir / name
        path.write_text(f"#!/bin/sh\n# data-plane stand-in ({__name__})\n{body}\n")
        path.chmod(0o755)

    # --- what runs -------------------------------------------------------------------------------------------

    def _literal(self, value: str) -> str:
        return self.pod.cluster.network.resolve(rewrite(value, self.paths), self.pod.address)

    @property
    def env(self) -> dict[str, str]:
        cluster = self.pod.cluster
        env = {
            "PATH": f"{self.bin_dir}:{PG_BIN}:/usr/local/bin:/usr/bin:/bin",
            "HOSTNAME": self.pod.name,
            "HOME": self.paths.get("/tmp", str(self.dir)),
            "LANG": "C.UTF-8",
        }
        fields = {
            "metadata.namespace": cluster.namespace,
            "metadata.name": self.pod.name,
            "status.podIP": self.pod.address,
        }
        for entry in self.spec.get("env", []):
            if "value" in entry:
                env[entry["name"]] = self._literal(expand_var_refs(str(entry["value"]), env))
            elif "secretKeyRef" in entry.get("valueFrom", {}):
                ref = entry["valueFrom"]["secretKeyRef"]
                if ref.get("optional") and not cluster.secrets.has(ref["name"], ref["key"]):
                    continue
                if ref["name"] in cluster.secrets.absent:
                    raise LookupError(f"{entry['name']} needs Secret {ref['name']}, which does not exist")
                env[entry["name"]] = cluster.secrets.get(ref["name"], ref["key"])
            elif "fieldRef" in entry.get("valueFrom", {}):
                env[entry["name"]] = fields[entry["valueFrom"]["fieldRef"]["fieldPath"]]
            else:
                raise NotImplementedError(f"env source {entry}")
        return env

    @property
    def argv(self) -> list[str]:
        """command + args as rendered (the image's entrypoint when the container sets no command)."""
        env = self.env
        raw = [*self.spec.get("command", []), *self.spec.get("args", [])]
        if not self.spec.get("command"):
            raise LookupError(f"{self.spec['name']} runs its image's entrypoint: use its stand-in")
        return [self._literal(expand_var_refs(str(arg), env)) for arg in raw]

    def path(self, in_pod: str) -> Path:
        """Where an in-pod path is on this machine."""
        return Path(rewrite(in_pod, self.paths))

    def run(
        self,
        argv: Sequence[str] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        timeout: float = 120,
        preexec: Any = None,
        input: str | None = None,
    ):
        return self.pod.cluster.supervisor.run(
            argv or self.argv,
            env={**self.env, **(env or {})},
            cwd=self.dir,
            timeout=timeout,
            preexec=preexec,
            input=input,
        )

    def start(self, argv: Sequence[str] | None = None, *, env: Mapping[str, str] | None = None, **kw) -> Server:
        return self.pod.cluster.supervisor.start(
            f"{self.pod.name}/{self.spec['name']}",
            argv or self.argv,
            env={**self.env, **(env or {})},
            cwd=self.dir,
            log=self.dir / "output.log",
            **kw,
        )

    def probe(self, kind: str = "readinessProbe", timeout: float = 10):
        """Run an exec probe as the kubelet would (in the container, with its env)."""
        command = self.spec[kind]["exec"]["command"]
        return self.run([self._literal(arg) for arg in command], timeout=timeout)
