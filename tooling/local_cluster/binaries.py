"""The cluster's binaries: `.tools/bin` when it holds the pinned version, else a compatible one on PATH,
else built with `go build` from the wrapper modules toolchain/k8s, toolchain/k8s/kwok and
toolchain/cert-manager; and the CustomResourceDefinitions the cluster serves, taken from Go modules.

Asking a binary for its version costs a process start (~0.1 s for kube-apiserver), so the answers are
kept in `.tools/share/local-cluster-versions.json`, keyed by path, size and modification time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from tooling.local_cluster.config import (
    CERT_MANAGER_MOD_DIR,
    K8S_MOD_DIR,
    KWOK_MOD_DIR,
    TOOLS_SHARE,
    Instance,
    Versions,
)

KUBERNETES_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
CERT_MANAGER = "cert-manager-controller"
CERT_MANAGER_MODULE = "github.com/cert-manager/cert-manager"
BINARIES = ("etcd", *KUBERNETES_BINARIES, "kwok", CERT_MANAGER)
VERSION_CACHE = TOOLS_SHARE / "local-cluster-versions.json"
# kwok's own stages (the ones kwokctl runs with), copied from the kwok module at the pinned version.
KWOK_STAGES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
    "volume/fast/pvc-provision.yaml",
    "volume/fast/pv-bind.yaml",
    "volume/fast/pvc-delete.yaml",
    "volume/fast/pv-delete.yaml",
)

Log = Callable[[str], None]


class BuildError(RuntimeError):
    pass


def _ask_version(name: str, path: Path) -> str:
    args = ["version", "--client"] if name == "kubectl" else ["--version"]
    try:
        out = subprocess.run([str(path), *args], capture_output=True, text=True, timeout=20, check=False).stdout
    except OSError:
        return ""
    patterns = {
        "etcd": r"etcd Version:\s*v?(\d+\.\d+\.\d+)",
        "kubectl": r"Client Version:\s*v?(\d+\.\d+\.\d+)",
        "kwok": r"v?(\d+\.\d+\.\d+)",
        CERT_MANAGER: r"cert-manager-controller v?(\d+\.\d+\.\d+)",
    }
    found = re.search(patterns.get(name, r"Kubernetes\s+v?(\d+\.\d+\.\d+)"), out)
    return f"v{found.group(1)}" if found else ""


def version_of(name: str, path: Path) -> str:
    """The version the binary reports (empty if unknown), cached by path, size and mtime."""
    try:
        stat = path.stat()
    except OSError:
        return ""
    key = f"{name}:{path}"
    stamp = [stat.st_size, stat.st_mtime_ns]
    try:
        cache = json.loads(VERSION_CACHE.read_text())
    except (OSError, ValueError):
        cache = {}
    entry = cache.get(key)
    if entry and entry[:2] == stamp:
        return entry[2]
    version = _ask_version(name, path)
    if version:
        cache[key] = [*stamp, version]
        try:
            VERSION_CACHE.parent.mkdir(parents=True, exist_ok=True)
            tmp = VERSION_CACHE.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(cache, indent=1, sort_keys=True))
            tmp.replace(VERSION_CACHE)
        except OSError:
            pass
    return version


def pinned(name: str, versions: Versions) -> str:
    own = {"etcd": versions.etcd, "kwok": versions.kwok, CERT_MANAGER: versions.cert_manager}
    return own.get(name, versions.kubernetes)


def compatible(name: str, version: str, versions: Versions) -> bool:
    """Whether VERSION may stand in for the pinned one of NAME."""
    if not version:
        return False
    minor = Versions.minor(version)
    if name == "etcd":
        return minor in ("3.5", "3.6")  # kube-apiserver 1.34 supports etcd 3.5 and 3.6
    if name == "kwok":
        return minor == Versions.minor(versions.kwok)
    if name == CERT_MANAGER:
        return version == versions.cert_manager  # the project's own main: only a build of the pinned version
    k8s_major, k8s_minor = (int(x) for x in Versions.minor(versions.kubernetes).split("."))
    major, sub = (int(x) for x in minor.split("."))
    if name == "kubectl":
        return major == k8s_major and abs(sub - k8s_minor) <= 1  # +-1 minor skew
    return (major, sub) == (k8s_major, k8s_minor)  # control plane: same minor


def find(name: str, instance: Instance) -> Path | None:
    """A usable binary: .tools/bin at the pinned version, else a compatible one on PATH."""
    candidate = instance.tools_bin / name
    if os.access(candidate, os.X_OK) and version_of(name, candidate) == pinned(name, instance.versions):
        return candidate
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if not folder or Path(folder) == instance.tools_bin:
            continue
        path = Path(folder) / name
        if os.access(path, os.X_OK) and compatible(name, version_of(name, path), instance.versions):
            return path
    return None


def missing(instance: Instance, names: Iterable[str] = BINARIES) -> list[str]:
    return [name for name in names if find(name, instance) is None]


def _go_build(what: str, cwd: Path, args: list[str], log: Log) -> None:
    if shutil.which("go") is None:
        raise BuildError(f"go is not installed; it is needed to build {what}")
    started = time.monotonic()
    proc = subprocess.run(["go", "build", *args], cwd=cwd, check=False)
    if proc.returncode != 0:
        raise BuildError(f"go build of {what} failed (exit {proc.returncode}; its output is above)")
    log(f"built {what} in {time.monotonic() - started:.1f}s")


def build(instance: Instance, log: Log) -> dict[str, Path]:
    """Build what is missing, copy kwok's stages, and return every binary's path."""
    out = instance.tools_bin
    out.mkdir(parents=True, exist_ok=True)
    versions = instance.versions
    if missing(instance, ["etcd"]):
        log(f"building etcd {versions.etcd} (go.etcd.io/etcd/server/v3, via toolchain/k8s)")
        _go_build("etcd", K8S_MOD_DIR, ["-o", str(out / "etcd"), "-ldflags", "-s -w", "go.etcd.io/etcd/server/v3"], log)
    absent = missing(instance, KUBERNETES_BINARIES)
    if absent:
        k8s, minor = versions.kubernetes, Versions.minor(versions.kubernetes).split(".")[1]
        stamp = []
        for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
            stamp += [f"-X {pkg}.gitVersion={k8s}", f"-X {pkg}.gitMajor=1", f"-X {pkg}.gitMinor={minor}"]
        stamp.append("-X k8s.io/component-base/version.gitTreeState=clean")
        log(
            f"building {' '.join(absent)} {k8s} from toolchain/k8s (cold: about 10 CPU-minutes, 6-16 min on 2 cores;"
            " with a warm Go cache: ~30 s)"
        )
        pkgs = [f"k8s.io/kubernetes/cmd/{name}" for name in absent]
        _go_build(" ".join(absent), K8S_MOD_DIR, ["-o", f"{out}/", "-ldflags", " ".join(["-s -w", *stamp]), *pkgs], log)
    if missing(instance, ["kwok"]):
        log(f"building kwok {versions.kwok} (sigs.k8s.io/kwok/cmd/kwok, via toolchain/k8s/kwok)")
        ldflags = f"-s -w -X sigs.k8s.io/kwok/pkg/consts.Version={versions.kwok.lstrip('v')}"
        _go_build(
            "kwok", KWOK_MOD_DIR, ["-o", str(out / "kwok"), "-ldflags", ldflags, "sigs.k8s.io/kwok/cmd/kwok"], log
        )
    if missing(instance, [CERT_MANAGER]):
        build_cert_manager(out, versions, log)
    kwok_stages(versions)
    all_crds(versions)
    paths = {name: find(name, instance) for name in BINARIES}
    still = [name for name, path in paths.items() if path is None]
    if still:
        raise BuildError(f"{', '.join(still)} still missing (or at an unusable version) after the build")
    return {name: path for name, path in paths.items() if path is not None}


def kwok_stages(versions: Versions) -> Path:
    """kwok's default node, pod and volume stages at the pinned version, copied once to .tools/share."""
    out = TOOLS_SHARE / f"kwok-{versions.kwok}-stages"
    if (out / ".complete").is_file():
        return out
    env = {**os.environ, "GOFLAGS": "-mod=mod"}

    def module_dir() -> Path | None:
        proc = subprocess.run(
            ["go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kwok"],
            cwd=KWOK_MOD_DIR,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        found = Path(proc.stdout.strip()) if proc.returncode == 0 and proc.stdout.strip() else None
        return found if found and (found / "kustomize" / "stage").is_dir() else None

    if shutil.which("go") is None:
        raise BuildError("go is not installed; it is needed to find kwok's stages in the kwok module")
    source = module_dir()
    if source is None:
        subprocess.run(["go", "mod", "download", "sigs.k8s.io/kwok"], cwd=KWOK_MOD_DIR, env=env, check=False)
        source = module_dir()
    if source is None:
        raise BuildError("cannot find the kwok module's stages (go mod download sigs.k8s.io/kwok failed)")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for stage in KWOK_STAGES:
        target = out / Path(stage).name
        shutil.copyfile(source / "kustomize" / "stage" / stage, target)
        target.chmod(0o644)
    (out / ".complete").touch()
    return out


def build_cert_manager(out: Path, versions: Versions, log: Log) -> None:
    """cert-manager's controller from toolchain/cert-manager (the project's main over the module's controller
    packages), stamped with the pinned version, which must be the one the wrapper's go.mod requires."""
    go_mod = (CERT_MANAGER_MOD_DIR / "go.mod").read_text()
    required = re.search(rf"^\s*(?:require\s+)?{re.escape(CERT_MANAGER_MODULE)}\s+(v\S+)", go_mod, re.MULTILINE)
    if not required or required.group(1) != versions.cert_manager:
        raise BuildError(
            f"toolchain/cert-manager/go.mod requires {CERT_MANAGER_MODULE} "
            f"{required.group(1) if required else '(nothing)'}, not LOCAL_CERT_MANAGER_VERSION={versions.cert_manager}:"
            f" run `go get {CERT_MANAGER_MODULE}@{versions.cert_manager} && go mod tidy` in toolchain/cert-manager"
        )
    log(
        f"building {CERT_MANAGER} {versions.cert_manager} ({CERT_MANAGER_MODULE}, via toolchain/cert-manager;"
        " cold: about 4 min on 2 cores)"
    )
    ldflags = f"-s -w -X {CERT_MANAGER_MODULE}/pkg/util.AppVersion={versions.cert_manager}"
    _go_build(CERT_MANAGER, CERT_MANAGER_MOD_DIR, ["-o", str(out / CERT_MANAGER), "-ldflags", ldflags, "."], log)


@dataclass(frozen=True)
class CrdSource:
    """CustomResourceDefinitions shipped as plain YAML files in a folder of a Go module, at a pinned version."""

    name: str  # copied to .tools/share/<name>-<version>-crds
    module: str
    folder: str  # inside the module
    files: tuple[str, ...]
    version: Callable[[Versions], str]


CRD_SOURCES = (
    # The Prometheus Operator's CRDs the platform's charts create objects of (definitions only: no operator runs).
    CrdSource(
        "prometheus-operator",
        "github.com/prometheus-operator/prometheus-operator",
        "example/prometheus-operator-crd",
        tuple(f"monitoring.coreos.com_{crd}.yaml" for crd in ("servicemonitors", "podmonitors", "prometheusrules")),
        lambda versions: versions.prometheus_operator,
    ),
    # cert-manager's, for its controller on the host. deploy/crds holds the same definitions as the Helm chart's
    # templates/crd-*.yaml without the template lines; every one is v1 only, with no conversion webhook.
    CrdSource(
        "cert-manager",
        CERT_MANAGER_MODULE,
        "deploy/crds",
        tuple(
            f"{group}_{plural}.yaml"
            for group, plural in (
                ("cert-manager.io", "certificates"),
                ("cert-manager.io", "certificaterequests"),
                ("cert-manager.io", "issuers"),
                ("cert-manager.io", "clusterissuers"),
                ("acme.cert-manager.io", "orders"),
                ("acme.cert-manager.io", "challenges"),
            )
        ),
        lambda versions: versions.cert_manager,
    ),
)


def crds(source: CrdSource, versions: Versions) -> Path:
    """SOURCE's CRD files at the pinned version, from its Go module, copied once to .tools/share."""
    version = source.version(versions)
    out = TOOLS_SHARE / f"{source.name}-{version}-crds"
    if (out / ".complete").is_file():
        return out
    if shutil.which("go") is None:
        raise BuildError(f"go is not installed; it is needed to fetch the CRDs of {source.module}")
    module = f"{source.module}@{version}"
    proc = subprocess.run(
        ["go", "mod", "download", "-json", module],
        env={**os.environ, "GOFLAGS": "-mod=mod"},
        cwd=TOOLS_SHARE.parent if TOOLS_SHARE.parent.is_dir() else None,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BuildError(f"go mod download {module} failed: {proc.stdout[-500:]}{proc.stderr[-500:]}")
    folder = Path(json.loads(proc.stdout)["Dir"]) / source.folder
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for name in source.files:
        shutil.copyfile(folder / name, out / name)
        (out / name).chmod(0o644)
    (out / ".complete").touch()
    return out


def all_crds(versions: Versions) -> list[Path]:
    """The folder of each CRD source, fetched into .tools/share the first time."""
    return [crds(source, versions) for source in CRD_SOURCES]
