"""No credential sits in a ConfigMap, and nothing is exposed through a LoadBalancer Service unless the
stack config allows it (policy/rules.py)."""

from __future__ import annotations

import pytest
import rules

from tests.policy.manifests import configmap, service

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "key",
    ["DB_PASSWORD", "apiKey", "API_KEY", "x-api-key", "jwt.secret", "ACCESS_TOKEN", "AWS_SECRET_ACCESS_KEY", "DB_PWD"],
)
def test_a_credential_like_key_with_a_value_is_a_violation(key):
    problems = rules.configmap_credentials(configmap({key: "hunter2"}))
    assert problems[0] == f"ConfigMap orders/api-config: key {key!r} holds what looks like a credential"


def test_the_violation_tells_where_credentials_belong_without_repeating_the_value():
    problems = rules.configmap_credentials(configmap({"DB_PASSWORD": "hunter2"}))
    assert "keep credentials in a Secret" in problems[-1]
    assert not any("hunter2" in problem for problem in problems)


@pytest.mark.parametrize(
    "key",
    [
        "KAFKA_KEY_DESERIALIZER",
        "PARTITION_KEY",
        "CACHE_KEY_PREFIX",
        "SECRET_NAME",
        "passwordSecretName",
        "PASSWORD_MIN_LENGTH",
        "TOKEN_TTL_SECONDS",
        "PWD",
    ],
)
def test_keys_that_only_mention_a_credential_word_pass(key):
    assert rules.configmap_credentials(configmap({key: "some-value"})) == []


@pytest.mark.parametrize("value", ["", "   ", '""', "${DB_PASSWORD}", "$(DB_PASSWORD)"])
def test_a_credential_key_with_an_empty_or_placeholder_value_passes(value):
    assert rules.configmap_credentials(configmap({"DB_PASSWORD": value})) == []


def test_a_credential_inside_a_carried_config_file_is_a_violation():
    application = "spring:\n  datasource:\n    url: jdbc:postgresql://db/orders\n    password: hunter2\n"
    problems = rules.configmap_credentials(configmap({"application.yaml": application}))
    assert (
        problems[0] == "ConfigMap orders/api-config: 'application.yaml' sets 'password' to what looks like a credential"
    )


def test_a_carried_config_file_that_reads_credentials_from_the_environment_passes():
    properties = "sasl.mechanism=SCRAM-SHA-512\nsasl.password=${KAFKA_PASSWORD}\nkey.deserializer=StringDeserializer\n"
    assert rules.configmap_credentials(configmap({"client.properties": properties})) == []


def test_a_cluster_ip_service_passes():
    assert rules.load_balancer_allowed(service("ClusterIP")) == []


def test_a_load_balancer_service_without_the_allowance_is_a_violation():
    (problem,) = rules.load_balancer_allowed(service("LoadBalancer"))
    assert problem.startswith("Service postgres/orders-postgresql-primary is of type LoadBalancer")
    assert 'nexus-platform/load-balancer-allowed: "true"' in problem


def test_a_load_balancer_service_carrying_the_allowance_passes():
    allowed = service("LoadBalancer", {"nexus-platform/load-balancer-allowed": "true"})
    assert rules.load_balancer_allowed(allowed) == []


def test_an_allowance_annotation_set_to_anything_but_true_does_not_allow():
    refused = service("LoadBalancer", {"nexus-platform/load-balancer-allowed": "false"})
    assert len(rules.load_balancer_allowed(refused)) == 1


def _job_with_env(*env: dict) -> dict:
    container = {"name": "rotate", "image": "postgres:17.6", "env": list(env)}
    return {
        "kind": "Job",
        "metadata": {"name": "rotate", "namespace": "data"},
        "spec": {"template": {"spec": {"containers": [container]}}},
    }


def test_a_container_with_a_literal_password_in_its_env_is_refused():
    problems = rules.env_credentials(_job_with_env({"name": "NEXT_ADMIN_PASSWORD", "value": "hunter2hunter2"}))
    assert problems and "'NEXT_ADMIN_PASSWORD' to a literal value" in problems[0]


def test_credentials_read_from_secrets_and_non_credential_literals_pass():
    from_secret = {"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": {"name": "s", "key": "password"}}}
    assert rules.env_credentials(_job_with_env(from_secret, {"name": "PGHOST", "value": "db"})) == []
