"""The provisioning API's rules, over real HTTP on loopback and a real SQLite store, with Pulumi replaced by a
recording stand-in (the cluster tier, tests/cluster/test_tenant_provisioning.py, runs the real engine):
bad input is refused with a 4xx naming the field and changes nothing; accepted work is 202 + an operation
to poll; a retried Idempotency-Key does not run twice; API keys are never shown unless asked for; one
tenant's operations run one after another, different tenants' in parallel; a dead worker's operation is
resumed; a restart reports what it cannot finish."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from platform_config.fluxion import TenantConfig
from tenants.api import make_server
from tenants.openapi import OPENAPI
from tenants.service import TenantService
from tenants.store import Store

pytestmark = pytest.mark.unit

TOKEN = "test-token-0123456789"
SUPPLIED_KEY = "tenant-chosen-key-9f8e7d"


class RecordingEngine:
    """Stands in for the Automation API: records what it was asked, optionally slowly."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[tuple[str, dict[str, Any], str | None]] = []
        self.running: dict[str, int] = {}
        self.max_running_per_tenant = 0
        self.max_running = 0
        self.keys: dict[str, str] = {}
        self._lock = threading.Lock()

    def _enter(self, tenant_id: str) -> None:
        with self._lock:
            self.running[tenant_id] = self.running.get(tenant_id, 0) + 1
            self.max_running_per_tenant = max(self.max_running_per_tenant, self.running[tenant_id])
            self.max_running = max(self.max_running, sum(self.running.values()))

    def _leave(self, tenant_id: str) -> None:
        with self._lock:
            self.running[tenant_id] -= 1

    def apply(self, tenant: TenantConfig, api_key: str | None, log: Any) -> dict[str, Any]:
        self._enter(tenant.id)
        try:
            time.sleep(self.delay)
            self.calls.append(("apply", tenant.model_dump(mode="json", exclude_defaults=True), api_key))
            if api_key is not None:
                self.keys[tenant.id] = api_key
            self.keys.setdefault(tenant.id, "generated-key")
            return {"state": "deprovisioned" if tenant.deprovisioned else "active", "storage": tenant.effective_storage}
        finally:
            self._leave(tenant.id)

    def delete_data(self, tenant: TenantConfig, log: Any) -> None:
        self.calls.append(("delete_data", tenant.model_dump(mode="json", exclude_defaults=True), None))

    def outputs(self, tenant_id: str, show_secrets: bool = False) -> dict[str, Any] | None:
        return {"apiKey": self.keys.get(tenant_id)} if show_secrets else {}


