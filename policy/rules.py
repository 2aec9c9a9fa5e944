"""The guardrails of nexus-platform as plain functions over Kubernetes objects.

Every rule takes objects shaped like Kubernetes manifests (camelCase dicts, which is what helm.v4.Chart
hands the engine for each rendered object) and returns messages, one per violation; an empty list means
compliant. Resource rules take one object; stack rules take every object of the stack keyed by an id
(the URN in the pack) and return `(id, message)` pairs. The rules know nothing about Pulumi, so pytest
feeds them manifests directly (tests/policy/) and `__main__.py` only adapts them to CrossGuard.

Which rules apply in which environment and whether a violation blocks is not decided here but by the
pack configuration of each environment (`config/<environment>.json`, derived from `ENVIRONMENT_SCOPES`
and checked against it by the tests).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

Manifest = Mapping[str, Any]

ENVIRONMENTS = ("dev", "staging", "prod")

# The documented exemption from the prod availability rules for workloads that are one pod by design
# (FluxionDB tenants, the PostgreSQL primary): both annotations on the Deployment/StatefulSet metadata.
SINGLE_POD_ANNOTATION = "nexus-platform/single-pod-by-design"
SINGLE_POD_REASON_ANNOTATION = "nexus-platform/single-pod-reason"
# Set on a Service by a component only when its stack config enables exposure (e.g. postgresClusters.<name>
# .expose.enabled): the one way a Service of type LoadBalancer is allowed.
LOAD_BALANCER_ANNOTATION = "nexus-platform/load-balancer-allowed"

POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"}
WORKLOAD_KINDS = POD_TEMPLATE_KINDS | {"Pod", "CronJob"}
REPLICATED_KINDS = {"Deployment", "StatefulSet"}
MIN_PROD_REPLICAS = 2


# --- reading objects ---------------------------------------------------------------------------------


def describe(obj: Manifest) -> str:
    """`Deployment orders/api` (or `Namespace orders` for cluster-scoped objects), for messages."""
    metadata = obj.get("metadata") or {}
    namespace, name = metadata.get("namespace"), metadata.get("name", "<unnamed>")
    return f"{obj.get('kind', 'object')} {namespace}/{name}" if namespace else f"{obj.get('kind', 'object')} {name}"


def _namespace(obj: Manifest) -> str:
    return (obj.get("metadata") or {}).get("namespace") or "default"


def annotations(obj: Manifest) -> Mapping[str, Any]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def pod_spec(obj: Manifest) -> Mapping[str, Any] | None:
    """The pod spec a workload runs, wherever its kind keeps it; None for objects that run no pods."""
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind in POD_TEMPLATE_KINDS:
        return (spec.get("template") or {}).get("spec") or {}
    if kind == "CronJob":
        job = (spec.get("jobTemplate") or {}).get("spec") or {}
        return (job.get("template") or {}).get("spec") or {}
    return None


def pod_template_labels(obj: Manifest) -> Mapping[str, str]:
    return (((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}


def containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(`container 'x'` / `init container 'y'`, container) for every container the pod starts."""
    for field, label in (("initContainers", "init container"), ("containers", "container")):
        for container in spec.get(field) or []:
            yield f"{label} {container.get('name', '<unnamed>')!r}", container


def _each_container(obj: Manifest) -> Iterator[tuple[str, Mapping[str, Any], Mapping[str, Any]]]:
    """(label, container, pod spec) for each container of a workload; nothing for other kinds."""
    spec = pod_spec(obj)
    if spec is None:
        return
    for label, container in containers(spec):
        yield label, container, spec


# --- every environment: container hardening ---------------------------------------------------------


