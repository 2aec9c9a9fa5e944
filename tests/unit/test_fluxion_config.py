"""A FluxionDB tenant is an id and a RAM size; namespace, release, CPU and storage follow from them by the
documented rules, and every bad tenant declaration is refused up front with a message naming the config
key, the value and what is allowed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from platform_config import ConfigError, load_platform_config
from platform_config.base import config_error
from platform_config.fluxion import (
    FluxionConfig,
    TenantConfig,
    cpu_for_ram,
    format_bytes,
    quantity_bytes,
    storage_for_ram,
    tenant_resource_name,
)
from tooling.stacks import STACKS, stack_config, with_example_tenants

pytestmark = pytest.mark.unit


def validate_section(section: dict) -> FluxionConfig:
    try:
        return FluxionConfig.model_validate(section)
    except ValidationError as error:
        raise config_error("fluxion", error) from None


def rejection(tenants: list[dict], defaults: dict | None = None) -> str:
    with pytest.raises(ConfigError) as raised:
        validate_section({"defaults": defaults or {}, "tenants": tenants})
    return str(raised.value)


# --- Derivation rules ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ram", "storage"),
    [("256Mi", "512Mi"), ("512Mi", "1Gi"), ("1Gi", "2Gi"), ("2Gi", "4Gi"), ("4Gi", "8Gi"), ("1536Mi", "3Gi")],
)
def test_storage_is_twice_the_ram(ram, storage):
    assert storage_for_ram(ram) == storage


@pytest.mark.parametrize(
    ("ram", "cpu_request", "cpu_limit"),
    [
        ("512Mi", "250m", "1000m"),  # the FluxionDB documentation's defaults
        ("1Gi", "500m", "1000m"),  # its basic example
        ("8Gi", "2000m", "4000m"),  # its premium example
        ("256Mi", "125m", "1000m"),
        ("2Gi", "1000m", "2000m"),
        ("4Gi", "2000m", "4000m"),
        ("32Gi", "2000m", "4000m"),
    ],
)
def test_cpu_is_derived_from_ram_by_the_documented_rule(ram, cpu_request, cpu_limit):
    assert cpu_for_ram(ram) == (cpu_request, cpu_limit)


def test_a_decimal_ram_quantity_gets_an_exact_storage_quantity():
    assert storage_for_ram("1G") == "2G"


def test_a_byte_count_is_written_with_the_largest_exact_suffix():
    assert format_bytes(3 * 2**30) == "3Gi"
    assert format_bytes(1536 * 2**20) == "1536Mi"
    assert format_bytes(1000) == "1000"


def test_namespace_and_release_are_the_id_with_the_fluxiondb_prefix():
    tenant = TenantConfig(id="acme", ram="1Gi")
    assert tenant.name == tenant_resource_name("acme") == "fluxiondb-acme"


def test_an_explicit_larger_storage_wins_over_twice_the_ram():
    assert TenantConfig(id="acme", ram="1Gi", storage="8Gi").effective_storage == "8Gi"


@pytest.mark.parametrize("stack", STACKS)
def test_no_committed_stack_deploys_a_tenant_in_the_platform_stack(stack):
    config = FluxionConfig.model_validate(stack_config(stack)["fluxion"])
    assert config.tenants == []


@pytest.mark.parametrize("stack", STACKS)
def test_each_environments_example_tenants_are_a_basic_and_a_larger_premium_one(stack):
    config = FluxionConfig.model_validate(with_example_tenants(stack, stack_config(stack))["fluxion"])
    assert [t.id for t in config.tenants] == ["example-basic", "example-premium"]
    basic, premium = config.tenants
    assert quantity_bytes(premium.ram) > quantity_bytes(basic.ram)


def test_an_id_of_exactly_the_maximum_length_is_accepted():
    tenant_id = "a" * 53
    assert len(TenantConfig(id=tenant_id, ram="1Gi").name) == 63


# --- Bad input ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tenant_id", ["Acme", "acme_corp", "-acme", "acme-", "", "acme.corp", "a b"])
def test_an_id_that_is_not_a_dns_label_is_rejected(tenant_id):
    message = rejection([{"id": tenant_id, "ram": "1Gi"}])
    assert f"nexus-platform:fluxion.tenants.0.id = {tenant_id!r}" in message
    assert "lowercase letters, digits and '-'" in message


def test_an_id_too_long_for_the_prefixed_namespace_is_rejected_with_the_limit():
    message = rejection([{"id": "a" * 54, "ram": "1Gi"}])
    assert "at most 53 characters" in message
    assert "'fluxiondb-<id>' must be a 63-character DNS label" in message


def test_a_duplicate_id_is_rejected():
    message = rejection([{"id": "acme", "ram": "1Gi"}, {"id": "acme", "ram": "2Gi"}])
    assert "nexus-platform:fluxion.tenants" in message
    assert "duplicated: acme" in message


@pytest.mark.parametrize("ram", ["2GB", "2g", "two", "-1Gi", "1Gi "])
def test_ram_that_is_not_a_kubernetes_quantity_is_rejected(ram):
    message = rejection([{"id": "acme", "ram": ram}])
    assert f"nexus-platform:fluxion.tenants.0.ram = {ram!r}" in message
    assert "not a Kubernetes memory quantity" in message


@pytest.mark.parametrize("ram", ["255Mi", "128Mi", "256M", "100"])
def test_ram_below_256mi_is_rejected(ram):
    message = rejection([{"id": "acme", "ram": ram}])
    assert f"nexus-platform:fluxion.tenants.0.ram = {ram!r}" in message
    assert "below the minimum of 256Mi" in message


def test_millicore_style_ram_is_rejected():
    assert "not a Kubernetes memory quantity" in rejection([{"id": "acme", "ram": "512m"}])


def test_a_missing_ram_is_reported_as_required():
    assert "nexus-platform:fluxion.tenants.0.ram: required but not set" in rejection([{"id": "acme"}])


def test_explicit_storage_below_twice_the_ram_is_rejected():
    message = rejection([{"id": "acme", "ram": "4Gi", "storage": "4Gi"}])
    assert "storage (4Gi) may not be less than 2 x ram (8Gi)" in message


def test_delete_data_on_an_active_tenant_is_rejected():
    message = rejection([{"id": "acme", "ram": "1Gi", "deleteData": True}])
    assert "deleteData is only allowed on a deprovisioned tenant" in message


def test_an_unknown_tenant_key_is_rejected():
    assert "nexus-platform:fluxion.tenants.0.memory: unknown key" in rejection([{"id": "acme", "memory": "1Gi"}])


def test_an_unpinned_image_tag_is_rejected():
    message = rejection([], defaults={"image": {"tag": "latest"}})
    assert "nexus-platform:fluxion.defaults.image.tag = 'latest'" in message


def test_an_ingress_without_a_domain_is_rejected():
    assert "ingress.domain is not set" in rejection([], defaults={"ingress": {"enabled": True}})


def test_the_whole_stack_config_reports_fluxion_errors_under_its_key():
    config = {
        "environment": "dev",
        "postgresClusters": {"orders": {}},
        "fluxion": {"tenants": [{"id": "X", "ram": "1Gi"}]},
    }
    with pytest.raises(ConfigError, match=r"nexus-platform:fluxion\.tenants\.0\.id = 'X'"):
        load_platform_config(config)
