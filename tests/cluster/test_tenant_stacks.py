"""FluxionDB tenants as stacks of their own, on the local cluster (issue 19).

The dev platform stack is deployed with its two example tenants in `fluxion.tenants`, as a deployment made
before tenants left the committed stack files was; its stack file then loses them, as pulling that change
does, and `python -m tenants migrate --verify` finds them in the last deployment's config and moves them into
stacks `<stack>-example-basic` and `<stack>-example-premium`: no object in their namespaces
is deleted, recreated or even touched (UIDs and resourceVersions are the same), and previews of the platform
stack and of both tenant stacks are empty. A moved tenant is then managed by its own stack.

Then the provisioning API (`python -m tenants serve`, 8 workers) is sent LOAD_TENANTS provision requests
(default 50, the issue's figure; NEXUS_TENANT_LOAD=8 for a quicker run by hand), killed with
SIGKILL while they run and started again: every accepted request ends done (or failed with a reason), each
tenant has exactly one provision operation and its FluxionDB is ready, and a retried request with the same
Idempotency-Key returns the first operation instead of running again.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.conftest import Kubectl
from tooling.engine import ProgramCopy, ScratchStack
from tooling.paths import REPO_ROOT
from tooling.stackfiles import deep_merge
from tooling.stacks import with_example_tenants

pytestmark = pytest.mark.cluster

PLATFORM = "tenants-dev"
EXAMPLES = ("example-basic", "example-premium")
LOAD_TENANTS = int(os.environ.get("NEXUS_TENANT_LOAD", "50"))
TOKEN = "cluster-tier-token-5c1d"
KINDS = "namespace,persistentvolumeclaim,secret,resourcequota,limitrange,networkpolicy,deployment,service"


def tenant_objects(kubectl: Kubectl, namespace: str) -> dict[str, tuple[str, str]]:
    """`kind/name` -> (uid, resourceVersion) of every object the tenant's stack manages in its namespace."""
    objects = {f"Namespace/{namespace}": json.loads(kubectl.run("get", "namespace", namespace, "-o", "json").stdout)}
    for item in kubectl.items(KINDS.removeprefix("namespace,"), namespace):
        if item["kind"] == "Secret" and item["type"] != "Opaque":
            continue
        objects[f"{item['kind']}/{item['metadata']['name']}"] = item
    return {key: (o["metadata"]["uid"], o["metadata"]["resourceVersion"]) for key, o in objects.items()}