def container_resources(obj: Manifest) -> list[str]:
    """Every container and init container requests and limits both CPU and memory."""
    problems = []
    for label, container, _ in _each_container(obj):
        resources = container.get("resources") or {}
        missing = [
            f"resources.{section}.{resource}"
            for section in ("requests", "limits")
            for resource in ("cpu", "memory")
            if not (resources.get(section) or {}).get(resource)
        ]
        if missing:
            problems.append(
                f"{describe(obj)}: {label} does not set {', '.join(missing)}; every container needs CPU and "
                "memory requests and limits"
            )
    return problems


def _effective(container: Mapping[str, Any], spec: Mapping[str, Any], field: str) -> Any:
    """A security setting as Kubernetes resolves it: the container's securityContext over the pod's."""
    own = (container.get("securityContext") or {}).get(field)
    return own if own is not None else (spec.get("securityContext") or {}).get(field)


def run_as_non_root(obj: Manifest) -> list[str]:
    """Every container runs with runAsNonRoot (its own or the pod's) and never as user 0."""
    problems = []
    for label, container, spec in _each_container(obj):
        if _effective(container, spec, "runAsUser") == 0:
            problems.append(f"{describe(obj)}: {label} runs as user 0 (root); run it as a non-root user")
        elif _effective(container, spec, "runAsNonRoot") is not True:
            problems.append(
                f"{describe(obj)}: {label} does not set securityContext.runAsNonRoot: true (on the container "
                "or the pod)"
            )
    return problems


def not_privileged(obj: Manifest) -> list[str]:
    """No container is privileged, and none may gain privileges (allowPrivilegeEscalation: false)."""
    problems = []
    for label, container, _ in _each_container(obj):
        context = container.get("securityContext") or {}
        if context.get("privileged") is True:
            problems.append(f"{describe(obj)}: {label} is privileged; remove securityContext.privileged")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{describe(obj)}: {label} does not set securityContext.allowPrivilegeEscalation: false")
    return problems


def drops_all_capabilities(obj: Manifest) -> list[str]:
    """Every container drops ALL Linux capabilities (adding back a named one it needs is fine)."""
    problems = []
    for label, container, _ in _each_container(obj):
        dropped = ((container.get("securityContext") or {}).get("capabilities") or {}).get("drop") or []
        if not any(str(capability).upper() == "ALL" for capability in dropped):
            problems.append(
                f"{describe(obj)}: {label} does not drop ALL capabilities (securityContext.capabilities.drop)"
            )
    return problems


def host_isolation(obj: Manifest) -> list[str]:
    """No pod shares the node's network, PID or IPC namespace or mounts a hostPath volume."""
    spec = pod_spec(obj)
    if spec is None:
        return []
    problems = [
        f"{describe(obj)}: {field} is true; pods must not share the node's namespaces"
        for field in ("hostNetwork", "hostPID", "hostIPC")
        if spec.get(field) is True
    ]
    problems += [
        f"{describe(obj)}: volume {volume.get('name', '<unnamed>')!r} is a hostPath volume; use an emptyDir or a "
        "PersistentVolumeClaim"
        for volume in spec.get("volumes") or []
        if volume.get("hostPath") is not None
    ]
    return problems


# --- staging and prod --------------------------------------------------------------------------------


def image_tag(image: str) -> str | None:
    """The tag of an image reference (`None` when untagged); digests count as the strongest pin."""
    if "@" in image:
        return image.split("@", 1)[1]
    last_part = image.rsplit("/", 1)[-1]
    return last_part.split(":", 1)[1] if ":" in last_part else None


def images_pinned(obj: Manifest) -> list[str]:
    """Every container image names a tag (or digest) other than `latest`."""
    problems = []
    for label, container, _ in _each_container(obj):
        image = str(container.get("image") or "")
        tag = image_tag(image)
        if not tag:
            problems.append(f"{describe(obj)}: {label} image {image!r} has no tag; pin a version tag or digest")
        elif tag == "latest":
            problems.append(f"{describe(obj)}: {label} image {image!r} uses 'latest'; pin a version tag or digest")
    return problems


