"""The Kubernetes API, through kubectl (the cluster `KUBECONFIG` names, as for every other operator tool here):
read a CronJob and a Secret, create a Job, follow it to its end, read its containers' logs; for a point-in-time
restore also scale a StatefulSet, wait for its pods to stop, and delete its standbys' claims."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from collections.abc import Callable
from typing import Any


class KubeError(RuntimeError):
    pass


class Kube:
    def __init__(self, namespace: str, kubectl: str | None = None) -> None:
        self.namespace = namespace
        self.kubectl = kubectl or shutil.which("kubectl") or "kubectl"

    def _run(self, *args: str, stdin: str | None = None) -> str:
        try:
            result = subprocess.run(
                [self.kubectl, "--namespace", self.namespace, *args],
                input=stdin,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except FileNotFoundError:
            raise KubeError("kubectl not found: put it on PATH (make up's tools: .tools/bin)") from None
        if result.returncode != 0:
            raise KubeError(f"kubectl {args[0]} {' '.join(args[1:2])}: {result.stderr.strip()}")
        return result.stdout

    def get(self, kind: str, name: str) -> dict[str, Any]:
        return json.loads(self._run("get", kind, name, "--output", "json"))

    def names(self, kind: str, selector: str) -> list[str]:
        listed = json.loads(self._run("get", kind, "--selector", selector, "--output", "json"))
        return sorted(item["metadata"]["name"] for item in listed.get("items") or [])

    def secret_value(self, name: str, key: str) -> str:
        data = self.get("secret", name).get("data") or {}
        if key not in data:
            raise KubeError(f"Secret {self.namespace}/{name} has no key {key!r}")
        return base64.b64decode(data[key]).decode()

    def create(self, obj: dict[str, Any]) -> None:
        self._run("create", "--filename", "-", stdin=json.dumps(obj))

    def wait_job(
        self, name: str, timeout: float, poll: float = 2.0, sleep: Callable[[float], None] = time.sleep
    ) -> bool:
        """True once the Job completed, False once it failed; KubeError when it did neither in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.get("job", name).get("status") or {}
            for condition in status.get("conditions") or []:
                if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed"):
                    return condition["type"] == "Complete"
            sleep(poll)
        raise KubeError(f"Job {self.namespace}/{name} did not finish within {timeout:.0f}s (kubectl get job {name})")

    def scale(self, kind: str, name: str, replicas: int) -> None:
        self._run("scale", f"{kind}/{name}", f"--replicas={replicas}")

    def delete(self, kind: str, name: str) -> None:
        self._run("delete", kind, name, "--ignore-not-found", "--wait=false")

    def wait_no_pods(
        self, selector: str, timeout: float, poll: float = 2.0, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        """Returns once no pod matches `selector` (a StatefulSet scaled to 0 has stopped); KubeError after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.names("pod", selector):
                return
            sleep(poll)
        raise KubeError(f"pods {selector} still running after {timeout:.0f}s (kubectl get pods --selector {selector})")

    def logs(self, job: str, container: str) -> str:
        try:
            return self._run("logs", f"job/{job}", "--container", container)
        except KubeError as error:
            return f"(no logs of {container}: {error})\n"
