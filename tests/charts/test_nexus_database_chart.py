"""charts/nexus-database renders a valid data tier from every values file and from the exact values the
NexusDatabase component passes for each stack, and the rendered objects carry the per-environment table
of issue 3: replica counts, network policies, PDBs and anti-affinity, backups, probes, hardened security
contexts, the specification's object names, and no password anywhere in the chart."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from components.nexus_database import chart_values
from platform_config.backups import BUCKET_SECRET, OFFSITE_SECRET
from platform_config.base import Environment
from platform_config.data_tier import DataTierConfig
from tooling.helm import CHARTS_DIR, HelmError, containers, find, lint, one, render
from tooling.stacks import STACKS, stack_config

pytestmark = pytest.mark.render

CHART = "nexus-database"
CHART_DIR = CHARTS_DIR / CHART
NAMESPACE = "data"
VALUES_FILES = sorted(
    [CHART_DIR / f"values-{env}.yaml" for env in ("dev", "staging", "prod")] + list((CHART_DIR / "ci").glob("*.yaml"))
)
MONGODB = ("cart-mongodb", "user-mongodb")
POSTGRES = tuple(f"{name}-postgres" for name in ("product", "payment", "order", "loyalty", "shipping"))
STATEFULSETS = (*MONGODB, *POSTGRES, "redis", "kafka", "zookeeper")
BACKED_UP = (*MONGODB, *POSTGRES, "redis")
CREDENTIAL_WORDS = re.compile(r"password|secret|token|key", re.IGNORECASE)


def stack_values(stack: str, delete_data_on_destroy: bool | None = None) -> dict[str, Any]:
    """Exactly what NexusDatabase passes for this stack (its dataTier section, validated)."""
    raw = stack_config(stack)
    config = DataTierConfig.model_validate(raw["dataTier"])
    delete = raw.get("deleteDataOnDestroy", False) if delete_data_on_destroy is None else delete_data_on_destroy
    return chart_values(config, Environment(raw["environment"]), delete_data_on_destroy=delete)


@functools.cache
def _rendered_stack(stack: str) -> tuple[Mapping[str, Any], ...]:
    return tuple(render(CHART, stack_values(stack), release="nexus-database", namespace=NAMESPACE))


@functools.cache
def _rendered_file(path: Path) -> tuple[Mapping[str, Any], ...]:
    return tuple(render(CHART, values_files=[path], release="nexus-database", namespace=NAMESPACE))


def rendered(stack: str) -> list[Mapping[str, Any]]:
    return list(_rendered_stack(stack))


def statefulset_replicas(manifests) -> dict[str, int]:
    return {s["metadata"]["name"]: s["spec"]["replicas"] for s in find(manifests, "StatefulSet")}


def pod_spec(workload: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def env_of(container: Mapping[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def workloads(manifests) -> list[Mapping[str, Any]]:
    return [*find(manifests, "StatefulSet"), *find(manifests, "CronJob")]


# --- lint and render ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("values_file", VALUES_FILES, ids=lambda p: p.name)
def test_the_chart_lints_clean_with_each_values_file(values_file):
    lint(CHART, values_files=[values_file])


@pytest.mark.parametrize("stack", STACKS)
def test_the_chart_lints_clean_with_the_values_the_component_passes(stack):
    lint(CHART, values=stack_values(stack))


@pytest.mark.parametrize("values_file", VALUES_FILES, ids=lambda p: p.name)
def test_each_values_file_renders_schema_valid_objects_with_every_statefulset(values_file):
    assert set(statefulset_replicas(_rendered_file(values_file))) == set(STATEFULSETS)


@pytest.mark.parametrize("stack", STACKS)
def test_the_component_values_of_each_stack_render_schema_valid_objects_with_every_statefulset(stack):
    assert set(statefulset_replicas(rendered(stack))) == set(STATEFULSETS)


# --- the per-environment table ------------------------------------------------------------------------------


def test_dev_runs_one_pod_per_database():
    assert set(statefulset_replicas(rendered("dev")).values()) == {1}


def test_staging_runs_two_to_three_pods_per_database():
    replicas = statefulset_replicas(rendered("staging"))
    assert all(2 <= count <= 3 for count in replicas.values()), replicas
    assert {replicas[name] for name in MONGODB} == {3}


def test_prod_runs_three_mongodb_members_three_brokers_and_a_postgres_primary_with_a_standby():
    replicas = statefulset_replicas(rendered("prod"))
    assert {replicas[name] for name in (*MONGODB, "kafka", "zookeeper", "redis")} == {3}
    assert {replicas[name] for name in POSTGRES} == {2}


def test_storage_is_small_in_dev_medium_in_staging_and_large_in_prod():
    def mongodb_claim(stack: str) -> str:
        sts = one(rendered(stack), "StatefulSet", "cart-mongodb")
        return sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]

    assert [mongodb_claim(stack) for stack in STACKS] == ["2Gi", "10Gi", "100Gi"]


def test_dev_has_no_network_policies_pdbs_anti_affinity_or_backups():
    manifests = rendered("dev")
    for kind in ("NetworkPolicy", "PodDisruptionBudget", "CronJob"):
        assert not find(manifests, kind), kind
    assert not any("affinity" in pod_spec(s) for s in find(manifests, "StatefulSet"))


def sources(rule: Mapping[str, Any]) -> Mapping[str, Any]:
    """The first peer of an ingress rule ({} for a ports-only rule such as the exporters' metrics port)."""
    return (rule.get("from") or [{}])[0]


def test_staging_lets_only_the_application_namespaces_reach_the_databases():
    manifests = rendered("staging")
    policy = one(manifests, "NetworkPolicy", "product-postgres")
    outside = [rule for rule in policy["spec"]["ingress"] if "namespaceSelector" in sources(rule)]
    assert len(outside) == 1
    expression = outside[0]["from"][0]["namespaceSelector"]["matchExpressions"][0]
    assert expression["values"] == ["nexus-apps", "core-pipeline", "order-platform"]
    assert outside[0]["ports"] == [{"protocol": "TCP", "port": 5432}]


def test_every_pod_of_the_release_is_covered_by_the_default_deny_policy_when_policies_are_on():
    for stack in ("staging", "prod"):
        deny = one(rendered(stack), "NetworkPolicy", "nexus-database-default-deny")
        assert deny["spec"]["policyTypes"] == ["Ingress"] and "ingress" not in deny["spec"]


def test_prod_policies_admit_only_each_databases_own_allow_list():
    manifests = rendered("prod")
    cart = one(manifests, "NetworkPolicy", "cart-mongodb")
    peers = [rule["from"][0] for rule in cart["spec"]["ingress"] if "namespaceSelector" in sources(rule)]
    assert peers == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "nexus-apps"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "cart-service"}},
        }
    ]
    kafka = one(manifests, "NetworkPolicy", "kafka")
    namespaces = [
        rule["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for rule in kafka["spec"]["ingress"]
        if "namespaceSelector" in sources(rule)
    ]
    assert namespaces == ["nexus-apps", "core-pipeline", "order-platform"]


def test_prod_zookeeper_accepts_only_its_own_members_the_brokers_and_nothing_outside():
    policy = one(rendered("prod"), "NetworkPolicy", "zookeeper")
    sources = [peer for rule in policy["spec"]["ingress"] for peer in rule.get("from", [])]
    assert not any("namespaceSelector" in peer for peer in sources)
    components = {peer["podSelector"]["matchLabels"].get("app.kubernetes.io/component") for peer in sources}
    assert {"zookeeper", "kafka"} <= components


@pytest.mark.parametrize(("stack", "mode"), [("staging", "preferred"), ("prod", "required")])
def test_replicas_of_one_database_are_spread_over_nodes(stack, mode):
    for sts in find(rendered(stack), "StatefulSet"):
        anti = pod_spec(sts)["affinity"]["podAntiAffinity"]
        [key] = anti
        assert key.startswith(mode), (sts["metadata"]["name"], key)


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_every_statefulset_has_a_pdb_selecting_exactly_its_pods(stack):
    manifests = rendered(stack)
    for sts in find(manifests, "StatefulSet"):
        pdb = one(manifests, "PodDisruptionBudget", sts["metadata"]["name"])
        assert pdb["spec"]["selector"] == sts["spec"]["selector"]
        assert pdb["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize(("stack", "retention"), [("staging", "14"), ("prod", "30")])
def test_backups_are_one_cronjob_per_database_writing_to_its_own_volume(stack, retention):
    manifests = rendered(stack)
    jobs = {job["metadata"]["name"]: job for job in find(manifests, "CronJob")}
    assert set(jobs) == {f"{name}-backup" for name in BACKED_UP}
    for name in BACKED_UP:
        pod = pod_spec(jobs[f"{name}-backup"])
        [volume] = [v for v in pod["volumes"] if v["name"] == "backups"]
        assert volume["persistentVolumeClaim"]["claimName"] == f"{name}-backups"
        assert env_of(pod["containers"][0])["RETENTION_DAYS"] == retention


def test_backup_schedules_come_from_config():
    assert {job["spec"]["schedule"] for job in find(rendered("staging"), "CronJob")} == {"0 3 * * *"}
    assert {job["spec"]["schedule"] for job in find(rendered("prod"), "CronJob")} == {"0 2 * * *"}


def test_each_backup_uses_its_databases_dump_tool():
    jobs = {
        job["metadata"]["name"]: next(c for c in containers(job) if c["name"] == "backup")
        for job in find(rendered("prod"), "CronJob")
    }
    assert jobs["cart-mongodb-backup"]["command"] == ["bash", "/scripts/backup-mongodb.sh"]
    assert jobs["product-postgres-backup"]["command"] == ["bash", "/scripts/backup-postgres.sh"]
    assert jobs["redis-backup"]["command"] == ["bash", "/scripts/backup-redis.sh"]
    assert jobs["cart-mongodb-backup"]["image"].startswith("docker.io/library/mongo:")


def test_the_component_owns_the_backup_volumes_so_the_chart_renders_none():
    assert not find(rendered("prod"), "PersistentVolumeClaim")


def test_the_chart_renders_backup_volumes_kept_on_uninstall_when_deployed_on_its_own():
    claims = find(_rendered_file(CHART_DIR / "values-prod.yaml"), "PersistentVolumeClaim")
    assert {c["metadata"]["name"] for c in claims} == {f"{name}-backups" for name in BACKED_UP}
    assert all(c["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep" for c in claims)


# --- names and ports the specification documents ------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "port", "headless"),
    [
        ("cart-mongodb-headless", 27017, True),
        ("user-mongodb-headless", 27017, True),
        *[(f"{name}-service", 5432, False) for name in POSTGRES],
        ("redis-service", 6379, False),
        ("kafka-service", 9092, False),
    ],
)
def test_each_database_is_reachable_by_the_service_name_and_port_the_specification_documents(service, port, headless):
    svc = one(rendered("prod"), "Service", service)
    assert port in [p["port"] for p in svc["spec"]["ports"]]
    assert (svc["spec"].get("clusterIP") == "None") is headless


def test_writer_services_send_traffic_only_to_pod_zero_the_primary():
    manifests = rendered("prod")
    for service, statefulset in [("product-postgres-service", "product-postgres"), ("redis-service", "redis")]:
        assert one(manifests, "Service", service)["spec"]["selector"]["statefulset.kubernetes.io/pod-name"] == (
            f"{statefulset}-0"
        )


def test_replica_set_members_find_each_other_before_they_are_ready():
    headless = one(rendered("prod"), "Service", "cart-mongodb-headless")
    assert headless["spec"]["publishNotReadyAddresses"] is True


def test_mongodb_runs_as_a_named_replica_set_with_a_keyfile():
    sts = one(rendered("dev"), "StatefulSet", "cart-mongodb")
    mongod = next(c for c in pod_spec(sts)["containers"] if c["name"] == "mongodb")
    assert env_of(mongod)["REPLICA_SET"] == "cart-rs"
    assert {"name": "keyfile", "mountPath": "/keyfile", "readOnly": True} in mongod["volumeMounts"]


def test_postgres_standbys_are_bootstrapped_only_when_there_is_more_than_one_pod():
    def init_names(stack: str) -> list[str]:
        return [
            c["name"] for c in pod_spec(one(rendered(stack), "StatefulSet", "order-postgres")).get("initContainers", [])
        ]

    assert init_names("dev") == []
    assert init_names("prod") == ["standby-bootstrap"]
    assert find(rendered("prod"), "Service", "order-postgres-read")


def test_kafka_points_at_every_zookeeper_server_and_replicates_internal_topics_three_ways_in_prod():
    kafka = env_of(pod_spec(one(rendered("prod"), "StatefulSet", "kafka"))["containers"][0])
    assert kafka["KAFKA_ZOOKEEPER_CONNECT"].count(":2181") == 3
    assert kafka["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
    assert kafka["KAFKA_MIN_INSYNC_REPLICAS"] == "2"


# --- hardening ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_every_container_is_non_root_read_only_and_drops_every_capability(stack):
    for workload in workloads(rendered(stack)):
        assert pod_spec(workload)["securityContext"]["runAsNonRoot"] is True
        for container in containers(workload):
            context = container["securityContext"]
            where = f"{workload['metadata']['name']}/{container['name']}"
            assert context["runAsNonRoot"] is True, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["privileged"] is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where


@pytest.mark.parametrize("stack", STACKS)
def test_every_container_has_cpu_and_memory_requests_and_limits(stack):
    for workload in workloads(rendered(stack)):
        for container in containers(workload):
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) == {"cpu", "memory"}, container["name"]


def test_each_image_runs_as_its_own_non_root_user():
    uids = {
        s["metadata"]["name"]: pod_spec(s)["securityContext"]["runAsUser"] for s in find(rendered("dev"), "StatefulSet")
    }
    assert {uids[name] for name in (*MONGODB, *POSTGRES, "redis")} == {999}
    assert {uids["kafka"], uids["zookeeper"]} == {1000}


def test_writable_paths_are_emptydir_volumes_not_the_root_filesystem():
    kafka = pod_spec(one(rendered("dev"), "StatefulSet", "kafka"))
    mounts = {m["mountPath"]: m["name"] for m in kafka["containers"][0]["volumeMounts"]}
    empty = {v["name"] for v in kafka["volumes"] if "emptyDir" in v}
    assert {mounts["/etc/kafka"], mounts["/var/log/kafka"], mounts["/tmp"]} <= empty


@pytest.mark.parametrize("stack", STACKS)
def test_every_database_container_has_startup_liveness_and_readiness_probes(stack):
    for sts in find(rendered(stack), "StatefulSet"):
        main = pod_spec(sts)["containers"][0]
        assert {"startupProbe", "livenessProbe", "readinessProbe"} <= set(main), sts["metadata"]["name"]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_images_are_pinned_to_a_version(stack):
    for workload in workloads(rendered(stack)):
        for container in containers(workload):
            repository, _, tag = container["image"].rpartition(":")
            assert repository and tag and tag != "latest", container["image"]


# --- secrets ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("values_file", VALUES_FILES, ids=lambda p: p.name)
def test_the_chart_never_renders_a_secret(values_file):
    assert not find(_rendered_file(values_file), "Secret")


def test_every_password_is_read_from_the_secret_the_specification_names():
    referenced = set()
    for workload in workloads(rendered("prod")):
        for container in containers(workload):
            for value in env_of(container).values():
                if isinstance(value, dict) and "secretKeyRef" in value:
                    referenced.add(value["secretKeyRef"]["name"])
    # ...and the backup buckets' keys from the Secrets of their own (platform_config/backups.py).
    buckets = {BUCKET_SECRET, OFFSITE_SECRET}
    assert referenced == {f"{name}-secret" for name in (*MONGODB, *POSTGRES, "redis")} | buckets


def test_no_configmap_key_that_looks_like_a_credential_holds_a_value():
    for config_map in find(rendered("prod"), "ConfigMap"):
        assert not [key for key in config_map["data"] if CREDENTIAL_WORDS.search(key)]


def test_kafka_sasl_reads_its_credentials_from_the_kafka_secret_when_enabled():
    manifests = _rendered_file(CHART_DIR / "ci" / "all-features-values.yaml")
    kafka = env_of(pod_spec(one(manifests, "StatefulSet", "kafka"))["containers"][0])
    assert kafka["SASL_PASSWORD"] == {"secretKeyRef": {"name": "kafka-secret", "key": "password"}}


# --- data safety --------------------------------------------------------------------------------------------


def test_data_claims_are_kept_when_a_statefulset_is_deleted_or_scaled_down():
    for sts in find(rendered("prod"), "StatefulSet"):
        assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}


def test_delete_data_on_destroy_lets_claims_go_with_their_statefulset():
    sts = one(
        render(CHART, stack_values("dev", delete_data_on_destroy=True), namespace=NAMESPACE), "StatefulSet", "redis"
    )
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Delete"


def test_every_statefulset_has_one_claim_template_named_data_so_claims_are_data_statefulset_ordinal():
    for sts in find(rendered("staging"), "StatefulSet"):
        [template] = sts["spec"]["volumeClaimTemplates"]
        assert template["metadata"]["name"] == "data"
        assert template["spec"]["storageClassName"] == "encrypted-gp3"


# --- monitoring ---------------------------------------------------------------------------------------------


def test_dev_renders_no_prometheus_operator_objects():
    assert not find(rendered("dev"), "ServiceMonitor") and not find(rendered("dev"), "PrometheusRule")


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_staging_and_prod_scrape_every_exporter_with_the_operator_selector_label(stack):
    monitors = {m["metadata"]["name"]: m["metadata"]["labels"] for m in find(rendered(stack), "ServiceMonitor")}
    assert set(monitors) == set(STATEFULSETS)
    assert {labels.get("release") for labels in monitors.values()} == {"kube-prometheus-stack"}


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_staging_and_prod_alert_on_every_database_in_one_rule_group_each(stack):
    rule = one(rendered(stack), "PrometheusRule", "nexus-database-alerts")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert {g["name"] for g in rule["spec"]["groups"]} == {*STATEFULSETS, "nexus-database-certificates"}


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_every_alert_names_its_severity_namespace_and_runbook(stack):
    rule = one(rendered(stack), "PrometheusRule", "nexus-database-alerts")
    for alert in (r for group in rule["spec"]["groups"] for r in group["rules"]):
        assert alert["labels"]["severity"] in ("warning", "critical"), alert["alert"]
        assert alert["labels"]["namespace"] == NAMESPACE, alert["alert"]
        assert alert["annotations"]["runbook"] and alert["annotations"]["summary"], alert["alert"]


def test_metrics_add_an_exporter_per_database_and_a_servicemonitor_scraping_it():
    manifests = _rendered_file(CHART_DIR / "ci" / "all-features-values.yaml")
    monitors = {m["metadata"]["name"] for m in find(manifests, "ServiceMonitor")}
    assert monitors == set(STATEFULSETS)
    redis = pod_spec(one(manifests, "StatefulSet", "redis"))
    assert [c["name"] for c in redis["containers"]] == ["redis", "metrics"]


# --- values the chart refuses -------------------------------------------------------------------------------


def refusal(values: dict) -> str:
    with pytest.raises(HelmError) as raised:
        render(CHART, values, namespace=NAMESPACE, validate=False)
    return str(raised.value)


def test_a_negative_replica_count_is_refused_by_the_schema():
    assert "/mongodb/replicas" in refusal({"mongodb": {"replicas": -1}})


def test_a_malformed_storage_size_is_refused_by_the_schema():
    assert "/redis/storage/size" in refusal({"redis": {"storage": {"size": "2GB"}}})


def test_the_latest_tag_is_refused_by_the_schema():
    assert "/images/redis/tag" in refusal({"images": {"redis": {"repository": "redis", "tag": "latest"}}})


def test_basic_network_policies_without_allowed_namespaces_are_refused_with_the_fix():
    assert "needs networkPolicy.allowedNamespaces" in refusal({"networkPolicy": {"mode": "basic"}})


def test_strict_network_policies_refuse_a_database_without_an_allow_list():
    message = refusal({"networkPolicy": {"mode": "strict"}})
    assert "needs an allowFrom list for cart-mongodb" in message


def test_an_even_zookeeper_ensemble_is_refused():
    assert "odd number" in refusal({"kafka": {"zookeeper": {"replicas": 2}}})


def test_a_database_without_an_existing_secret_is_refused_because_the_chart_never_makes_passwords():
    assert "/redis/existingSecret" in refusal({"redis": {"existingSecret": ""}})