def _host_covered(host: str, tls_hosts: Sequence[str]) -> bool:
    for tls_host in tls_hosts:
        if host == tls_host:
            return True
        if tls_host.startswith("*.") and host.split(".", 1)[-1] == tls_host[2:] and "." in host:
            return True
    return False


def ingress_tls(obj: Manifest) -> list[str]:
    """Every Ingress terminates TLS, for every host it routes."""
    if obj.get("kind") != "Ingress":
        return []
    spec = obj.get("spec") or {}
    tls = spec.get("tls") or []
    if not tls:
        return [f"{describe(obj)} has no spec.tls; every Ingress must serve HTTPS"]
    tls_hosts = [host for entry in tls for host in entry.get("hosts") or []]
    uncovered = sorted(
        {rule["host"] for rule in spec.get("rules") or [] if rule.get("host")} - set(tls_hosts),
        key=str,
    )
    uncovered = [host for host in uncovered if not _host_covered(host, tls_hosts)]
    return [f"{describe(obj)}: host {host!r} has no TLS entry in spec.tls" for host in uncovered]


# --- prod: availability ------------------------------------------------------------------------------


def single_pod_exemption(obj: Manifest) -> tuple[bool, str | None]:
    """(exempt, problem): exempt when the object declares single-pod-by-design with a reason; a
    declaration without a reason is itself a problem (an exemption must be documented)."""
    notes = annotations(obj)
    if not _is_true(notes.get(SINGLE_POD_ANNOTATION)):
        return False, None
    if not str(notes.get(SINGLE_POD_REASON_ANNOTATION) or "").strip():
        return False, (
            f"{describe(obj)} declares {SINGLE_POD_ANNOTATION} without a {SINGLE_POD_REASON_ANNOTATION} "
            "annotation; an exemption must say why the workload is single-pod"
        )
    return True, None


def _replica_count(value: Any) -> int:
    # The engine hands numbers over as floats (protobuf Struct): 2.0.
    return int(value)


def _autoscaler_floors(objects: Mapping[str, Manifest]) -> dict[tuple[str, str, str], int]:
    """`{(namespace, kind, name): minReplicas}` for every workload a HorizontalPodAutoscaler targets. An
    HPA without minReplicas has Kubernetes' default floor of 1; when several target one workload the
    lowest floor counts (the controller then refuses to scale it at all, so none can be relied on)."""
    floors: dict[tuple[str, str, str], int] = {}
    for obj in objects.values():
        if obj.get("kind") != "HorizontalPodAutoscaler":
            continue
        spec = obj.get("spec") or {}
        target = spec.get("scaleTargetRef") or {}
        key = (_namespace(obj), str(target.get("kind")), str(target.get("name")))
        floor = _replica_count(spec.get("minReplicas", 1))
        floors[key] = min(floor, floors.get(key, floor))
    return floors


def _replica_problem(obj: Manifest, floor: int | None) -> str | None:
    """Why a workload runs too few pods in prod, given the floor of the HPA targeting it (None: no HPA)."""
    declared = (obj.get("spec") or {}).get("replicas")
    exemption = (
        f'or the annotations {SINGLE_POD_ANNOTATION}: "true" and {SINGLE_POD_REASON_ANNOTATION} when it is '
        "single-pod by design"
    )
    if floor is not None:
        # The HPA owns the count: whatever spec.replicas says, it scales down to minReplicas.
        if floor < MIN_PROD_REPLICAS:
            return (
                f"{describe(obj)} is scaled by a HorizontalPodAutoscaler with minReplicas {floor}; prod needs a "
                f"floor of at least {MIN_PROD_REPLICAS}, {exemption}"
            )
        return None
    if declared is None:
        return (
            f"{describe(obj)} declares no spec.replicas (so it runs 1) and no HorizontalPodAutoscaler in its "
            f"namespace targets it; prod needs spec.replicas >= {MIN_PROD_REPLICAS}, an HPA on it with "
            f"minReplicas >= {MIN_PROD_REPLICAS}, {exemption}"
        )
    replicas = _replica_count(declared)
    if replicas < MIN_PROD_REPLICAS:
        return f"{describe(obj)} runs {replicas} replica(s); prod needs at least {MIN_PROD_REPLICAS}, {exemption}"
    return None


