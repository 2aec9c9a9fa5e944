"""The tenant operations the HTTP API and the CLI share: validate a request, accept it durably, run it on a
bounded pool of workers.

Rules (the FluxionDB deployer's, with this platform's guarantees):
- provision {userId, ramSize, apiKey?}: the tenant id is the user id (a DNS label: the namespace is
  `fluxiondb-<id>`); storage is 2 x RAM; an already provisioned tenant with the same RAM is a no-op; a
  deprovisioned one comes back with its data (its volume never shrinks);
- resize {ramSize}: storage follows 2 x RAM; a lower RAM is refused, since storage would have to shrink to
  stay 2 x RAM and a volume never shrinks (and an in-memory database given less RAM than its data does
  not start);
- deprovision: the chart goes, namespace, volume and API key stay; deleting the data is a second,
  explicit request (delete-data), allowed only on a deprovisioned tenant.
Bad input is refused before anything is stored (`RequestError`, naming the field and what is allowed).

Concurrency: an operation runs only when its tenant has no other operation running or queued before it
(the claim in tenants/store.py), so one tenant's requests run one after another and different tenants'
in parallel, up to the pool's size. A worker renews its lease while it runs; a killed worker's lease runs
out and its operation is resumed by any worker (and a Pulumi lock the killed `pulumi up` left is
cancelled by the engine once its process is gone).

A supplied API key is never stored by the service: it is held in memory until the worker hands it to
Pulumi (which stores it encrypted in the stack's config). If the process dies in between, the operation
fails with a reason saying to send the key again; nothing is half-applied.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from platform_config.fluxion import TenantConfig, quantity_bytes, storage_for_ram

from .engine import TenantEngine
from .store import DONE, FAILED, IdempotencyConflict, Operation, Store

log = logging.getLogger("tenants")

PROVISION, RESIZE, DEPROVISION, DELETE_DATA = "provision", "resize", "deprovision", "delete-data"
ACTIVE, DEPROVISIONED = "active", "deprovisioned"
# Request fields, and the TenantConfig fields they become.
PROVISION_FIELDS = {"userId": "id", "ramSize": "ram", "apiKey": None}
RESIZE_FIELDS = {"ramSize": "ram"}
MAX_API_KEY_LENGTH = 256


class RequestError(ValueError):
    """A request refused as it stands: HTTP `status`, the request `field` at fault and why."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.field, self.message = status, field, message

    def body(self) -> dict[str, Any]:
        return {"error": {"field": self.field, "message": self.message}}


