"""Start, reuse, stop and reset one instance of the loopback control plane."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from tooling.local_cluster import binaries, objects
from tooling.local_cluster.api import Client
from tooling.local_cluster.config import Instance, Ports
from tooling.local_cluster.pki import ensure_pki, write_kubeconfigs
from tooling.local_cluster.processes import COMPONENT_NAMES, CONTROL_PLANE, Processes, port_free, port_user
from tooling.paths import REPO_ROOT

SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.1/16"  # addresses written into pod status only; nothing dials them
CONTROLLERS = "*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller"


class ClusterError(RuntimeError):
    pass


def _log(message: str) -> None:
    print(f"[local-cluster {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _short(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


class LocalCluster:
    def __init__(self, instance: Instance, log: Callable[[str], None] = _log) -> None:
        self.instance = instance
        self.log = log
        self.procs = Processes(instance.state_dir, log)
        self._admin: Client | None = None

    # -- binaries -------------------------------------------------------------------------------------
    def binaries(self) -> dict[str, Path]:
        """Every binary's path, building what is missing first."""
        if binaries.missing(self.instance):
            return self.build()
        binaries.kwok_stages(self.instance.versions)
        return {name: path for name in binaries.BINARIES if (path := binaries.find(name, self.instance))}

    def build(self) -> dict[str, Path]:
        started = time.monotonic()
        paths = binaries.build(self.instance, self.log)
        for name, path in paths.items():
            print(f"  {name:<24} {binaries.version_of(name, path):<10} {path}", file=sys.stderr)
        self.log(f"binaries ready ({time.monotonic() - started:.1f}s)")
        return paths

    # -- state ----------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """One start, stop or reset of this instance at a time (the components do not inherit it)."""
        self.instance.state_dir.mkdir(parents=True, exist_ok=True)
        with (self.instance.state_dir / ".lock").open("w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.log("another start, stop or reset of this cluster is running; waiting for it")
                fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    @property
    def admin(self) -> Client:
        if self._admin is None:
            self._admin = Client(self.instance.ports.apiserver, self.instance.pki, "admin", timeout=10)
        return self._admin

    def apiserver_ready(self) -> bool:
        if not (self.instance.pki / ".complete").is_file():
            return False
        return self.admin.ok("/readyz", "ok")

    def healthy(self) -> bool:
        """The control plane runs and serves (`start` checks the add-ons, and starts one that is down)."""
        return (
            all(self.procs.alive(name) for name in CONTROL_PLANE)
            and self.instance.kubeconfig.is_file()
            and self.apiserver_ready()
        )

    # -- start ----------------------------------------------------------------------------------------
    def start(self, fresh: bool = False) -> Path:
        """Start the cluster, or reuse a healthy running one; returns the admin kubeconfig's path."""
        started = time.monotonic()
        paths = self.binaries()
        inst = self.instance
        inst.state_dir.mkdir(parents=True, exist_ok=True)
        if not fresh and self.healthy():
            self.log(f"already running and healthy: reusing it ({inst.server})")
            self.apply_bootstrap()  # a cluster started by an older checkout may lack a newer object (a CRD)
            if not self.procs.alive(binaries.CERT_MANAGER):  # it stopped, or an older checkout started none
                self.check_ports(["cert_manager_metrics", "cert_manager_healthz"])
                if ensure_pki(inst.pki):
                    self.log(f"added the certificates of this checkout's components to {_short(inst.pki)}")
                write_kubeconfigs(inst.state_dir, inst.server)
                self.wait_for_cert_manager_apis([])
                self.start_cert_manager(paths)
                self.wait_for_cert_manager([binaries.CERT_MANAGER])
            return inst.kubeconfig
        if self.procs.recorded() or self.procs.strays():
            self.log("found a stopped or unhealthy cluster: replacing it")
            self.stop()
        if fresh:
            self.log("--fresh: deleting cluster state")
            for stale in (inst.state_dir / "etcd", inst.pki, inst.state_dir / "kwok.yaml"):
                remove_tree(stale)
        try:
            self._start(paths, started)
        except BaseException:
            self.log(f"start failed: stopping what was started (logs: {_short(self.procs.logs)})")
            self.stop()
            raise
        return inst.kubeconfig

    def apply_bootstrap(self) -> None:
        """Server-side apply of what the cluster holds before anyone deploys (idempotent)."""
        for path, obj in objects.bootstrap(binaries.all_crds(self.instance.versions)):
            self.admin.apply(path, obj)

    def check_ports(self, only: list[str] | None = None) -> None:
        """Every port of the instance (or the port fields ONLY) is free, else a ClusterError naming the setting."""
        for name, port in self.instance.ports.items():
            if only is not None and name not in only:
                continue
            if not port_free(port):
                user = port_user(port)
                raise ClusterError(
                    f"port 127.0.0.1:{port} ({Ports.describe(name)[1]}) is already in use"
                    f"{' by ' + user if user else ' by another program'}: {self.instance.port_setting(name)}"
                )

    def _start(self, paths: dict[str, Path], started: float) -> None:
        inst, ports, pki, state = self.instance, self.instance.ports, self.instance.pki, self.instance.state_dir
        self.check_ports()
        if ensure_pki(pki):
            self.log(f"generated certificates and service-account keys in {_short(pki)}")
        write_kubeconfigs(state, inst.server)
        (state / "kwok.yaml").write_text(objects.kwok_config(binaries.kwok_stages(inst.versions)))
        launched: list[str] = []

        def launch(name: str, *args: str) -> None:
            self.procs.launch(name, [str(paths[name]), *args])
            launched.append(name)

        def wait_for(what: str, timeout: float, ready: Callable[[], bool]) -> None:
            self.wait_for(what, timeout, ready, launched)

        etcd_url = f"https://127.0.0.1:{ports.etcd_client}"
        peer_url = f"http://127.0.0.1:{ports.etcd_peer}"
        self.log(f"starting etcd on 127.0.0.1:{ports.etcd_client}")
        (state / "etcd").mkdir(mode=0o700, exist_ok=True)
        # the argument order of the script this replaces, so `ps` reads the same
        launch(
            "etcd",
            *("--name", "nexus-local", "--data-dir", str(state / "etcd")),
            *("--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url),
            *("--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url),
            *("--initial-cluster", f"nexus-local={peer_url}"),
            *("--cert-file", str(pki / "etcd.crt"), "--key-file", str(pki / "etcd.key")),
            *("--client-cert-auth", "--trusted-ca-file", str(pki / "ca.crt")),
            *("--quota-backend-bytes", "2147483648", "--snapshot-count", "10000", "--log-level", "warn"),
        )
        # The API server is started right away: it retries etcd until etcd serves (a fraction of a second).
        self.log(f"starting kube-apiserver on {inst.server}")
        launch(
            "kube-apiserver",
            *("--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", str(ports.apiserver)),
            *("--etcd-servers", etcd_url, "--etcd-cafile", str(pki / "ca.crt")),
            *("--etcd-certfile", str(pki / "apiserver-etcd-client.crt")),
            *("--etcd-keyfile", str(pki / "apiserver-etcd-client.key")),
            *("--tls-cert-file", str(pki / "apiserver.crt"), "--tls-private-key-file", str(pki / "apiserver.key")),
            *("--client-ca-file", str(pki / "ca.crt")),
            *("--service-account-issuer", "https://kubernetes.default.svc.cluster.local"),
            *("--service-account-key-file", str(pki / "sa.pub")),
            *("--service-account-signing-key-file", str(pki / "sa.key")),
            *("--service-cluster-ip-range", SERVICE_CIDR, "--endpoint-reconciler-type", "none"),
            *("--authorization-mode", "RBAC", "--allow-privileged=true", "--profiling=false"),
        )
        etcd = Client(ports.etcd_client, pki, "apiserver-etcd-client", timeout=2)
        wait_for("etcd", 60, lambda: etcd.ok("/health", '"health":"true"'))
        wait_for("kube-apiserver /readyz", 120, self.apiserver_ready)
        self.log(f"kube-apiserver ready ({time.monotonic() - started:.1f}s)")

        self.log("starting kube-controller-manager, kube-scheduler and kwok")

        def component_kubeconfig(name: str) -> list[str]:
            path = str(state / f"{name}.kubeconfig")
            return ["--kubeconfig", path, "--authentication-kubeconfig", path, "--authorization-kubeconfig", path]

        launch(
            "kube-controller-manager",
            *component_kubeconfig("kube-controller-manager"),
            *("--bind-address", "127.0.0.1", "--secure-port", str(ports.controller_manager), "--leader-elect=false"),
            *("--service-account-private-key-file", str(pki / "sa.key"), "--root-ca-file", str(pki / "ca.crt")),
            *("--use-service-account-credentials=true", "--service-cluster-ip-range", SERVICE_CIDR),
            *("--cluster-signing-cert-file", str(pki / "ca.crt"), "--cluster-signing-key-file", str(pki / "ca.key")),
            *("--controllers", CONTROLLERS, "--profiling=false"),
            # Each controller has a client of its own (service-account credentials) and the default 20
            # requests/s, shared, made a fresh start wait ~5 s for the controllers' tokens: loopback, one user.
            *("--kube-api-qps", "200", "--kube-api-burst", "400"),
        )
        launch(
            "kube-scheduler",
            *component_kubeconfig("kube-scheduler"),
            *("--bind-address", "127.0.0.1", "--secure-port", str(ports.scheduler), "--leader-elect=false"),
            "--profiling=false",
        )
        self.apply_bootstrap()
        launch(
            "kwok",
            *("--kubeconfig", str(state / "kwok.kubeconfig"), "--config", str(state / "kwok.yaml")),
            *("--manage-all-nodes=false", "--manage-nodes-with-annotation-selector", objects.NODE_ANNOTATION),
            *("--manage-nodes-with-label-selector=", "--manage-single-node="),
            *("--disregard-status-with-annotation-selector", objects.CUSTOM_STATUS_ANNOTATION),
            "--disregard-status-with-label-selector=",
            *("--cidr", POD_CIDR, "--node-ip", "127.0.0.1", "--node-port", str(ports.kwok)),
            *("--server-address", f"127.0.0.1:{ports.kwok}"),
        )

        # cert-manager's informers list its kinds as they start: it starts once the API server serves them (the
        # CRDs were applied with the other bootstrap objects; they are served within a second).
        self.wait_for_cert_manager_apis(launched)
        self.start_cert_manager(paths)
        launched.append(binaries.CERT_MANAGER)

        for name, port in (("kube-controller-manager", ports.controller_manager), ("kube-scheduler", ports.scheduler)):
            health = Client(port, timeout=2)
            wait_for(f"{name} /healthz", 60, lambda health=health: health.ok("/healthz", "ok"))
        for node in objects.FAKE_NODES:
            wait_for(f"node {node} Ready", 60, lambda node=node: self.node_ready(node))
        wait_for(
            "the default service account",
            60,
            lambda: self.admin.get("/api/v1/namespaces/default/serviceaccounts/default") is not None,
        )
        wait_for(
            "the Prometheus Operator's resource types to be served",
            60,
            lambda: self.admin.get(f"/apis/{objects.MONITORING_API}") is not None,
        )
        self.wait_for_cert_manager(launched)
        self.log(f"cluster ready in {time.monotonic() - started:.1f}s: export KUBECONFIG={inst.kubeconfig}")

    def wait_for(self, what: str, timeout: float, ready: Callable[[], bool], launched: list[str]) -> None:
        """Until READY says yes; a ClusterError when TIMEOUT seconds pass or a process in LAUNCHED exits."""
        deadline = time.monotonic() + timeout
        while not ready():
            for name in launched:
                if not self.procs.alive(name):
                    raise ClusterError(f"{name} exited; last lines of its log:\n{self.procs.tail(name)}")
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"timed out after {timeout:.0f}s waiting for {what} (logs: {_short(self.procs.logs)})"
                )
            time.sleep(0.1)

    # -- cert-manager ---------------------------------------------------------------------------------
    def start_cert_manager(self, paths: dict[str, Path]) -> None:
        """cert-manager's controller on the host with a kubeconfig of its own, like the control plane's
        controllers: one per cluster (so no leader election), metrics and health on loopback."""
        inst, ports = self.instance, self.instance.ports
        self.log(f"starting {binaries.CERT_MANAGER} {inst.versions.cert_manager}")
        self.procs.launch(
            binaries.CERT_MANAGER,
            [
                str(paths[binaries.CERT_MANAGER]),
                *("--kubeconfig", str(inst.state_dir / "cert-manager.kubeconfig"), "--leader-elect=false"),
                *("--cluster-resource-namespace", objects.CERT_MANAGER_NAMESPACE),
                *("--metrics-listen-address", f"127.0.0.1:{ports.cert_manager_metrics}"),
                *("--healthz-listen-address", f"127.0.0.1:{ports.cert_manager_healthz}"),
                "--v=2",
            ],
        )

    def wait_for_cert_manager_apis(self, launched: list[str]) -> None:
        for api in objects.CERT_MANAGER_APIS:
            self.wait_for(
                f"{api} to be served", 60, lambda api=api: self.admin.get(f"/apis/{api}") is not None, launched
            )

    def wait_for_cert_manager(self, launched: list[str]) -> None:
        health = Client(self.instance.ports.cert_manager_healthz, timeout=2, tls=False)
        self.wait_for(f"{binaries.CERT_MANAGER} /livez", 60, lambda: health.ok("/livez", "ok"), launched)

    def node_ready(self, name: str) -> bool:
        node = self.admin.get(f"/api/v1/nodes/{name}") or {}
        conditions = node.get("status", {}).get("conditions") or []
        return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)

    # -- stop, reset, status --------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop every process of the instance (data is kept): controllers, then the API server, then etcd."""
        running = any(self.procs.alive(name) for name in COMPONENT_NAMES)
        self.procs.stop_groups([binaries.CERT_MANAGER, "kwok", "kube-scheduler", "kube-controller-manager"])
        self.procs.stop_groups(["kube-apiserver"])
        self.procs.stop_groups(["etcd"])
        strays = self.procs.stop_strays()
        self.log("stopped" if running or strays else "not running")

    def reset(self) -> None:
        self.stop()
        # the lock file lives in the state folder: empty it rather than removing the folder under the lock
        for entry in self.instance.state_dir.iterdir() if self.instance.state_dir.is_dir() else []:
            if entry.name != ".lock":
                remove_tree(entry)
        self.log(f"deleted {_short(self.instance.state_dir)}")

    def status(self) -> bool:
        """Print the processes and nodes; True only when everything runs and the API server is ready."""
        up = True
        for name in COMPONENT_NAMES:
            if self.procs.alive(name):
                print(f"  {name:<24} running (pid {self.procs.pid_of(name)})")
            else:
                print(f"  {name:<24} stopped")
                up = False
        if not up or not self.apiserver_ready():
            return False
        print(f"  {'api server':<24} {self.instance.server} ready")
        print(f"  {'kubeconfig':<24} {self.instance.kubeconfig}")
        for item in (self.admin.get("/api/v1/nodes") or {}).get("items", []):
            ready = any(
                c.get("type") == "Ready" and c.get("status") == "True" for c in item["status"].get("conditions", [])
            )
            print(f"  node {item['metadata']['name']:<19} {'Ready' if ready else 'NotReady'}")
        return True

    def env(self) -> str:
        return f"export KUBECONFIG={self.instance.kubeconfig}\nexport PATH={self.instance.tools_bin}:$PATH\n"


def remove_tree(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        os.unlink(path)