def workloads_below_replica_floor(objects: Mapping[str, Manifest]) -> list[tuple[str, str]]:
    """Every Deployment/StatefulSet runs at least two pods, unless single-pod by design: its declared
    spec.replicas, or, when a HorizontalPodAutoscaler in its namespace targets it (scaleTargetRef kind and
    name), that HPA's minReplicas, which is then what the count can fall to. A workload that leaves
    spec.replicas to an HPA (as it should: a declared count resets the scale on every apply) therefore
    passes only with the HPA."""
    floors = _autoscaler_floors(objects)
    problems = []
    for key, obj in objects.items():
        if obj.get("kind") not in REPLICATED_KINDS:
            continue
        exempt, problem = single_pod_exemption(obj)
        if not exempt and not problem:
            name = (obj.get("metadata") or {}).get("name")
            problem = _replica_problem(obj, floors.get((_namespace(obj), str(obj["kind"]), str(name))))
        if problem:
            problems.append((key, problem))
    return problems


def _expression_matches(expression: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    return False


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Kubernetes label-selector semantics: all matchLabels and matchExpressions hold; an empty
    selector matches everything, a missing one nothing (as for a policy/v1 PodDisruptionBudget)."""
    if selector is None:
        return False
    match_labels = selector.get("matchLabels") or {}
    return all(labels.get(key) == value for key, value in match_labels.items()) and all(
        _expression_matches(expression, labels) for expression in selector.get("matchExpressions") or []
    )


def workloads_without_disruption_budget(objects: Mapping[str, Manifest]) -> list[tuple[str, str]]:
    """Every Deployment/StatefulSet has a PodDisruptionBudget in its namespace selecting its pods,
    unless single-pod by design (a PDB over one pod either blocks node drains or protects nothing)."""
    budgets = [obj for obj in objects.values() if obj.get("kind") == "PodDisruptionBudget"]
    problems = []
    for key, obj in objects.items():
        if obj.get("kind") not in REPLICATED_KINDS or single_pod_exemption(obj) != (False, None):
            continue
        labels = pod_template_labels(obj)
        if not any(
            _namespace(budget) == _namespace(obj)
            and selector_matches((budget.get("spec") or {}).get("selector"), labels)
            for budget in budgets
        ):
            problems.append((key, f"{describe(obj)} has no PodDisruptionBudget selecting its pods"))
    return problems


def namespaces_without_network_policy(objects: Mapping[str, Manifest]) -> list[tuple[str, str]]:
    """Every Namespace the stack creates holds at least one NetworkPolicy the stack creates."""
    guarded = {_namespace(obj) for obj in objects.values() if obj.get("kind") == "NetworkPolicy"}
    return [
        (key, f"{describe(obj)} has no NetworkPolicy; prod namespaces must restrict traffic")
        for key, obj in objects.items()
        if obj.get("kind") == "Namespace" and (obj.get("metadata") or {}).get("name") not in guarded
    ]


def _scraped_by_service_monitor(obj: Manifest, monitor: Manifest, services: list[Manifest]) -> bool:
    """A ServiceMonitor scrapes a workload's pods when it selects a Service (in its own namespace, or those its
    namespaceSelector names) whose selector picks the pods."""
    spec = monitor.get("spec") or {}
    names = ((spec.get("namespaceSelector") or {}).get("matchNames")) or [_namespace(monitor)]
    labels = pod_template_labels(obj)
    return _namespace(obj) in names and any(
        _namespace(svc) == _namespace(obj)
        and selector_matches(spec.get("selector"), (svc.get("metadata") or {}).get("labels") or {})
        and (svc.get("spec") or {}).get("selector")
        and all(labels.get(k) == v for k, v in ((svc.get("spec") or {}).get("selector") or {}).items())
        for svc in services
    )


def data_stores_without_scrape_object(objects: Mapping[str, Manifest]) -> list[tuple[str, str]]:
    """Every data store (a StatefulSet: our databases, brokers and ZooKeeper, the Bitnami cluster) is scraped: a
    ServiceMonitor selects a Service selecting its pods, or a PodMonitor selects its pods, in its namespace."""
    of_kind = lambda kind: [obj for obj in objects.values() if obj.get("kind") == kind]  # noqa: E731
    services, service_monitors, pod_monitors = of_kind("Service"), of_kind("ServiceMonitor"), of_kind("PodMonitor")
    problems = []
    for key, obj in objects.items():
        if obj.get("kind") != "StatefulSet":
            continue
        labels = pod_template_labels(obj)
        by_pods = any(
            _namespace(m) == _namespace(obj) and selector_matches((m.get("spec") or {}).get("selector"), labels)
            for m in pod_monitors
        )
        if not by_pods and not any(_scraped_by_service_monitor(obj, m, services) for m in service_monitors):
            problems.append(
                (
                    key,
                    f"{describe(obj)} is a data store no ServiceMonitor or PodMonitor scrapes; turn on its "
                    "monitoring in the stack config (e.g. dataTier.monitoring {metrics, serviceMonitor: true}, "
                    "postgresClusters.<name>.monitoring)",
                )
            )
    return problems


# --- staging and prod: who pods run as, and TLS ---------------------------------------------------------

# Set on a data store's pod template by its chart (nexus-database) or component (the Bitnami clusters) from the
# stack's security.tls.mode: what the server does with plaintext clients.
TLS_MODE_ANNOTATION = "nexus-platform/tls-mode"
# On a StatefulSet that only keeps its own state (the order query service's state store) and serves no database
# protocol: "false" takes it out of the data-store rules.
DATA_STORE_ANNOTATION = "nexus-platform/data-store"


def is_data_store(obj: Manifest) -> bool:
    """A StatefulSet, unless it says it is none (DATA_STORE_ANNOTATION "false")."""
    return obj.get("kind") == "StatefulSet" and str(annotations(obj).get(DATA_STORE_ANNOTATION, "")).lower() != "false"


def own_service_account(obj: Manifest) -> list[str]:
    """Every pod runs as a ServiceAccount of its own: the namespace's `default` account is shared by whatever else
    lands there, so a binding granted to it would reach every pod of the namespace."""
    spec = pod_spec(obj)
    if spec is None:
        return []
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    if account == "default":
        return [
            f"{describe(obj)} runs as the namespace's default ServiceAccount; give the workload one of its own "
            "(serviceAccountName, e.g. the chart's serviceAccount.create)"
        ]
    return []


def no_service_account_token(obj: Manifest) -> list[str]:
    """No pod mounts an API token: none of ours calls the Kubernetes API, and a mounted token is a credential
    anyone who runs code in the pod can use. The pod itself must say so (automountServiceAccountToken: false),
    whatever its ServiceAccount's default."""
    spec = pod_spec(obj)
    if spec is None or spec.get("automountServiceAccountToken") is False:
        return []
    return [
        f"{describe(obj)} may mount a Kubernetes API token; set automountServiceAccountToken: false on the pod "
        "(no workload of this platform calls the API)"
    ]


