"""PostgresCluster: the upstream Bitnami PostgreSQL chart (16.7.26) with writer and reader endpoints.

Facts about chart 16.7.26 this component relies on (tests/unit/test_postgres_cluster.py pins them):
- with `fullnameOverride: F` and `architecture: replication`, the primary StatefulSet and its Service
  are `F-primary`, the read replicas' are `F-read`; headless services add `-hl`;
- `auth.existingSecret` is read with the keys `postgres-password` (admin), `password` (the user in
  `auth.username`) and `replication-password`;
- image coordinates are `image.{registry,repository,tag}`, and a non-Bitnami repository (the
  `bitnamilegacy` one) is accepted only with `global.security.allowInsecureImages`.

The chart always runs in `replication` architecture, with zero read replicas when none are asked for:
the standalone architecture names its StatefulSet `F` instead of `F-primary`, so scaling from 0 to 1
replica would replace the primary and orphan its volume. With zero replicas the reader endpoint is the
writer, so consumers need no special case.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from platform_config.data_tier import BackupConfig
from platform_config.postgres import PostgresChartSource, PostgresClusterConfig
from platform_config.rotation import postgres_cluster
from platform_config.security import AuditLevel, SecurityConfig, TlsConfig

from .backups import ClusterBackup, cluster_backup, has_cluster_backup
from .certificates import postgres_tls_env, server_certificate, service_dns_names, tls_secret_name
from .endpoints import DatabaseEndpoint
from .helm import deploy_chart
from .kubernetes import create_namespace, service_host, standard_labels
from .outputs import Exported, Exporting
from .rotation import Login, RotationProgram, RotationTarget, active_username, alternating_slots, rotation_jobs
from .secrets import (
    as_secret,
    connection_url,
    generated_password,
    once_in,
    opaque_secret,
    password_or_generated,
    secret_checksum,
)
from .storage import StorageGuard, grow_claims, keep_claim_templates

POSTGRES_PORT = 5432
DEFAULT_NAMESPACE = "postgres"
ADMIN_USER = "postgres"
# Secret keys chart 16.7.26 reads from auth.existingSecret (auth.secretKeys.* defaults).
ADMIN_PASSWORD_KEY = "postgres-password"
USER_PASSWORD_KEY = "password"
# Ours, not the chart's: the alternate login's password (components/rotation.py). `password` stays the password
# of `auth.username` itself, which the chart's initialisation and its metrics exporter log in with.
ALTERNATE_PASSWORD_KEY = "alternate-password"
REPLICATION_PASSWORD_KEY = "replication-password"
# The streaming-replication role chart 16.7.26 creates (auth.replicationUsername's default).
REPLICATION_USER = "repl_user"
# The Bitnami image's user: the rotation Jobs run its psql as it.
BITNAMI_UID = 1001
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
EXTERNAL_DNS_ANNOTATION = "external-dns.alpha.kubernetes.io/hostname"
# The guardrail policy pack only admits LoadBalancer Services their component deliberately exposes.
LOAD_BALANCER_ALLOWED_ANNOTATION = "nexus-platform/load-balancer-allowed"
# PostgreSQL has exactly one writer; redundancy comes from the read replicas, not a second primary.
SINGLE_WRITER_ANNOTATIONS = {
    "nexus-platform/single-pod-by-design": "true",
    "nexus-platform/single-pod-reason": "the primary is the only writer; read replicas carry redundancy",
}


@dataclass(frozen=True)
class PostgresClusterArgs:
    config: PostgresClusterConfig
    chart_source: PostgresChartSource
    delete_data_on_destroy: bool = False
    # Credential id -> rotation generation (platform_config.rotation); unlisted credentials are at 0.
    rotation: Mapping[str, int] = field(default_factory=dict)
    # TLS in transit and audit logging (platform_config.security).
    security: SecurityConfig = field(default_factory=SecurityConfig)
    # What the Certificate waits for (the stack's private CA issuer), when the program creates it.
    issuer: Sequence[pulumi.Resource] = ()
    # dataTier.backup: the cluster's logical dumps go to the same buckets as the data tier's (components/backups.py).
    backup: BackupConfig = field(default_factory=BackupConfig)

    @property
    def namespace(self) -> str:
        return self.config.namespace or DEFAULT_NAMESPACE


def backup_component(name: str) -> str:
    """The cluster's name among the backed-up components (`orders-postgres`): its CronJob `<component>-backup`, its
    objects `<prefix>/<component>/` in the buckets, and the CLI's argument."""
    return f"{name}-postgres"