def tenants_cli(program: ProgramCopy, state_dir: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tenants", *args, "--stack", PLATFORM, "--state-dir", str(state_dir)],
        cwd=REPO_ROOT,
        env=program.env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Migration:
    platform: ScratchStack
    state_dir: Path
    result: subprocess.CompletedProcess
    before: dict[str, dict[str, tuple[str, str]]]
    after: dict[str, dict[str, tuple[str, str]]]


@pytest.fixture(scope="module")
def platform(program: ProgramCopy, kubectl: Kubectl) -> Iterator[ScratchStack]:
    kubectl.clear_program_namespaces()
    stack = program.stack(PLATFORM, "dev", overrides=with_example_tenants("dev"), render=False)
    try:
        stack.up().check("pulumi up of the dev platform stack with its example tenants")
        stack.write_config(deep_merge(stack.config(), {"fluxion": {"tenants": None}}))
        yield stack
    finally:
        stack.destroy()
        stack.remove()
        kubectl.clear_program_namespaces()
        leftover = [
            n["metadata"]["name"] for n in kubectl.items("namespace") if n["metadata"]["name"].startswith("fluxiondb-")
        ]
        if leftover:
            kubectl.run("delete", "namespace", *leftover, "--wait=false")


@pytest.fixture(scope="module")
def migration(platform: ScratchStack, program: ProgramCopy, kubectl: Kubectl, tmp_path_factory) -> Migration:
    state_dir = tmp_path_factory.mktemp("tenant-state")
    before = {t: tenant_objects(kubectl, f"fluxiondb-{t}") for t in EXAMPLES}
    result = tenants_cli(program, state_dir, "migrate", "--project-dir", str(program.root), "--verify")
    after = {t: tenant_objects(kubectl, f"fluxiondb-{t}") for t in EXAMPLES}
    return Migration(platform, state_dir, result, before, after)


def test_migrating_moves_both_example_tenants_and_every_stacks_preview_is_empty(migration: Migration) -> None:
    output = migration.result.stdout + migration.result.stderr
    assert migration.result.returncode == 0, output
    assert "lists no tenants; moving those of its last deployment" in output
    assert "moved 2 tenants: example-basic, example-premium" in output
    for stack in (PLATFORM, *(f"{PLATFORM}-{t}" for t in EXAMPLES)):
        assert f"preview {stack}: no changes" in output, output


def test_migrating_deletes_recreates_or_touches_no_object_of_the_tenants(migration: Migration) -> None:
    for tenant in EXAMPLES:
        assert migration.after[tenant] == migration.before[tenant], tenant
        assert any(key.startswith("PersistentVolumeClaim/") for key in migration.after[tenant])


def test_the_platform_stack_keeps_no_tenant_resource_and_no_tenant_config(migration: Migration) -> None:
    resources = migration.platform.export()["deployment"]["resources"]
    assert not [r["urn"] for r in resources if "nexus:fluxion:FluxionTenant" in r["type"]]
    assert "tenants" not in (migration.platform.config().get("fluxion") or {})


def test_a_moved_tenant_grows_through_its_own_stack_keeping_its_volume(
    migration: Migration, program: ProgramCopy, kubectl: Kubectl
) -> None:
    namespace = "fluxiondb-example-basic"
    claim_uid = migration.after["example-basic"]["PersistentVolumeClaim/fluxiondb-example-basic-data"][0]
    resized = tenants_cli(program, migration.state_dir, "update-ram", "example-basic", "--ram", "1Gi")
    assert resized.returncode == 0, resized.stdout + resized.stderr
    claim = kubectl.get("persistentvolumeclaim", namespace, "fluxiondb-example-basic-data")
    assert claim["metadata"]["uid"] == claim_uid
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"


# --- The provisioning API under load, killed mid-run ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ApiProcess:
    def __init__(self, program: ProgramCopy, state_dir: Path, token_file: Path, log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.args = [
            sys.executable, "-m", "tenants", "serve", "--stack", PLATFORM, "--state-dir", str(state_dir),
            "--port", str(self.port), "--workers", "8", "--lease-seconds", "10",
        ]  # fmt: skip
        self.env = {**program.env, "NEXUS_TENANTS_API_TOKEN_FILE": str(token_file)}
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(self.args, cwd=REPO_ROOT, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.base}/healthz", timeout=2).close()
                return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"the API did not start:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def call(self, method: str, path: str, body: Any = None, key: str | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(
            self.base + path, data=json.dumps(body).encode() if body is not None else None, method=method
        )
        request.add_header("Authorization", f"Bearer {TOKEN}")
        request.add_header("Content-Type", "application/json")
        if key:
            request.add_header("Idempotency-Key", key)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


@dataclass
class LoadRun:
    accepted: dict[str, str]  # tenant id -> operation id
    operations: list[dict[str, Any]]
    retried: dict[str, str]
    seconds: float
    killed_after_done: int


@pytest.fixture(scope="module")
def load(migration: Migration, program: ProgramCopy, tmp_path_factory) -> Iterator[LoadRun]:
    work = tmp_path_factory.mktemp("tenant-api")
    token_file = work / "token"
    token_file.write_text(TOKEN)
    api = ApiProcess(program, migration.state_dir, token_file, work / "api.log")
    tenants = [f"load-{i:02d}" for i in range(LOAD_TENANTS)]
    started = time.monotonic()
    try:
        api.start()
        accepted = {}
        for tenant in tenants:
            status, body = api.call("POST", "/tenants", {"userId": tenant, "ramSize": "256Mi"}, key=f"create-{tenant}")
            assert status == 202, body
            accepted[tenant] = body["operation"]["id"]
        # Kill while updates are in flight: once the first tenant is through, or (when all of a batch run
        # together) 8 s after the pool filled up, in the middle of every `pulumi up`.
        done, full_since = 0, None
        while done == 0 and time.monotonic() - started < 600:
            time.sleep(1)
            statuses = [
                o["status"] for o in api.call("GET", "/operations")[1]["operations"] if o["tenantId"] in accepted
            ]
            done, running = statuses.count("done"), statuses.count("running")
            if running >= min(8, LOAD_TENANTS):
                full_since = full_since or time.monotonic()
            if full_since and time.monotonic() - full_since >= 8:
                break
        api.kill()
        api.start()
        retried = {
            t: api.call("POST", "/tenants", {"userId": t, "ramSize": "256Mi"}, key=f"create-{t}")[1]["operation"]["id"]
            for t in tenants
        }
        deadline = time.monotonic() + 1500
        while time.monotonic() < deadline:
            operations = api.call("GET", "/operations")[1]["operations"]
            if all(o["status"] in ("done", "failed") for o in operations if o["tenantId"] in accepted):
                break
            time.sleep(2)
        yield LoadRun(accepted, operations, retried, time.monotonic() - started, done)
    finally:
        api.stop()
        print(f"\n{LOAD_TENANTS} tenants through the API (8 workers, one SIGKILL): {time.monotonic() - started:.0f}s")


def test_every_accepted_request_ends_done_after_the_api_was_killed_and_restarted(load: LoadRun) -> None:
    mine = [o for o in load.operations if o["tenantId"] in load.accepted]
    assert {o["id"] for o in mine} == set(load.accepted.values())
    unfinished = [o for o in mine if o["status"] != "done"]
    # Each one's tenant, status, attempts and reason in full (pytest would cut the dicts short).
    assert not unfinished, "\n".join(
        f"{o['tenantId']}: {o['status']} after {o.get('attempts')} attempt(s): {o.get('reason')}" for o in unfinished
    )
    assert load.killed_after_done < len(load.accepted), "the kill came after every request had finished"


def test_a_retried_request_with_the_same_idempotency_key_returns_the_first_operation(load: LoadRun) -> None:
    assert load.retried == load.accepted


def test_every_provisioned_tenant_is_ready_once_and_only_once(load: LoadRun, kubectl: Kubectl) -> None:
    per_tenant = {t: [o for o in load.operations if o["tenantId"] == t] for t in load.accepted}
    assert all(len(ops) == 1 for ops in per_tenant.values()), per_tenant
    for tenant in load.accepted:
        deployment = kubectl.get("deployment", f"fluxiondb-{tenant}", f"fluxiondb-{tenant}")
        assert deployment["status"].get("readyReplicas") == 1, tenant