def _certificate_secrets(objects: Mapping[str, Manifest]) -> set[tuple[str, str]]:
    """(namespace, Secret) of every cert-manager Certificate the stack creates."""
    return {
        (_namespace(obj), (obj.get("spec") or {}).get("secretName", ""))
        for obj in objects.values()
        if obj.get("kind") == "Certificate" and str(obj.get("apiVersion", "")).startswith("cert-manager.io/")
    }


def data_stores_without_required_tls(objects: Mapping[str, Manifest]) -> list[tuple[str, str]]:
    """Every data store (a StatefulSet that does not say it is none) refuses plaintext: its pods say tls-mode
    `required` and mount the Secret of a cert-manager Certificate of the stack (in their namespace)."""
    issued = _certificate_secrets(objects)
    problems = []
    for key, obj in objects.items():
        if not is_data_store(obj):
            continue
        template = (obj.get("spec") or {}).get("template") or {}
        mode = ((template.get("metadata") or {}).get("annotations") or {}).get(TLS_MODE_ANNOTATION)
        secrets = {
            (volume.get("secret") or {}).get("secretName")
            for volume in (template.get("spec") or {}).get("volumes") or []
            if volume.get("secret")
        }
        if mode != "required":
            problems.append(
                (
                    key,
                    f"{describe(obj)} is a data store that accepts plaintext ({TLS_MODE_ANNOTATION}: "
                    f"{mode or 'unset'}); set security.tls.mode: required in the stack config",
                )
            )
        elif not any((_namespace(obj), secret) in issued for secret in secrets):
            problems.append(
                (key, f"{describe(obj)} requires TLS but mounts no Secret a Certificate of the stack issues")
            )
    return problems


