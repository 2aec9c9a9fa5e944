"""The tenant operations as pure functions: a stack's raw `fluxion` section in, the next section out.

Nothing here touches a file or Pulumi. Every result is validated with the program's own model
(`platform_config.fluxion.FluxionConfig`, errors formatted by `config_error`) and checked against the
storage-shrink rule (`components.storage.storage_change_problems`), so a bad request is refused before
anything is written, let alone applied.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from components.fluxion_tenant import claim_name
from components.storage import storage_change_problems
from platform_config.base import config_error
from platform_config.fluxion import FluxionConfig, TenantConfig, quantity_bytes, storage_for_ram

SECTION_KEY = "fluxion"
# Stands in for `{secure: ...}` values during validation: the CLI never decrypts them.
_SECRET_PLACEHOLDER = "<secret>"


class TenantError(ValueError):
    """A request the tenant rules refuse; the message says why and what to do instead."""


@dataclass(frozen=True)
class Change:
    """The section after an operation, what happened in words, and whether another step must follow."""

    section: dict[str, Any]
    messages: list[str] = field(default_factory=list)
    changed: bool = True
    # deprovision --delete-data: the entry is removed only after `deleteData: true` has been deployed.
    follow_up: Change | None = None


def _without_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return _SECRET_PLACEHOLDER
        return {k: _without_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_secrets(v) for v in value]
    return value


def validate_section(section: dict[str, Any]) -> FluxionConfig:
    """The program's own validation of `nexus-platform:fluxion`; raises ConfigError naming key and value."""
    try:
        return FluxionConfig.model_validate(_without_secrets(section))
    except ValidationError as error:
        raise config_error(SECTION_KEY, error) from None


def _storage_by_claim(config: FluxionConfig) -> dict[str, str]:
    return {claim_name(t): t.effective_storage for t in config.tenants}


def shrink_problems(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """One message per tenant whose volume the change would shrink (pure; the StorageGuard's rule)."""
    return storage_change_problems(
        _storage_by_claim(validate_section(before)), _storage_by_claim(validate_section(after))
    )


def _entries(section: dict[str, Any]) -> list[dict[str, Any]]:
    return list(section.get("tenants") or [])


def _index(section: dict[str, Any], tenant_id: str) -> int | None:
    return next((i for i, entry in enumerate(_entries(section)) if entry.get("id") == tenant_id), None)


def _with_entries(section: dict[str, Any], entries: list[dict[str, Any]]) -> dict[str, Any]:
    updated = copy.deepcopy(section)
    updated["tenants"] = copy.deepcopy(entries)
    return updated


def _checked(before: dict[str, Any], after: dict[str, Any], messages: list[str]) -> Change:
    validate_section(after)
    problems = shrink_problems(before, after)
    if problems:
        raise TenantError("\n".join(problems))
    return Change(section=after, messages=messages, changed=after != before)


def _sized(entry: dict[str, Any], ram: str, current_storage: str | None) -> tuple[dict[str, Any], str]:
    """Set RAM; storage follows 2 x RAM but never drops below what the tenant already has."""
    sized = {k: v for k, v in entry.items() if k != "storage"}
    sized["ram"] = ram
    derived = storage_for_ram(ram)
    if current_storage is None or quantity_bytes(derived) >= quantity_bytes(current_storage):
        return sized, f"storage {derived} (2 x RAM)"
    sized["storage"] = current_storage
    return sized, f"storage stays at {current_storage}: a volume never shrinks (2 x RAM would be {derived})"


def _check_request(tenant_id: str, ram: str) -> None:
    """The id and RAM of a request, validated by the program's model before anything else is looked at."""
    try:
        TenantConfig.model_validate({"id": tenant_id, "ram": ram})
    except ValidationError as error:
        raise config_error(f"{SECTION_KEY}.tenants[{tenant_id}]", error) from None


def _current(section: dict[str, Any], index: int) -> TenantConfig:
    return validate_section(section).tenants[index]


def provision(section: dict[str, Any], tenant_id: str, ram: str) -> Change:
    """Add a tenant, or bring a deprovisioned one back (its volume and key are still there)."""
    _check_request(tenant_id, ram)
    validate_section(section)
    entries = _entries(section)
    index = _index(section, tenant_id)
    if index is None:
        entry, storage = _sized({"id": tenant_id}, ram, None)
        after = _with_entries(section, [*entries, entry])
        return _checked(section, after, [f"tenant {tenant_id}: provisioned with {ram} RAM, {storage}"])
    current = _current(section, index)
    if current.active:
        if quantity_bytes(current.ram) == quantity_bytes(ram):
            return Change(
                section=section, messages=[f"tenant {tenant_id}: already provisioned with {ram} RAM"], changed=False
            )
        raise TenantError(
            f"tenant {tenant_id} is already provisioned with {current.ram} RAM; "
            f"use `update-ram {tenant_id} --ram {ram}` to resize it"
        )
    entry, storage = _sized(entries[index], ram, current.effective_storage)
    for flag in ("deprovisioned", "deleteData"):
        entry.pop(flag, None)
    entries[index] = entry
    after = _with_entries(section, entries)
    return _checked(section, after, [f"tenant {tenant_id}: provisioned again with {ram} RAM, {storage}; data kept"])


def update_ram(section: dict[str, Any], tenant_id: str, ram: str) -> Change:
    """Resize a tenant: storage grows with RAM (in place), and stays when RAM is lowered."""
    _check_request(tenant_id, ram)
    validate_section(section)
    index = _index(section, tenant_id)
    if index is None:
        raise TenantError(f"tenant {tenant_id} does not exist; use `provision {tenant_id} --ram {ram}` to add it")
    current = _current(section, index)
    entries = _entries(section)
    entry, storage = _sized(entries[index], ram, current.effective_storage)
    entries[index] = entry
    after = _with_entries(section, entries)
    change = _checked(section, after, [f"tenant {tenant_id}: RAM {current.ram} -> {ram}, {storage}"])
    if not change.changed:
        return Change(section=section, messages=[f"tenant {tenant_id}: already has {ram} RAM"], changed=False)
    return change


def deprovision(section: dict[str, Any], tenant_id: str, delete_data: bool = False) -> Change:
    """Stop serving a tenant. Data (volume, namespace, key) is kept unless `delete_data`, which takes two
    deployments: `deleteData: true` first (the volume stops being retained), then removing the entry."""
    validate_section(section)
    index = _index(section, tenant_id)
    if index is None:
        return Change(
            section=section, messages=[f"tenant {tenant_id}: not in this stack; nothing to do"], changed=False
        )
    entries = _entries(section)
    entry = {**entries[index], "deprovisioned": True}
    if not delete_data:
        entry.pop("deleteData", None)
        entries[index] = entry
        after = _with_entries(section, entries)
        change = _checked(
            section,
            after,
            [
                f"tenant {tenant_id}: deprovisioned; its namespace, volume and API key are kept (provision it again "
                "to bring the data back, or deprovision --delete-data to delete it)"
            ],
        )
        if not change.changed:
            return Change(section=section, messages=[f"tenant {tenant_id}: already deprovisioned"], changed=False)
        return change
    entry["deleteData"] = True
    entries[index] = entry
    marked = _with_entries(section, entries)
    removed = _with_entries(section, [e for i, e in enumerate(entries) if i != index])
    validate_section(marked)
    removal = Change(section=removed, messages=[f"tenant {tenant_id}: removed; its namespace and volume are deleted"])
    return Change(
        section=marked,
        messages=[f"tenant {tenant_id}: marked deleteData: true (its volume and namespace will be deleted)"],
        changed=marked != section,
        follow_up=removal,
    )