def service_names(fullname: str) -> tuple[str, str]:
    """(writer service, reader-replicas service) as chart 16.7.26 names them in replication architecture."""
    return f"{fullname}-primary", f"{fullname}-read"


# What the server does with plaintext clients, on its pods (policy/rules.py TLS_MODE_ANNOTATION reads it; the
# policy pack runs apart from the program, so the name is written in both).
TLS_MODE_ANNOTATION = "nexus-platform/tls-mode"
# Where the required-TLS hba file goes.
TLS_HBA_DIR = "/opt/bitnami/postgresql/conf/nexus-hba"
# Required TLS: the pod's own probes, init scripts and exporter stay on the socket and loopback; every other client,
# the read replicas' streaming replication included, must come over TLS (no `host` line matches them).
TLS_REQUIRED_HBA = """\
local    all          all                       md5
host     all          all          127.0.0.1/32 md5
host     all          all          ::1/128      md5
hostssl  replication  {replication} 0.0.0.0/0    md5
hostssl  replication  {replication} ::/0         md5
hostssl  all          all          0.0.0.0/0    md5
hostssl  all          all          ::/0         md5
"""
# Chart 16.7.26's audit values (the Bitnami image ships pgAudit, preloaded by default): per level.
AUDIT_VALUES = {
    AuditLevel.BASIC: {"logConnections": True, "logDisconnections": True, "pgAuditLog": "ddl, role"},
    AuditLevel.COMPREHENSIVE: {
        "logConnections": True,
        "logDisconnections": True,
        "logHostname": True,
        "pgAuditLog": "all",
        "pgAuditLogCatalog": "off",
    },
}


def ca_secret_name(name: str, tls: TlsConfig) -> str | None:
    """The Secret (in the cluster's namespace) whose `ca.crt` a client Job verifies the cluster against; None
    while TLS is off."""
    return tls_secret_name(f"{name}-postgresql") if tls.enabled else None


def tls_hba_config_map(name: str) -> str:
    return f"{name}-postgresql-tls-hba"


def tls_values(name: str, tls: TlsConfig) -> dict:
    """Chart values for TLS: the server certificate cert-manager issued (`tls.certCAFilename` stays unset: the
    image would then demand client certificates); in required mode an hba file, for primary and read replicas
    alike, that admits network clients only over TLS."""
    if not tls.enabled:
        return {}
    fullname = f"{name}-postgresql"
    values: dict = {
        "tls": {
            "enabled": True,
            "certificatesSecret": tls_secret_name(fullname),
            "certFilename": "tls.crt",
            "certKeyFilename": "tls.key",
        }
    }
    if tls.required:
        hba = {
            "extendedConfiguration": f"hba_file = '{TLS_HBA_DIR}/pg_hba.conf'\n",
            "extraVolumes": [{"name": "tls-hba", "configMap": {"name": tls_hba_config_map(name)}}],
            "extraVolumeMounts": [{"name": "tls-hba", "mountPath": TLS_HBA_DIR, "readOnly": True}],
        }
        values |= {"primary": hba, "readReplicas": hba}
    return values