# --- every environment: credentials and exposure ------------------------------------------------------

# A key is credential-like when its LAST word names a credential: `DB_PASSWORD`, `apiKey`, `jwt.secret`,
# `ACCESS_TOKEN`. Words in the middle don't count, so `KAFKA_KEY_DESERIALIZER`, `SECRET_NAME`,
# `PASSWORD_MIN_LENGTH` or `TOKEN_TTL` pass. `key` alone is too common (`PARTITION_KEY`, `CACHE_KEY`) to
# count unless a credential word qualifies it (`API_KEY`, `AWS_SECRET_ACCESS_KEY`, `privateKey`) or it is
# the whole key; `pwd` counts only with a prefix (`DB_PWD`; a bare `PWD` is the working directory).
_CREDENTIAL_WORDS = {"password", "passwd", "passphrase", "secret", "token", "apikey", "credential", "credentials"}
_KEY_QUALIFIERS = {"api", "access", "secret", "private", "signing", "encryption", "client", "master", "auth", "hmac"}
_PLACEHOLDER = re.compile(r"^(\$\{[^}]*\}|\$\([^)]*\)|\{\{[^}]*\}\})$")
_EMBEDDED_SETTING = re.compile(r"""^\s*(?:export\s+)?["']?([A-Za-z0-9_.\-]+)["']?\s*[:=]\s*(.*?)\s*,?\s*$""")


def _words(key: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key)
    return [word.lower() for word in re.split(r"[^A-Za-z0-9]+", spaced) if word]


def credential_like_key(key: str) -> bool:
    words = _words(key)
    if not words:
        return False
    last = words[-1]
    if last in _CREDENTIAL_WORDS:
        return True
    if last == "pwd":
        return len(words) > 1
    if last == "key":
        return len(words) == 1 or words[-2] in _KEY_QUALIFIERS
    return False


def _holds_value(value: str) -> bool:
    text = value.strip().strip("\"'").strip()
    return bool(text) and not _PLACEHOLDER.match(text)


def configmap_credentials(obj: Manifest) -> list[str]:
    """No ConfigMap key that looks like a credential holds a value, neither as a key of `data` nor as a
    `key: value` / `key=value` line inside a file it carries (application.yaml, .properties, .env)."""
    if obj.get("kind") != "ConfigMap":
        return []
    problems = []
    for key, value in (obj.get("data") or {}).items():
        text = "" if value is None else str(value)
        if credential_like_key(key) and _holds_value(text):
            problems.append(f"{describe(obj)}: key {key!r} holds what looks like a credential")
        for line in text.splitlines() if "\n" in text else []:
            setting = _EMBEDDED_SETTING.match(line)
            if setting and credential_like_key(setting[1]) and _holds_value(setting[2]):
                problems.append(f"{describe(obj)}: {key!r} sets {setting[1]!r} to what looks like a credential")
    if problems:
        problems.append(
            f"{describe(obj)}: keep credentials in a Secret (handed to the chart by name, read with "
            "secretKeyRef), never in a ConfigMap"
        )
    return problems


