"""The tenant operations behind the provisioning API are pure and safe: they refuse every bad input with the
program's own validation, never shrink a volume (lowering RAM pins the storage), keep data unless deletion
is asked for in two deployable steps, and running any of them twice changes nothing."""

from __future__ import annotations

import re

import pytest

from platform_config import ConfigError
from tenants.operations import TenantError, deprovision, provision, shrink_problems, update_ram

pytestmark = pytest.mark.unit

BASE = {"defaults": {"networkPolicy": True}, "tenants": [{"id": "acme", "ram": "2Gi"}]}


def tenants(section: dict) -> list[dict]:
    return section["tenants"]


# --- provision ---------------------------------------------------------------------------------------------------


def test_provisioning_appends_the_tenant_with_only_id_and_ram():
    change = provision(BASE, "globex", "1Gi")
    assert tenants(change.section)[-1] == {"id": "globex", "ram": "1Gi"}
    assert change.changed and "storage 2Gi (2 x RAM)" in change.messages[0]


def test_provisioning_leaves_the_defaults_and_other_tenants_alone():
    section = provision(BASE, "globex", "1Gi").section
    assert section["defaults"] == BASE["defaults"]
    assert tenants(section)[0] == {"id": "acme", "ram": "2Gi"}


def test_provisioning_does_not_modify_its_input():
    provision(BASE, "globex", "1Gi")
    assert BASE == {"defaults": {"networkPolicy": True}, "tenants": [{"id": "acme", "ram": "2Gi"}]}


def test_provisioning_an_existing_tenant_with_the_same_ram_is_a_no_op():
    change = provision(BASE, "acme", "2Gi")
    assert not change.changed and change.section == BASE


def test_provisioning_the_same_ram_written_differently_is_a_no_op():
    assert not provision(BASE, "acme", "2048Mi").changed


def test_provisioning_an_existing_tenant_with_other_ram_points_to_update_ram():
    with pytest.raises(TenantError, match="use `update-ram acme --ram 4Gi`"):
        provision(BASE, "acme", "4Gi")


@pytest.mark.parametrize(
    ("tenant_id", "ram", "expected"),
    [
        ("Acme", "1Gi", "tenants[Acme].id = 'Acme'"),
        ("a" * 54, "1Gi", "at most 53 characters"),
        ("globex", "1GB", "tenants[globex].ram = '1GB'"),
        ("globex", "128Mi", "below the minimum of 256Mi"),
    ],
)
def test_provisioning_refuses_bad_input_with_the_config_message(tenant_id, ram, expected):
    with pytest.raises(ConfigError, match=re.escape(expected)):
        provision(BASE, tenant_id, ram)


def test_an_already_invalid_stack_section_is_refused_before_any_change():
    duplicated = {"tenants": [{"id": "acme", "ram": "1Gi"}, {"id": "acme", "ram": "1Gi"}]}
    with pytest.raises(ConfigError, match="duplicated: acme"):
        provision(duplicated, "globex", "1Gi")


def test_secure_values_in_the_section_are_validated_without_being_decrypted():
    section = {"tenants": [{"id": "acme", "ram": "1Gi", "apiKey": {"secure": "v1:abc"}}]}
    change = provision(section, "globex", "1Gi")
    assert tenants(change.section)[0]["apiKey"] == {"secure": "v1:abc"}


def test_provisioning_a_deprovisioned_tenant_brings_it_back_with_its_larger_volume():
    section = {"tenants": [{"id": "acme", "ram": "4Gi", "deprovisioned": True}]}
    change = provision(section, "acme", "1Gi")
    assert tenants(change.section) == [{"id": "acme", "ram": "1Gi", "storage": "8Gi"}]
    assert "data kept" in change.messages[0]


# --- update-ram --------------------------------------------------------------------------------------------------


def test_growing_ram_grows_storage_to_twice_the_new_ram():
    assert tenants(update_ram(BASE, "acme", "4Gi").section) == [{"id": "acme", "ram": "4Gi"}]


def test_lowering_ram_pins_storage_at_its_current_size():
    change = update_ram(BASE, "acme", "1Gi")
    assert tenants(change.section) == [{"id": "acme", "ram": "1Gi", "storage": "4Gi"}]
    assert "storage stays at 4Gi: a volume never shrinks" in change.messages[0]


def test_growing_ram_past_a_pinned_storage_drops_the_pin():
    section = {"tenants": [{"id": "acme", "ram": "1Gi", "storage": "4Gi"}]}
    assert tenants(update_ram(section, "acme", "4Gi").section) == [{"id": "acme", "ram": "4Gi"}]


def test_updating_to_the_current_ram_is_a_no_op():
    assert not update_ram(BASE, "acme", "2Gi").changed


def test_updating_an_unknown_tenant_points_to_provision():
    with pytest.raises(TenantError, match="use `provision globex --ram 1Gi`"):
        update_ram(BASE, "globex", "1Gi")


def test_updating_to_ram_below_the_minimum_is_refused():
    with pytest.raises(ConfigError, match="below the minimum of 256Mi"):
        update_ram(BASE, "acme", "200Mi")


# --- Shrink refusal (pure) ------------------------------------------------------------------------------------------


def test_a_change_that_would_shrink_a_tenants_storage_is_reported_with_both_sizes():
    after = {"tenants": [{"id": "acme", "ram": "1Gi"}]}
    (problem,) = shrink_problems(BASE, after)
    assert "'fluxiondb-acme-data' would shrink from 4Gi to 2Gi" in problem


def test_growing_or_keeping_storage_is_not_a_problem():
    assert shrink_problems(BASE, {"tenants": [{"id": "acme", "ram": "8Gi"}]}) == []
    assert shrink_problems(BASE, {"tenants": [{"id": "acme", "ram": "1Gi", "storage": "4Gi"}]}) == []


def test_a_new_tenant_has_no_previous_size_to_shrink_from():
    assert shrink_problems({"tenants": []}, BASE) == []


# --- deprovision -------------------------------------------------------------------------------------------------


def test_deprovisioning_keeps_the_entry_so_the_data_stays_managed():
    change = deprovision(BASE, "acme")
    assert tenants(change.section) == [{"id": "acme", "ram": "2Gi", "deprovisioned": True}]
    assert change.follow_up is None
    assert "namespace, volume and API key are kept" in change.messages[0]


def test_deprovisioning_twice_is_a_no_op():
    once = deprovision(BASE, "acme").section
    assert not deprovision(once, "acme").changed


def test_deprovisioning_an_unknown_tenant_is_a_no_op():
    change = deprovision(BASE, "globex")
    assert not change.changed and change.section == BASE


def test_deleting_data_first_marks_the_tenant_then_removes_it():
    change = deprovision(BASE, "acme", delete_data=True)
    assert tenants(change.section) == [{"id": "acme", "ram": "2Gi", "deprovisioned": True, "deleteData": True}]
    assert change.follow_up is not None
    assert tenants(change.follow_up.section) == []


def test_deleting_data_of_an_already_marked_tenant_goes_straight_to_the_removal():
    marked = deprovision(BASE, "acme", delete_data=True).section
    change = deprovision(marked, "acme", delete_data=True)
    assert not change.changed
    assert tenants(change.follow_up.section) == []


def test_deprovisioning_without_deletion_cancels_a_pending_deletion():
    marked = deprovision(BASE, "acme", delete_data=True).section
    assert "deleteData" not in tenants(deprovision(marked, "acme").section)[0]