def chart_values(
    name: str,
    config: PostgresClusterConfig,
    secret_name: str,
    secret_checksum: pulumi.Input[str] | None = None,
    security: SecurityConfig | None = None,
    backup: BackupConfig | None = None,
) -> dict:
    """The values handed to the Bitnami chart. Pure, so render tests can feed the very same dict to helm.
    `secret_checksum` (of the credentials Secret, once a credential has been rotated) rolls the pods when it
    changes: the chart annotates pods only for Secrets it creates itself. `auth.username` stays the service
    user (it owns the data; its alternate login is the rotation Jobs', components/rotation.py)."""
    fullname = f"{name}-postgresql"
    node_selector = {INSTANCE_TYPE_LABEL: config.instanceType} if config.instanceType else {}
    anti_affinity = "" if config.podAntiAffinity == "none" else config.podAntiAffinity
    resources = config.resources.to_kubernetes()

    def service(hostname: str | None) -> dict:
        if not (config.expose.enabled and hostname):
            return {"type": "ClusterIP"}
        annotations = {EXTERNAL_DNS_ANNOTATION: hostname, LOAD_BALANCER_ALLOWED_ANNOTATION: "true"}
        return {"type": "LoadBalancer", "annotations": annotations}

    def persistence() -> dict:
        return {
            "enabled": True,
            "size": config.storageSize,
            **({"storageClass": config.storageClass} if config.storageClass else {}),
        }

    def image(repository: str, tag: str) -> dict:
        return {"registry": config.image.registry, "repository": repository, "tag": tag}

    hostname = config.expose.hostname
    auth = {
        "enablePostgresUser": True,
        "database": config.database,
        "existingSecret": secret_name,
        "secretKeys": {
            "adminPasswordKey": ADMIN_PASSWORD_KEY,
            "userPasswordKey": USER_PASSWORD_KEY,
            "replicationPasswordKey": REPLICATION_PASSWORD_KEY,
        },
    }
    if config.username != ADMIN_USER:
        auth["username"] = config.username
    pod_annotations = {f"checksum/secret-{secret_name}": secret_checksum} if secret_checksum is not None else {}
    security = security or SecurityConfig()
    if security.tls.enabled:
        # What the server does with plaintext clients; the policy pack's data-store-tls-required reads it.
        pod_annotations[TLS_MODE_ANNOTATION] = security.tls.mode.value
    tls = tls_values(name, security.tls)
    values = {
        "fullnameOverride": fullname,
        "architecture": "replication",
        "global": {"security": {"allowInsecureImages": True}},
        "image": image(config.image.repository, config.image.tag),
        "auth": auth,
        "primary": {
            "annotations": SINGLE_WRITER_ANNOTATIONS,
            **({"podAnnotations": pod_annotations} if pod_annotations else {}),
            "resources": resources,
            "nodeSelector": node_selector,
            "podAntiAffinityPreset": anti_affinity,
            "pdb": {"create": config.podDisruptionBudget},
            "persistence": persistence(),
            "service": service(hostname),
        },
        "readReplicas": {
            "replicaCount": config.readReplicaCount,
            **({"podAnnotations": pod_annotations} if pod_annotations else {}),
            "resources": resources,
            "nodeSelector": node_selector,
            "podAntiAffinityPreset": anti_affinity,
            "pdb": {"create": config.podDisruptionBudget and config.is_replicated},
            "persistence": persistence(),
            "service": service(f"reader-{hostname}" if hostname else None),
        },
        "metrics": metrics_values(
            fullname,
            config,
            image(config.image.exporterRepository, config.image.exporterTag),
            backup_component(name) if backup is not None and has_cluster_backup(backup) else None,
        ),
        "networkPolicy": {"enabled": config.networkPolicy},
        # The chart's own ServiceAccount, its token never mounted (no PostgreSQL pod calls the Kubernetes API).
        "serviceAccount": {"create": True, "automountServiceAccountToken": False},
        **({"audit": AUDIT_VALUES[security.audit]} if security.audit in AUDIT_VALUES else {}),
        **{key: value for key, value in tls.items() if key not in ("primary", "readReplicas")},
    }
    for role in ("primary", "readReplicas"):
        values[role] |= {"automountServiceAccountToken": False, **tls.get(role, {})}
    return values


