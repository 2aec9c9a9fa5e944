"""A stack output is declared once, as a component's attribute marked `Exported`: `outputs()` is derived from
those declarations under camelCase names, and what is not marked (a password) never becomes an output."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from components.outputs import Exported, Exporting, camel_case, exported_attributes
from components.postgres_cluster import PostgresCluster

pytestmark = pytest.mark.unit


@dataclass(frozen=True)
class Inner(Exporting):
    host_name: Exported[str]


@dataclass(frozen=True)
class Outer(Exporting):
    read_url: Exported[str]
    by_name: Exported[dict[str, Inner]]
    password: str


def test_an_exported_attribute_is_an_output_under_its_camel_case_name_and_nested_ones_export_themselves():
    outer = Outer(read_url="u", by_name={"orders": Inner(host_name="h")}, password="p")
    assert outer.outputs() == {"readUrl": "u", "byName": {"orders": {"hostName": "h"}}}


def test_service_names_become_camel_case_output_keys():
    assert camel_case("order-command-service") == "orderCommandService"
    assert camel_case("password_secret_name") == "passwordSecretName"


def test_the_postgres_clusters_password_is_an_attribute_but_not_an_output():
    assert "password" not in exported_attributes(PostgresCluster)
    assert "writer_url" in exported_attributes(PostgresCluster)
