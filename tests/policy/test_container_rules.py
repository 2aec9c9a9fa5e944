"""Every container the platform starts is bounded and unprivileged: CPU/memory requests and limits,
non-root, not privileged, ALL capabilities dropped, no host namespaces or hostPath (policy/rules.py)."""

from __future__ import annotations

import pytest
import rules

from tests.policy.manifests import at, container, cronjob, deployment, statefulset

pytestmark = pytest.mark.unit

CONTAINER = "spec.template.spec.containers.0"
POD = "spec.template.spec"
CONTAINER_RULES = (
    rules.container_resources,
    rules.run_as_non_root,
    rules.not_privileged,
    rules.drops_all_capabilities,
    rules.host_isolation,
)


@pytest.mark.parametrize("rule", CONTAINER_RULES, ids=lambda rule: rule.__name__)
def test_a_hardened_deployment_passes_every_container_rule(rule):
    assert rule(deployment()) == []


@pytest.mark.parametrize("rule", CONTAINER_RULES, ids=lambda rule: rule.__name__)
def test_objects_that_run_no_pods_are_ignored_by_container_rules(rule):
    assert rule({"kind": "ConfigMap", "metadata": {"name": "x"}, "data": {}}) == []


@pytest.mark.parametrize(
    "missing", ["requests.cpu", "requests.memory", "limits.cpu", "limits.memory"], ids=lambda path: path
)
def test_a_container_without_a_request_or_limit_is_named_with_the_missing_field(missing):
    problems = rules.container_resources(at(deployment(), f"{CONTAINER}.resources.{missing}", None))
    assert problems == [
        f"Deployment orders/api: container 'api' does not set resources.{missing}; every container needs CPU and "
        "memory requests and limits"
    ]


def test_an_init_container_without_resources_is_a_violation():
    init = {**container("migrate"), "resources": {}}
    problems = rules.container_resources(at(deployment(), f"{POD}.initContainers", [init]))
    assert len(problems) == 1
    assert "init container 'migrate'" in problems[0]


def test_a_cronjob_container_without_resources_is_a_violation():
    job_container = "spec.jobTemplate.spec.template.spec.containers.0"
    problems = rules.container_resources(at(cronjob(), f"{job_container}.resources", None))
    assert "CronJob orders/cleanup: container 'api'" in problems[0]


def test_a_container_without_run_as_non_root_is_a_violation():
    problems = rules.run_as_non_root(at(deployment(), f"{CONTAINER}.securityContext.runAsNonRoot", None))
    assert problems == [
        "Deployment orders/api: container 'api' does not set securityContext.runAsNonRoot: true (on the container "
        "or the pod)"
    ]


def test_run_as_non_root_on_the_pod_covers_its_containers():
    obj = at(deployment(), f"{CONTAINER}.securityContext.runAsNonRoot", None)
    assert rules.run_as_non_root(at(obj, f"{POD}.securityContext", {"runAsNonRoot": True})) == []


def test_a_container_that_overrides_the_pods_run_as_non_root_with_false_is_a_violation():
    obj = at(deployment(), f"{CONTAINER}.securityContext.runAsNonRoot", False)
    obj = at(obj, f"{POD}.securityContext", {"runAsNonRoot": True})
    assert len(rules.run_as_non_root(obj)) == 1


def test_a_container_running_as_user_zero_is_a_violation():
    problems = rules.run_as_non_root(at(deployment(), f"{CONTAINER}.securityContext.runAsUser", 0))
    assert problems == ["Deployment orders/api: container 'api' runs as user 0 (root); run it as a non-root user"]


def test_a_privileged_container_is_a_violation():
    problems = rules.not_privileged(at(deployment(), f"{CONTAINER}.securityContext.privileged", True))
    assert problems == ["Deployment orders/api: container 'api' is privileged; remove securityContext.privileged"]


def test_a_container_that_may_escalate_privileges_is_a_violation():
    problems = rules.not_privileged(at(deployment(), f"{CONTAINER}.securityContext.allowPrivilegeEscalation", None))
    assert problems == [
        "Deployment orders/api: container 'api' does not set securityContext.allowPrivilegeEscalation: false"
    ]


def test_a_container_that_keeps_its_capabilities_is_a_violation():
    problems = rules.drops_all_capabilities(at(deployment(), f"{CONTAINER}.securityContext.capabilities", None))
    assert problems == [
        "Deployment orders/api: container 'api' does not drop ALL capabilities (securityContext.capabilities.drop)"
    ]


def test_dropping_only_some_capabilities_is_a_violation():
    obj = at(deployment(), f"{CONTAINER}.securityContext.capabilities.drop", ["NET_RAW"])
    assert len(rules.drops_all_capabilities(obj)) == 1


def test_adding_back_one_capability_after_dropping_all_is_allowed():
    obj = at(deployment(), f"{CONTAINER}.securityContext.capabilities.add", ["NET_BIND_SERVICE"])
    assert rules.drops_all_capabilities(obj) == []


@pytest.mark.parametrize("field", ["hostNetwork", "hostPID", "hostIPC"])
def test_a_pod_sharing_a_host_namespace_is_a_violation(field):
    problems = rules.host_isolation(at(statefulset(), f"{POD}.{field}", True))
    assert problems == [f"StatefulSet orders/db: {field} is true; pods must not share the node's namespaces"]


def test_host_network_explicitly_false_passes():
    assert rules.host_isolation(at(statefulset(), f"{POD}.hostNetwork", False)) == []


def test_a_hostpath_volume_is_a_violation():
    obj = at(statefulset(), f"{POD}.volumes", [{"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}])
    assert rules.host_isolation(obj) == [
        "StatefulSet orders/db: volume 'docker' is a hostPath volume; use an emptyDir or a PersistentVolumeClaim"
    ]


def test_a_bare_pod_is_checked_like_a_workload():
    pod = {"kind": "Pod", "metadata": {"name": "debug", "namespace": "orders"}, "spec": {"containers": [container()]}}
    assert rules.run_as_non_root(at(pod, "spec.containers.0.securityContext.runAsUser", 0)) != []