def env_credentials(obj: Manifest) -> list[str]:
    """No container of a workload sets a variable that looks like a credential to a literal value: credentials
    reach pods only by `secretKeyRef`, so they stay out of the object (and the state) and a rotation reaches
    them through the Secret (components/rotation.py)."""
    problems = [
        f"{describe(obj)}: {label} sets {entry['name']!r} to a literal value; read it from a Secret (secretKeyRef)"
        for label, container, _ in _each_container(obj)
        for entry in container.get("env") or []
        if "value" in entry and credential_like_key(str(entry.get("name", ""))) and _holds_value(str(entry["value"]))
    ]
    return problems


def load_balancer_allowed(obj: Manifest) -> list[str]:
    """A Service of type LoadBalancer exists only where the stack config allows exposure, which the
    owning component records with the `nexus-platform/load-balancer-allowed: "true"` annotation."""
    if obj.get("kind") != "Service" or (obj.get("spec") or {}).get("type") != "LoadBalancer":
        return []
    if _is_true(annotations(obj).get(LOAD_BALANCER_ANNOTATION)):
        return []
    return [
        f"{describe(obj)} is of type LoadBalancer but the stack config does not allow exposing it (no "
        f'{LOAD_BALANCER_ANNOTATION}: "true" annotation, which a component sets only when its config '
        "enables exposure, e.g. postgresClusters.<name>.expose.enabled); use ClusterIP or enable exposure"
    ]


# --- the pack configuration's environment ------------------------------------------------------------


def stack_from_urn(urn: str) -> str | None:
    """`urn:pulumi:<stack>::<project>::<type>::<name>` -> `<stack>`."""
    parts = urn.split(":", 2)
    if len(parts) < 3 or parts[:2] != ["urn", "pulumi"]:
        return None
    return parts[2].split("::", 1)[0]


def environment_matches_stack(configured: str, stack: str | None) -> list[str]:
    """A stack named after an environment is checked with that environment's pack configuration."""
    if stack in ENVIRONMENTS and stack != configured:
        return [
            f"stack {stack!r} is being checked with the {configured!r} policy configuration; pass "
            f"--policy-pack-config policy/config/{stack}.json"
        ]
    return []


# Where each environment-scoped rule applies; rules not listed apply everywhere. The committed
# config/<environment>.json files disable a rule outside its scope (tests/policy check they agree).
ENVIRONMENT_SCOPES: dict[str, tuple[str, ...]] = {
    "images-pinned": ("staging", "prod"),
    "ingress-tls": ("staging", "prod"),
    "workload-replicas": ("prod",),
    "workload-disruption-budget": ("prod",),
    "namespace-network-policy": ("prod",),
    "data-store-scraped": ("prod",),
    "pod-own-service-account": ("staging", "prod"),
    "pod-no-service-account-token": ("staging", "prod"),
    "data-store-tls-required": ("prod",),
}

ENVIRONMENT_POLICY = "stack-environment"


def pack_config(environment: str) -> dict[str, Any]:
    """The `--policy-pack-config` for an environment: advisory in dev, mandatory in staging and prod,
    rules outside their scope disabled, and the environment named for the stack-environment guard
    (which always blocks: checking prod with dev's configuration must never pass quietly)."""
    config: dict[str, Any] = {
        "all": "advisory" if environment == "dev" else "mandatory",
        ENVIRONMENT_POLICY: {"enforcementLevel": "mandatory", "environment": environment},
    }
    config.update({name: "disabled" for name, scope in ENVIRONMENT_SCOPES.items() if environment not in scope})
    return config