# Alert thresholds of the Bitnami clusters' rules (the data tier's chart has the same defaults).
VOLUME_FULL_PERCENT = 85
CONNECTION_SATURATION_PERCENT = 80
REPLICATION_LAG_SECONDS = 60
BACKUP_MAX_AGE_HOURS = 26


def alert_rules(fullname: str, namespace: str, backed_up_as: str | None = None) -> list[dict]:
    """The PrometheusRule rules of one Bitnami cluster (`metrics.prometheusRule.rules`): exporter down, pods not
    ready, volume nearly full, OOM kills, read-replica lag, connection saturation, and with `backed_up_as` (its
    name among the backed-up components, CronJob `<component>-backup`) failed and late backups, as
    nexus-lib.backupAlerts raises them for the charts. Each alert names its severity, namespace and cluster, with
    a runbook; unit-tested with promtool (tests/charts/promtool/)."""
    pods = f'namespace="{namespace}", pod=~"{fullname}-(primary|read)-[0-9]+"'
    claims = f'namespace="{namespace}", persistentvolumeclaim=~"data-{fullname}-(primary|read)-[0-9]+"'
    sets = f'namespace="{namespace}", statefulset=~"{fullname}-(primary|read)"'

    def alert(name: str, expr: str, severity: str, summary: str, runbook: str, for_: str | None = "5m") -> dict:
        rule = {
            "alert": name,
            "expr": expr,
            "labels": {"severity": severity, "namespace": namespace, "database": fullname},
            "annotations": {"summary": summary, "runbook": runbook},
        }
        return rule | ({"for": for_} if for_ else {})

    rules = [
        alert(
            "PostgresExporterDown",
            f"up{{{pods}}} == 0",
            "critical",
            f"{fullname}: the metrics exporter of {{{{ $labels.pod }}}} in {namespace} has not answered for 5 minutes",
            f"kubectl -n {namespace} logs {{{{ $labels.pod }}}} -c metrics, then -c postgresql: PostgreSQL down or "
            "the exporter cannot log in. Every other alert of this cluster is blind while this fires.",
        ),
        alert(
            "PostgresPodsNotReady",
            f"kube_statefulset_status_replicas_ready{{{sets}}} < kube_statefulset_replicas{{{sets}}}",
            "critical",
            f"{fullname}: {{{{ $labels.statefulset }}}} in {namespace} has fewer ready pods than replicas",
            f"kubectl -n {namespace} describe pod of {{{{ $labels.statefulset }}}} (scheduling, volume, probes).",
            "10m",
        ),
        alert(
            "PostgresVolumeNearlyFull",
            f"kubelet_volume_stats_used_bytes{{{claims}}} / kubelet_volume_stats_capacity_bytes{{{claims}}} * 100"
            f" > {VOLUME_FULL_PERCENT}",
            "warning",
            f"{fullname}: volume {{{{ $labels.persistentvolumeclaim }}}} in {namespace} is "
            "{{ $value | humanize }}% full",
            "Raise postgresClusters.<name>.storageSize in the stack file and run pulumi up (volumes grow in place), "
            "or free space (WAL held by a stale replication slot, bloat).",
            "15m",
        ),
        alert(
            "PostgresContainerOOMKilled",
            f'(kube_pod_container_status_last_terminated_reason{{{pods}, reason="OOMKilled"}} == 1) and on '
            f"(namespace, pod, container) (increase(kube_pod_container_status_restarts_total{{{pods}}}[15m]) > 0)",
            "warning",
            f"{fullname}: container {{{{ $labels.container }}}} of {{{{ $labels.pod }}}} in {namespace} was OOM-killed",
            "Raise postgresClusters.<name>.resources.limits.memory in the stack file.",
            None,
        ),
        alert(
            "PostgresReadReplicaLagging",
            f"pg_replication_lag_seconds{{{pods}}} > {REPLICATION_LAG_SECONDS} and on (namespace, pod) "
            f"pg_replication_is_replica{{{pods}}} == 1",
            "warning",
            f"{fullname}: read replica {{{{ $labels.pod }}}} in {namespace} is "
            "{{ $value | humanizeDuration }} behind the primary",
            f"pg_stat_replication on {fullname}-primary-0 and the replica's log (network, disk, a long query holding "
            "replay). Readers of the reader endpoint see stale data meanwhile.",
        ),
        alert(
            "PostgresConnectionsNearLimit",
            f"sum by (namespace, pod) (pg_stat_activity_count{{{pods}}}) / on (namespace, pod) "
            f"pg_settings_max_connections{{{pods}}} * 100 > {CONNECTION_SATURATION_PERCENT}",
            "warning",
            f"{fullname}: {{{{ $labels.pod }}}} in {namespace} uses {{{{ $value | humanize }}}}% of max_connections",
            "Find the client holding connections (pg_stat_activity by application_name); pool them.",
        ),
    ]
    if backed_up_as is None:
        return rules
    cronjob = f"{backed_up_as}-backup"
    manual = f"python -m backups backup-now {backed_up_as} --stack <stack>"
    return [
        *rules,
        alert(
            "PostgresBackupFailed",
            f'kube_job_status_failed{{namespace="{namespace}", job_name=~"{cronjob}-.*"}} > 0',
            "critical",
            f"{fullname}: backup job {{{{ $labels.job_name }}}} in {namespace} failed",
            f"kubectl -n {namespace} logs job/{{{{ $labels.job_name }}}} --all-containers; fix the cause (bucket "
            f"credentials or reachability, the primary unreachable) and take one now: {manual}.",
            None,
        ),
        alert(
            "PostgresBackupLate",
            f'time() - kube_cronjob_status_last_successful_time{{namespace="{namespace}", cronjob="{cronjob}"}}'
            f" > {BACKUP_MAX_AGE_HOURS * 3600}",
            "critical",
            f"{fullname}: no successful backup in {namespace} for more than {BACKUP_MAX_AGE_HOURS} hours",
            f"kubectl -n {namespace} get cronjob {cronjob} and its jobs: a suspended CronJob, jobs failing or never "
            f"scheduled. Take a backup by hand before anything else: {manual}.",
            None,
        ),
    ]