class Api:
    def __init__(self, base: str, service: TenantService, engine: RecordingEngine, database: Path) -> None:
        self.base, self.service, self.engine, self.database = base, service, engine, database

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = TOKEN, headers: dict | None = None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read()), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read()), dict(error.headers)

    def wait(self, operation_id: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _, operation, _ = self.call("GET", f"/operations/{operation_id}")
            if operation["status"] in ("done", "failed"):
                return operation
            time.sleep(0.05)
        raise AssertionError(f"operation {operation_id} did not finish")

    def provisioned(self, tenant_id: str, ram: str = "1Gi", **extra: Any) -> dict[str, Any]:
        status, body, _ = self.call("POST", "/tenants", {"userId": tenant_id, "ramSize": ram, **extra})
        assert status == 202, body
        return self.wait(body["operation"]["id"])


def serve(tmp_path: Path, engine: RecordingEngine, workers: int = 4, lease: float = 30.0) -> Iterator[Api]:
    database = tmp_path / "operations.sqlite3"
    service = TenantService(Store.sqlite(database), engine, workers=workers, lease_seconds=lease, poll_seconds=0.02)
    server = make_server(service, TOKEN, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    service.start()
    try:
        yield Api(f"http://127.0.0.1:{server.server_address[1]}", service, engine, database)
    finally:
        server.shutdown()
        service.stop(timeout=5)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from serve(tmp_path, RecordingEngine())


def refusal(api: Api, status: int, method: str, path: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
    got, answer, _ = api.call(method, path, body, **kwargs)
    assert got == status, answer
    return answer["error"]


# --- Bad input: a 4xx naming the field, nothing changed ------------------------------------------------------


def test_a_request_without_a_token_is_refused_and_changes_nothing(api):
    error = refusal(api, 401, "POST", "/tenants", {"userId": "acme", "ramSize": "1Gi"}, token=None)
    assert error["field"] == "Authorization"
    assert api.call("GET", "/tenants")[1] == {"tenants": []}


def test_a_wrong_token_is_refused(api):
    assert refusal(api, 401, "GET", "/tenants", token="not-the-token")["field"] == "Authorization"


def test_ram_below_the_minimum_is_refused_naming_ram_size(api):
    error = refusal(api, 422, "POST", "/tenants", {"userId": "acme", "ramSize": "128Mi"})
    assert error["field"] == "ramSize" and "256Mi" in error["message"]
    assert api.call("GET", "/tenants")[1] == {"tenants": []} and api.engine.calls == []


def test_a_malformed_quantity_is_refused_naming_ram_size(api):
    error = refusal(api, 422, "POST", "/tenants", {"userId": "acme", "ramSize": "two gigs"})
    assert error["field"] == "ramSize" and "'two gigs'" in error["message"]


def test_an_unknown_field_is_refused_naming_it(api):
    error = refusal(api, 422, "POST", "/tenants", {"userId": "acme", "ramSize": "1Gi", "storage": "100Gi"})
    assert error["field"] == "storage" and "userId, ramSize, apiKey" in error["message"]


def test_an_id_that_is_not_a_dns_label_is_refused_naming_user_id(api):
    error = refusal(api, 422, "POST", "/tenants", {"userId": "Acme_Corp", "ramSize": "1Gi"})
    assert error["field"] == "userId" and "DNS label" in error["message"]


def test_a_missing_field_is_refused_naming_it(api):
    assert refusal(api, 422, "POST", "/tenants", {"userId": "acme"})["field"] == "ramSize"


def test_a_body_that_is_not_json_is_refused(api):
    request = urllib.request.Request(api.base + "/tenants", data=b"{not json", method="POST")
    request.add_header("Authorization", f"Bearer {TOKEN}")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400


def test_a_ram_decrease_is_refused_as_a_shrink_and_the_tenant_keeps_its_size(api):
    api.provisioned("acme", "2Gi")
    error = refusal(api, 422, "PATCH", "/tenants/acme", {"ramSize": "1Gi"})
    assert error["field"] == "ramSize" and "never shrinks" in error["message"]
    assert api.call("GET", "/tenants/acme")[1]["storage"] == "4Gi"
    assert len(api.engine.calls) == 1


def test_resizing_an_unknown_tenant_is_not_found(api):
    assert refusal(api, 404, "PATCH", "/tenants/nobody", {"ramSize": "1Gi"})["message"].startswith("no tenant")


# --- Accepted work --------------------------------------------------------------------------------------------


def test_provisioning_answers_202_with_an_operation_that_ends_done(api):
    status, body, headers = api.call("POST", "/tenants", {"userId": "acme", "ramSize": "2Gi"})
    assert status == 202
    assert headers["Location"] == f"/operations/{body['operation']['id']}"
    assert api.wait(body["operation"]["id"])["status"] == "done"
    tenant = api.call("GET", "/tenants/acme")[1]
    assert (tenant["ramSize"], tenant["storage"], tenant["state"]) == ("2Gi", "4Gi", "active")
    assert api.engine.calls == [("apply", {"id": "acme", "ram": "2Gi"}, None)]


def test_provisioning_the_same_tenant_again_does_nothing(api):
    api.provisioned("acme")
    status, body, _ = api.call("POST", "/tenants", {"userId": "acme", "ramSize": "1Gi"})
    assert status == 200 and body["operation"] is None
    assert len(api.engine.calls) == 1


def test_growing_ram_grows_storage_to_twice_the_ram(api):
    api.provisioned("acme", "1Gi")
    status, body, _ = api.call("PATCH", "/tenants/acme", {"ramSize": "4Gi"})
    assert status == 202 and api.wait(body["operation"]["id"])["status"] == "done"
    assert api.engine.calls[-1][1] == {"id": "acme", "ram": "4Gi"}
    assert api.call("GET", "/tenants/acme")[1]["storage"] == "8Gi"


def test_a_retried_request_with_the_same_idempotency_key_runs_once(api):
    headers = {"Idempotency-Key": "retry-1"}
    first = api.call("POST", "/tenants", {"userId": "acme", "ramSize": "1Gi"}, headers=headers)
    api.wait(first[1]["operation"]["id"])
    again = api.call("POST", "/tenants", {"userId": "acme", "ramSize": "1Gi"}, headers=headers)
    assert again[0] == 202 and again[1]["operation"]["id"] == first[1]["operation"]["id"]
    assert len(api.engine.calls) == 1


def test_an_idempotency_key_reused_for_another_request_is_refused(api):
    api.call("POST", "/tenants", {"userId": "acme", "ramSize": "1Gi"}, headers={"Idempotency-Key": "k"})
    error = refusal(
        api, 422, "POST", "/tenants", {"userId": "globex", "ramSize": "1Gi"}, headers={"Idempotency-Key": "k"}
    )
    assert error["field"] == "Idempotency-Key"


def test_deprovisioning_keeps_the_data_and_deleting_it_is_a_second_request(api):
    api.provisioned("acme")
    assert refusal(api, 409, "DELETE", "/tenants/acme/data")["message"].startswith("tenant acme is provisioned")
    status, body, _ = api.call("DELETE", "/tenants/acme")
    assert status == 202 and api.wait(body["operation"]["id"])["status"] == "done"
    assert api.engine.calls[-1] == ("apply", {"id": "acme", "ram": "1Gi", "deprovisioned": True}, None)
    assert api.call("GET", "/tenants/acme")[1]["state"] == "deprovisioned"
    status, body, _ = api.call("DELETE", "/tenants/acme/data")
    assert status == 202 and api.wait(body["operation"]["id"])["status"] == "done"
    assert api.engine.calls[-1][0] == "delete_data"
    assert api.call("GET", "/tenants/acme")[0] == 404


def test_a_deprovisioned_tenant_provisioned_again_keeps_its_larger_volume(api):
    api.provisioned("acme", "4Gi")
    api.wait(api.call("DELETE", "/tenants/acme")[1]["operation"]["id"])
    error = refusal(api, 422, "POST", "/tenants", {"userId": "acme", "ramSize": "1Gi"})
    assert error["field"] == "ramSize"
    assert api.provisioned("acme", "4Gi")["status"] == "done"
    assert api.engine.calls[-1][1] == {"id": "acme", "ram": "4Gi"}


# --- API keys ------------------------------------------------------------------------------------------------


def test_a_supplied_api_key_reaches_pulumi_and_no_response_log_or_database(api, caplog):
    caplog.set_level(logging.DEBUG)
    status, body, _ = api.call("POST", "/tenants", {"userId": "acme", "ramSize": "1Gi", "apiKey": SUPPLIED_KEY})
    assert status == 202
    api.wait(body["operation"]["id"])
    assert api.engine.calls[0][2] == SUPPLIED_KEY
    listed = json.dumps([body, api.call("GET", "/tenants")[1], api.call("GET", "/tenants/acme")[1]])
    assert SUPPLIED_KEY not in listed and SUPPLIED_KEY not in caplog.text
    assert not any(SUPPLIED_KEY.encode() in path.read_bytes() for path in api.database.parent.glob("operations*"))


def test_the_api_key_is_returned_only_when_asked_for(api):
    api.provisioned("acme", apiKey=SUPPLIED_KEY)
    assert "apiKey" not in api.call("GET", "/tenants/acme")[1]
    assert api.call("GET", "/tenants/acme?showApiKey=true")[1]["apiKey"] == SUPPLIED_KEY


# --- Concurrency and durability ------------------------------------------------------------------------------


def test_one_tenants_operations_run_one_after_another_and_different_tenants_in_parallel(tmp_path):
    for api in serve(tmp_path, RecordingEngine(delay=0.3), workers=4):
        ids = [
            api.call("POST", "/tenants", {"userId": f"t{i}", "ramSize": "1Gi"})[1]["operation"]["id"] for i in range(4)
        ]
        ids += [api.call("PATCH", "/tenants/t0", {"ramSize": size})[1]["operation"]["id"] for size in ("2Gi", "4Gi")]
        assert all(api.wait(i)["status"] == "done" for i in ids)
        assert api.engine.max_running_per_tenant == 1
        assert api.engine.max_running >= 2
        t0 = [call[1]["ram"] for call in api.engine.calls if call[1]["id"] == "t0"]
        assert t0 == ["1Gi", "2Gi", "4Gi"]


def test_an_operation_whose_worker_died_is_resumed_once_its_lease_runs_out(tmp_path):
    store = Store.sqlite(tmp_path / "operations.sqlite3")
    service = TenantService(store, RecordingEngine(), workers=0, lease_seconds=0.5)
    accepted = service.provision({"userId": "acme", "ramSize": "1Gi"})
    assert store.claim("killed-worker", lease_seconds=0.5) is not None  # claimed, then the worker "dies"
    for api in serve(tmp_path, RecordingEngine(), workers=2, lease=0.5):
        operation = api.wait(accepted.operation.id)
        assert (operation["status"], operation["attempts"]) == ("done", 2)


def test_after_a_restart_an_operation_whose_api_key_was_lost_fails_saying_to_send_it_again(tmp_path):
    store = Store.sqlite(tmp_path / "operations.sqlite3")
    before_restart = TenantService(store, RecordingEngine(), workers=0)
    accepted = before_restart.provision({"userId": "acme", "ramSize": "1Gi", "apiKey": SUPPLIED_KEY})
    for api in serve(tmp_path, RecordingEngine(), workers=1):
        operation = api.wait(accepted.operation.id)
        assert operation["status"] == "failed" and "send the request again with the key" in operation["reason"]
        assert api.engine.calls == []


# --- The document ---------------------------------------------------------------------------------------------


def test_the_openapi_document_is_served_without_a_token_and_names_every_route(api):
    status, document, _ = api.call("GET", "/openapi.json", token=None)
    assert status == 200 and document == json.loads(json.dumps(OPENAPI))
    routes = {(path, method) for path, item in document["paths"].items() for method in item}
    assert routes == {
        ("/tenants", "post"),
        ("/tenants", "get"),
        ("/tenants/{id}", "get"),
        ("/tenants/{id}", "patch"),
        ("/tenants/{id}", "delete"),
        ("/tenants/{id}/data", "delete"),
        ("/operations", "get"),
        ("/operations/{id}", "get"),
    }