def _fields(body: Any, allowed: Mapping[str, str | None], required: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise RequestError(400, "the request body must be a JSON object")
    for name in body:
        if name not in allowed:
            raise RequestError(422, f"unknown field {name!r}; allowed: {', '.join(allowed)}", name)
    for name in required:
        if name not in body:
            raise RequestError(422, f"{name} is required", name)
    for name, value in body.items():
        if not isinstance(value, str):
            raise RequestError(422, f"{name} must be a string, got {json.dumps(value)}", name)
    return body


def _tenant(settings: dict[str, Any], names: Mapping[str, str | None]) -> TenantConfig:
    """Validate with the program's own model; errors name the request's field, not the model's."""
    try:
        return TenantConfig.model_validate(settings)
    except ValidationError as error:
        problem = error.errors(include_url=False)[0]
        model_field = str(problem["loc"][0]) if problem["loc"] else None
        field = next((api for api, model in names.items() if model == model_field), model_field)
        message = problem["msg"].removeprefix("Value error, ")
        raise RequestError(422, f"{field} = {problem.get('input')!r}: {message}", field) from None


def _bigger(storage: str | None, ram: str) -> str:
    derived = storage_for_ram(ram)
    if storage is None or quantity_bytes(derived) >= quantity_bytes(storage):
        return derived
    return storage


def request_hash(kind: str, tenant_id: str, body: Mapping[str, Any]) -> str:
    """What makes two requests the same, for Idempotency-Key: kind, tenant and body (an API key counts only
    as present or absent: its value is never stored, not even hashed)."""
    canonical = {k: v for k, v in body.items() if k != "apiKey"} | {"apiKey": "apiKey" in body}
    return hashlib.sha256(json.dumps([kind, tenant_id, canonical], sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Accepted:
    """The answer to a request: the operation to poll (None for a no-op) and the tenant as it stands."""

    operation: Operation | None
    new: bool
    tenant: dict[str, Any] | None


class TenantService:
    def __init__(
        self,
        store: Store,
        engine: TenantEngine,
        workers: int = 8,
        lease_seconds: float = 30.0,
        poll_seconds: float = 0.2,
    ) -> None:
        self.store, self.engine = store, engine
        self.workers, self.lease_seconds, self.poll_seconds = workers, lease_seconds, poll_seconds
        self.instance = f"{os.uname().nodename}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._keys: dict[str, str] = {}  # operation id -> API key, until the worker hands it to Pulumi
        self._keys_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- requests ----------------------------------------------------------------------------------------------

    def provision(self, body: Any, idempotency_key: str | None = None) -> Accepted:
        fields = _fields(body, PROVISION_FIELDS, ("userId", "ramSize"))
        tenant_id, ram, api_key = fields["userId"], fields["ramSize"], fields.get("apiKey")
        _tenant({"id": tenant_id, "ram": ram}, PROVISION_FIELDS)
        if api_key is not None and not 1 <= len(api_key) <= MAX_API_KEY_LENGTH:
            raise RequestError(422, f"apiKey must be 1 to {MAX_API_KEY_LENGTH} characters", "apiKey")

        def decide(current: dict[str, Any] | None) -> tuple[str, dict[str, Any], str] | None:
            if current is None:
                settings = {"id": tenant_id, "ram": ram}
                return PROVISION, _tenant(settings, PROVISION_FIELDS).model_dump(mode="json", exclude_none=True), ACTIVE
            settings = current["settings"]
            if current["state"] == ACTIVE:
                if quantity_bytes(settings["ram"]) == quantity_bytes(ram) and api_key is None:
                    return None
                raise RequestError(
                    409,
                    f"tenant {tenant_id} is already provisioned with {settings['ram']} RAM; "
                    f"PATCH /tenants/{tenant_id} resizes it (an API key is set at provisioning only)",
                    "userId",
                )
            if quantity_bytes(ram) < quantity_bytes(settings["ram"]):
                raise _shrink(tenant_id, settings, ram)
            storage = _bigger(settings.get("storage") or storage_for_ram(settings["ram"]), ram)
            again = {**settings, "ram": ram, "deprovisioned": False, "deleteData": False}
            again["storage"] = storage if storage != storage_for_ram(ram) else None
            return PROVISION, _valid(again), ACTIVE

        return self._submit(PROVISION, tenant_id, fields, decide, idempotency_key, api_key)

    def resize(self, tenant_id: str, body: Any, idempotency_key: str | None = None) -> Accepted:
        fields = _fields(body, RESIZE_FIELDS, ("ramSize",))
        self._known_id(tenant_id)
        ram = fields["ramSize"]
        _tenant({"id": tenant_id, "ram": ram}, RESIZE_FIELDS)

        def decide(current: dict[str, Any] | None) -> tuple[str, dict[str, Any], str] | None:
            settings = self._existing(tenant_id, current)
            if current is not None and current["state"] != ACTIVE:
                raise RequestError(409, f"tenant {tenant_id} is deprovisioned; POST /tenants provisions it again")
            if quantity_bytes(ram) < quantity_bytes(settings["ram"]):
                raise _shrink(tenant_id, settings, ram)
            if quantity_bytes(ram) == quantity_bytes(settings["ram"]):
                return None
            resized = {**settings, "ram": ram, "storage": None}
            storage = _bigger(settings.get("storage"), ram)
            resized["storage"] = storage if storage != storage_for_ram(ram) else None
            return RESIZE, _valid(resized), ACTIVE

        return self._submit(RESIZE, tenant_id, fields, decide, idempotency_key)

    def deprovision(self, tenant_id: str, idempotency_key: str | None = None) -> Accepted:
        self._known_id(tenant_id)

        def decide(current: dict[str, Any] | None) -> tuple[str, dict[str, Any], str] | None:
            settings = self._existing(tenant_id, current)
            if current is not None and current["state"] == DEPROVISIONED:
                return None
            return DEPROVISION, _valid({**settings, "deprovisioned": True}), DEPROVISIONED

        return self._submit(DEPROVISION, tenant_id, {}, decide, idempotency_key)

    def delete_data(self, tenant_id: str, idempotency_key: str | None = None) -> Accepted:
        self._known_id(tenant_id)

        def decide(current: dict[str, Any] | None) -> tuple[str, dict[str, Any], str] | None:
            settings = self._existing(tenant_id, current)
            if current is not None and current["state"] != DEPROVISIONED:
                raise RequestError(
                    409, f"tenant {tenant_id} is provisioned; DELETE /tenants/{tenant_id} first (data is kept then)"
                )
            return DELETE_DATA, _valid({**settings, "deprovisioned": True, "deleteData": True}), "deleting"

        return self._submit(DELETE_DATA, tenant_id, {}, decide, idempotency_key)

    def tenant(self, tenant_id: str, show_api_key: bool = False) -> dict[str, Any]:
        self._known_id(tenant_id)
        current = self.store.tenant(tenant_id)
        if current is None:
            raise RequestError(404, f"no tenant {tenant_id}")
        info = _public(current)
        if show_api_key:
            outputs = self.engine.outputs(tenant_id, show_secrets=True) or {}
            info["apiKey"] = outputs.get("apiKey")
        return info

    def tenants(self) -> list[dict[str, Any]]:
        return [_public(t) for t in self.store.tenants()]

    def operation(self, operation_id: str) -> dict[str, Any]:
        operation = self.store.operation(operation_id)
        if operation is None:
            raise RequestError(404, f"no operation {operation_id}")
        return operation.public()

    @staticmethod
    def _known_id(tenant_id: str) -> None:
        _tenant({"id": tenant_id, "ram": "1Gi"}, {"id": "id"})

    @staticmethod
    def _existing(tenant_id: str, current: dict[str, Any] | None) -> dict[str, Any]:
        if current is None:
            raise RequestError(404, f"no tenant {tenant_id}; POST /tenants provisions it")
        return dict(current["settings"])

    def _submit(
        self,
        kind: str,
        tenant_id: str,
        fields: Mapping[str, Any],
        decide: Any,
        idempotency_key: str | None,
        api_key: str | None = None,
    ) -> Accepted:
        digest = request_hash(kind, tenant_id, fields)
        try:
            operation, new = self.store.submit(decide, tenant_id, api_key is not None, idempotency_key, digest)
        except IdempotencyConflict as conflict:
            raise RequestError(422, str(conflict), "Idempotency-Key") from None
        if operation is not None and new:
            if api_key is not None:
                with self._keys_lock:
                    self._keys[operation.id] = api_key
            log.info("accepted %s %s for tenant %s", operation.id, kind, tenant_id)
            self._wake.set()
        current = self.store.tenant(tenant_id)
        return Accepted(operation, new, _public(current) if current else None)

    # --- workers -----------------------------------------------------------------------------------------------

    def start(self) -> None:
        for index in range(self.workers):
            thread = threading.Thread(target=self._work, args=(f"{self.instance}-w{index}",), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)

    def run_one(self, operation_id: str, timeout: float = 1800) -> Operation:
        """Run one operation in this thread (the CLI), once its tenant's earlier operations are through."""
        worker = f"{self.instance}-cli"
        deadline = time.monotonic() + timeout
        while True:
            current = self.store.operation(operation_id)
            assert current is not None
            if current.status in (DONE, FAILED):
                return current
            self.store.requeue_expired()
            claimed = self.store.claim(worker, self.lease_seconds, only=operation_id)
            if claimed is not None:
                self._run(worker, claimed)
            elif time.monotonic() > deadline:
                raise TimeoutError(f"operation {operation_id} did not run within {timeout}s")
            else:
                time.sleep(self.poll_seconds)

    def _work(self, worker: str) -> None:
        while not self._stop.is_set():
            try:
                if self.store.requeue_expired():
                    log.warning("resumed operations whose worker stopped renewing its lease")
                operation = self.store.claim(worker, self.lease_seconds)
            except Exception:  # a busy or briefly unreachable database: try again
                log.exception("claiming an operation failed")
                operation = None
            if operation is None:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
                continue
            self._run(worker, operation)

    def _run(self, worker: str, operation: Operation) -> None:
        stop_heartbeat = threading.Event()

        def heartbeat() -> None:
            while not stop_heartbeat.wait(self.lease_seconds / 3):
                self.store.renew(operation.id, worker, self.lease_seconds)

        beat = threading.Thread(target=heartbeat, daemon=True)
        beat.start()
        try:
            with self._keys_lock:
                api_key = self._keys.get(operation.id)
            if operation.with_api_key and api_key is None:
                self.store.finish(
                    operation.id,
                    worker,
                    FAILED,
                    "the API key sent with this request was held in memory only and the API restarted before it "
                    "reached the tenant's stack; nothing was changed: send the request again with the key",
                )
                return
            tenant = TenantConfig.model_validate(operation.settings)
            lines: list[str] = []
            started = time.monotonic()
            if operation.kind == DELETE_DATA:
                self.engine.delete_data(tenant, lines.append)
                self.store.finish(operation.id, worker, DONE, remove_tenant=True)
            else:
                outputs = self.engine.apply(tenant, api_key, lines.append)
                self.store.finish(operation.id, worker, DONE, outputs=outputs)
            log.info(
                "%s %s %s: done in %.1fs", operation.id, operation.kind, operation.tenant_id, time.monotonic() - started
            )
        except Exception as error:  # the reason is the operation's result: Pulumi's own error lines
            log.warning("%s %s %s failed: %s", operation.id, operation.kind, operation.tenant_id, error)
            self.store.finish(operation.id, worker, FAILED, f"{type(error).__name__}: {error}"[-4000:])
        finally:
            stop_heartbeat.set()
            with self._keys_lock:
                self._keys.pop(operation.id, None)


def _valid(settings: dict[str, Any]) -> dict[str, Any]:
    cleaned = {k: v for k, v in settings.items() if v not in (None, False)}
    return TenantConfig.model_validate(cleaned).model_dump(mode="json", exclude_defaults=True) | {
        "id": cleaned["id"],
        "ram": cleaned["ram"],
    }


def _shrink(tenant_id: str, settings: Mapping[str, Any], ram: str) -> RequestError:
    current = settings.get("storage") or storage_for_ram(settings["ram"])
    return RequestError(
        422,
        f"ramSize = {ram!r}: below tenant {tenant_id}'s {settings['ram']}; storage (2 x RAM, now {current}) would "
        "have to shrink and a volume never shrinks",
        "ramSize",
    )


def _public(tenant: Mapping[str, Any]) -> dict[str, Any]:
    """A tenant as the API shows it: the spec's {userId, ramSize, storage}, state and outputs, no API key."""
    settings = tenant["settings"]
    outputs = dict(tenant.get("outputs") or {})
    outputs.pop("apiKey", None)
    return {
        "userId": tenant["id"],
        "ramSize": settings["ram"],
        "storage": settings.get("storage") or storage_for_ram(settings["ram"]),
        "state": tenant["state"],
        "apiKeyGeneration": settings.get("apiKeyGeneration", 0),
        "outputs": outputs,
    }