def metrics_values(
    fullname: str, config: PostgresClusterConfig, exporter_image: dict, backed_up_as: str | None = None
) -> dict:
    """The chart's `metrics` block: its exporter container, ServiceMonitor and PrometheusRule (config.monitoring;
    the backup alerts with `backed_up_as`, when the cluster has a backup CronJob)."""
    monitoring = config.monitoring
    values: dict = {"enabled": monitoring.metrics, "image": exporter_image}
    if monitoring.serviceMonitor:
        values["serviceMonitor"] = {"enabled": True, "labels": dict(monitoring.selectorLabels)}
    if monitoring.prometheusRule:
        namespace = config.namespace or DEFAULT_NAMESPACE
        rules = [helm_escaped(rule) for rule in alert_rules(fullname, namespace, backed_up_as)]
        values["prometheusRule"] = {"enabled": True, "labels": dict(monitoring.selectorLabels), "rules": rules}
    return values


def helm_escaped(value):
    """`value` with every `{{ ... }}` (Prometheus' alert templating) kept from Helm: the Bitnami chart renders
    `metrics.prometheusRule.rules` with `tpl`, so `{{ $labels.pod }}` is written ``{{`{{ $labels.pod }}`}}``."""
    if isinstance(value, dict):
        return {key: helm_escaped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [helm_escaped(item) for item in value]
    if isinstance(value, str):
        return re.sub(r"\{\{.*?\}\}", lambda match: "{{`" + match.group(0) + "`}}", value)
    return value


def storage_claims(name: str, config: PostgresClusterConfig) -> dict[str, str]:
    """Requested size per claim the chart's StatefulSets create (`data-<statefulset>-<ordinal>`)."""
    primary, read = service_names(f"{name}-postgresql")
    claims = {f"data-{primary}-0": config.storageSize}
    claims.update({f"data-{read}-{ordinal}": config.storageSize for ordinal in range(config.readReplicaCount)})
    return claims


class PostgresCluster(Exporting, pulumi.ComponentResource):
    """A Bitnami PostgreSQL cluster in its own namespace, with generated credentials in a Secret.

    Its stack outputs (README, 'Stack outputs') are the `Exported` attributes, by their camelCase names.
    """

    writer_host: Exported[pulumi.Output[str]]
    writer_port: Exported[pulumi.Output[int]]
    reader_host: Exported[pulumi.Output[str]]
    reader_port: Exported[pulumi.Output[int]]
    database: Exported[pulumi.Output[str]]
    username: Exported[pulumi.Output[str]]
    namespace: Exported[pulumi.Output[str]]
    password_secret_name: Exported[pulumi.Output[str]]
    password_secret_key: Exported[pulumi.Output[str]]
    writer_url: Exported[pulumi.Output[str]]
    reader_url: Exported[pulumi.Output[str]]
    password: pulumi.Output[str]

    def __init__(self, name: str, args: PostgresClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("nexus:postgres:PostgresCluster", name, None, opts)
        child_opts = pulumi.ResourceOptions(parent=self)
        config = args.config

        namespace = create_namespace(
            f"{name}-namespace",
            args.namespace,
            "postgresql",
            holds_data=True,
            delete_data_on_destroy=args.delete_data_on_destroy,
            opts=child_opts,
        )
        generations = {
            key: args.rotation.get(postgres_cluster(name, key), 0) for key in ("user", "admin", "replication")
        }
        given_password = config.password.get_secret_value() if config.password else None
        if config.username == ADMIN_USER:
            # The configured user is the admin: the given password is the admin password the chart deploys.
            admin_password = password_or_generated(
                given_password, f"{name}-admin-password", child_opts, generations["admin"]
            )
            login = Login(ADMIN_USER, admin_password)
        else:
            admin_password = generated_password(f"{name}-admin-password", child_opts, generation=generations["admin"])
            if given_password is not None:
                # An operator-set password is rotated by setting the new one: one login, no alternate.
                login = Login(config.username, as_secret(given_password))
                user_passwords = {USER_PASSWORD_KEY: login.password}
            else:
                slots = alternating_slots(f"{name}-user-password", child_opts, generations["user"])
                odd = generations["user"] % 2 == 1
                login = Login(active_username(config.username, generations["user"]), slots.active)
                user_passwords = {USER_PASSWORD_KEY: slots.previous if odd else slots.active}
                if slots.previous is not None:
                    user_passwords[ALTERNATE_PASSWORD_KEY] = slots.active if odd else slots.previous
        replication_password = generated_password(
            f"{name}-replication-password", child_opts, generation=generations["replication"]
        )

        secret_name = f"{name}-postgresql-credentials"
        if config.username == ADMIN_USER:
            user_passwords = {USER_PASSWORD_KEY: admin_password}
        data = {ADMIN_PASSWORD_KEY: admin_password, **user_passwords, REPLICATION_PASSWORD_KEY: replication_password}
        rotation = self._rotation(name, args, secret_name, login, data, generations, given_password, child_opts)
        credentials = opaque_secret(
            f"{name}-credentials",
            name=secret_name,
            namespace=namespace.metadata.name,
            labels=standard_labels("postgresql"),
            data=data,
            opts=pulumi.ResourceOptions.merge(
                child_opts, pulumi.ResourceOptions(depends_on=[rotation.rotate] if rotation else [])
            ),
        )

        tls_objects = self._tls_objects(name, args, namespace.metadata.name, child_opts)
        claims = storage_claims(name, config)
        storage_guard = StorageGuard(f"{name}-storage", claims=claims, opts=child_opts)
        self.chart = deploy_chart(
            f"{name}-postgresql",
            chart=args.chart_source.chart,
            version=None if args.chart_source.path else args.chart_source.version,
            release_name=f"{name}-postgresql",
            namespace=namespace.metadata.name,
            # The pods roll for what their processes hold (admin, the user's own password, replication); the
            # alternate login's password is only the clients'.
            values=chart_values(
                name,
                config,
                secret_name,
                secret_checksum({k: v for k, v in data.items() if k != ALTERNATE_PASSWORD_KEY}) if rotation else None,
                security=args.security,
                backup=args.backup,
            ),
            depends_on=[credentials, *tls_objects, storage_guard],
            opts=pulumi.ResourceOptions(parent=self, transforms=[keep_claim_templates]),
        )
        grow_claims(
            f"{name}-volume",
            namespace.metadata.name,
            claims,
            pulumi.ResourceOptions(parent=self, depends_on=[self.chart]),
        )

        writer_service, reader_service = service_names(f"{name}-postgresql")
        writer = service_host(writer_service, args.namespace)
        cluster_backup(
            name,
            ClusterBackup(
                component=backup_component(name),
                host=writer,
                database=config.database,
                password_secret=secret_name,
                password_key=ADMIN_PASSWORD_KEY,
                image=f"{config.image.registry}/{config.image.repository}:{config.image.tag}",
                uid=BITNAMI_UID,
                ca_secret=ca_secret_name(name, args.security.tls),
            ),
            args.backup,
            namespace=namespace.metadata.name,
            labels=standard_labels("postgresql-backup"),
            depends_on=[credentials, self.chart],
            opts=child_opts,
        )
        reader = service_host(reader_service, args.namespace) if config.is_replicated else writer
        # Hosts resolve only once the chart's Services exist: consumers that wait on them wait on the chart.
        self.writer_host = self.chart.resources.apply(lambda _: writer)
        self.reader_host = self.chart.resources.apply(lambda _: reader)
        self.writer_port = pulumi.Output.from_input(POSTGRES_PORT)
        self.reader_port = pulumi.Output.from_input(POSTGRES_PORT)
        self.database = pulumi.Output.from_input(config.database)
        converged = rotation.converge([self.chart]) if rotation else credentials
        user_password = once_in(converged, login.password)
        self.username = pulumi.Output.from_input(login.username)
        self.namespace = namespace.metadata.name
        self.password_secret_name = credentials.metadata.name
        self.password_secret_key = pulumi.Output.from_input(
            ADMIN_PASSWORD_KEY
            if config.username == ADMIN_USER
            else ALTERNATE_PASSWORD_KEY
            if login.username != config.username
            else USER_PASSWORD_KEY
        )
        self.password = user_password
        # Where a client Job in the cluster's namespace finds the CA (None while TLS is off).
        self.ca_secret = ca_secret_name(name, args.security.tls)
        # With TLS on, clients verify the server's certificate and name (the CA: `ca.crt` of the stack's issuer).
        query = "sslmode=verify-full" if args.security.tls.enabled else ""
        self.writer_url = connection_url(
            "postgresql", login.username, user_password, self.writer_host, POSTGRES_PORT, config.database, query
        )
        self.reader_url = connection_url(
            "postgresql", login.username, user_password, self.reader_host, POSTGRES_PORT, config.database, query
        )
        self.register_outputs(self.outputs())

    @staticmethod
    def _tls_objects(
        name: str, args: PostgresClusterArgs, namespace: pulumi.Input[str], opts: pulumi.ResourceOptions
    ) -> list[pulumi.Resource]:
        """The cluster's server certificate (both roles' Services and pods) and, in required mode, its hba file."""
        tls = args.security.tls
        if not tls.enabled:
            return []
        fullname = f"{name}-postgresql"
        services = [f"{fullname}-{role}{suffix}" for role in ("primary", "read") for suffix in ("", "-hl")]
        headless = [f"{fullname}-{role}-hl" for role in ("primary", "read")]
        labels = standard_labels("postgresql")
        after_issuer = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=list(args.issuer)))
        objects: list[pulumi.Resource] = [
            server_certificate(
                f"{name}-certificate",
                component=fullname,
                namespace=namespace,
                dns_names=service_dns_names(services, args.namespace, headless=headless),
                tls=tls,
                labels=labels,
                opts=after_issuer,
            )
        ]
        if tls.required:
            objects.append(
                k8s.core.v1.ConfigMap(
                    f"{name}-tls-hba",
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        name=tls_hba_config_map(name), namespace=namespace, labels=labels
                    ),
                    data={"pg_hba.conf": TLS_REQUIRED_HBA.format(replication=REPLICATION_USER)},
                    opts=opts,
                )
            )
        return objects

    @staticmethod
    def _rotation(
        name: str,
        args: PostgresClusterArgs,
        secret_name: str,
        login: Login,
        data: Mapping[str, pulumi.Output[str]],
        generations: Mapping[str, int],
        given_password: str | None,
        opts: pulumi.ResourceOptions,
    ):
        """The Jobs that teach the running cluster a rotation (components/rotation.py), as the image's psql. An
        operator-set password counts as rotated whenever it changes (its checksum is part of the generations)."""
        config = args.config
        image = config.image
        rotated = dict(generations)
        if given_password is not None:
            rotated["operatorPassword"] = int(hashlib.sha256(given_password.encode()).hexdigest()[:12], 16)
        settings = {
            "PGHOST": service_host(service_names(f"{name}-postgresql")[0], args.namespace),
            "PGPORT": str(POSTGRES_PORT),
            "PGDATABASE": config.database,
            "ADMIN_USER": ADMIN_USER,
            "REPLICATION_USER": REPLICATION_USER,
            **postgres_tls_env(args.security.tls.enabled),
        }
        next_values = {
            "NEXT_ADMIN_PASSWORD": data[ADMIN_PASSWORD_KEY],
            "NEXT_REPLICATION_PASSWORD": data[REPLICATION_PASSWORD_KEY],
        }
        if config.username != ADMIN_USER:
            settings |= {"APP_BASE_USER": config.username, "APP_USER": login.username}
            next_values["NEXT_APP_PASSWORD"] = login.password
        return rotation_jobs(
            f"{name}-rotation",
            program=RotationProgram(
                file="rotate-postgres.sh",
                command=("bash",),
                image=f"{image.registry}/{image.repository}:{image.tag}",
                run_as=BITNAMI_UID,
            ),
            target=RotationTarget(
                target=f"{name}-postgresql",
                namespace=args.namespace,
                live_secret=secret_name,
                pod_labels={},
                ca_secret=ca_secret_name(name, args.security.tls),
            ),
            generations=rotated,
            settings=settings,
            current={"CURRENT_ADMIN_PASSWORD": ADMIN_PASSWORD_KEY},
            next_values=next_values,
            opts=opts,
        )

    def writer(self) -> DatabaseEndpoint:
        """The primary: for anything that writes."""
        return self._endpoint(self.writer_host, self.writer_port, self.writer_url)

    def reader(self) -> DatabaseEndpoint:
        """The read replicas (the primary when there are none): for anything that only reads."""
        return self._endpoint(self.reader_host, self.reader_port, self.reader_url)

    def _endpoint(
        self, host: pulumi.Output[str], port: pulumi.Output[int], url: pulumi.Output[str]
    ) -> DatabaseEndpoint:
        return DatabaseEndpoint(
            host=host,
            port=port,
            database=self.database,
            username=self.username,
            namespace=self.namespace,
            secret_name=self.password_secret_name,
            secret_key=self.password_secret_key,
            password=self.password,
            url=url,
        )
