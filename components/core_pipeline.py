"""CorePipeline: the NestJS core-pipeline service (our chart `charts/core-pipeline`), wired to the data tier.

What the component owns, beyond the chart release:
- its namespace (stateless: nothing in it needs to survive a destroy);
- its own database and role in a platform PostgreSQL cluster, with a generated password. The role and the
  database are created by an idempotent bootstrap Job in the cluster's namespace, because that is where the
  admin password Secret lives (secretKeyRef cannot cross namespaces). The Job's name carries a hash of
  everything it does, so a change (new host, rotated password, new SQL) runs a new Job, and an unchanged
  stack shows no diff. Pulumi awaits Jobs until they complete, which is what we want: the Deployment depends
  on the Job, so pods never start against a database that does not exist yet. No `skipAwait`.
- the Secret the pods read POSTGRES_USER / POSTGRES_PASSWORD / REDIS_PASSWORD from, in its own namespace,
  filled from the Pulumi secret Outputs (the chart only gets its name: no password in chart values).

Non-secret settings (Kafka brokers, PostgreSQL and Redis hosts and ports) go to the chart's ConfigMap.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pulumi
import pulumi_kubernetes as k8s

from platform_config.core_pipeline import CorePipelineConfig
from platform_config.monitoring import ScrapeConfig
from platform_config.postgres import PostgresImage
from platform_config.security import TlsConfig

from .certificates import client_certificate, postgres_tls_env, tls_secret_name
from .endpoints import DatabaseEndpoint, DatabaseLocation
from .helm import deploy_chart, local_chart
from .kubernetes import (
    TLS_CA_DIR,
    TLS_CA_FILE,
    ca_only_volume,
    client_job_spec,
    create_namespace,
    service_account,
    service_host,
    standard_labels,
)
from .outputs import Exported, Exporting
from .postgres_cluster import ADMIN_PASSWORD_KEY as POSTGRES_ADMIN_PASSWORD_KEY
from .postgres_cluster import ADMIN_USER as POSTGRES_ADMIN_USER
from .rotation import Login, alternating_logins
from .secrets import opaque_secret, secret_checksum

COMPONENT = "core-pipeline"
CONTAINER_PORT = 3000
DEFAULT_KAFKA_PORT = 9092
# Key of the service's own password in the Secret next to the cluster, read by the bootstrap Job.
DB_USER_PASSWORD_KEY = "password"
# The Bitnami PostgreSQL image runs as this UID; the Job runs its psql as the same non-root user.
BOOTSTRAP_UID = 1001
# The ServiceAccount of the bootstrap Jobs, in the cluster's namespace (no token: psql needs no API).
BOOTSTRAP_SERVICE_ACCOUNT = f"{COMPONENT}-db-bootstrap"

# Idempotent: every statement either creates what is missing or sets what it should be, so re-running it (a new
# Job after any change) converges. psql quotes :'x' as a literal and :"x" as an identifier; \getenv (psql 15+)
# reads the password from the environment so it never appears on a command line.
BOOTSTRAP_SQL = """\\set ON_ERROR_STOP on
\\getenv app_password APP_PASSWORD
SELECT format('CREATE ROLE %I LOGIN', :'app_user')
  WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = :'app_user') \\gexec
ALTER ROLE :"app_user" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
-- The login the service gets: its role itself, or after an odd number of rotations the alternate login, which
-- acts as the role (components/rotation.py). Only that login's password is set, so the one the pods held until
-- now keeps working until the next rotation.
SELECT format('CREATE ROLE %I LOGIN', :'app_login')
  WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = :'app_login') \\gexec
SELECT format('GRANT %I TO %I', :'app_user', :'app_login'),
       format('ALTER ROLE %I SET role = %L', :'app_login', :'app_user')
  WHERE :'app_login' <> :'app_user' \\gexec
ALTER ROLE :"app_login" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'app_password';
SELECT format('CREATE DATABASE %I OWNER %I', :'app_db', :'app_user')
  WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = :'app_db') \\gexec
ALTER DATABASE :"app_db" OWNER TO :"app_user";
REVOKE ALL ON DATABASE :"app_db" FROM PUBLIC;
GRANT ALL PRIVILEGES ON DATABASE :"app_db" TO :"app_user";
"""

# Keys of the pods' credentials Secret; each becomes the environment variable of the same name.
SECRET_KEYS = ("POSTGRES_USER", "POSTGRES_PASSWORD", "REDIS_PASSWORD")


@dataclass(frozen=True)
class CorePipelineArgs:
    """`postgres` is the cluster's writer endpoint (host, port, namespace and the Secret holding its admin
    password); the service gets its own database and role on it. `postgres_client_image` runs the bootstrap
    psql (the cluster's own image: no extra image to mirror)."""

    config: CorePipelineConfig
    kafka_bootstrap_servers: pulumi.Input[str]
    redis: DatabaseEndpoint
    postgres: DatabaseEndpoint
    postgres_client_image: str
    postgres_admin_secret_key: str = POSTGRES_ADMIN_PASSWORD_KEY
    # The rotation generation of the service's database login (platform_config.rotation: corePipeline.database).
    database_generation: int = 0
    # With TLS on: the cluster's certificate Secret (in its namespace), whose `ca.crt` the bootstrap verifies against.
    postgres_ca_secret: str | None = None
    # The stack's TLS (platform_config.security): with it on, the service verifies every server it connects to.
    tls: TlsConfig = field(default_factory=TlsConfig)


@dataclass(frozen=True)
class ChartWiring:
    """What the chart needs from other components. Inputs, so the component passes Outputs and tests strings."""

    kafka_bootstrap_servers: pulumi.Input[str]
    postgres_host: pulumi.Input[str]
    postgres_port: pulumi.Input[str]
    postgres_namespace: pulumi.Input[str]
    redis_host: pulumi.Input[str]
    redis_port: pulumi.Input[str]
    redis_namespace: pulumi.Input[str]
    secret_name: pulumi.Input[str]
    # Checksums of the Secrets the pods read that the component owns (Secret name -> hash), so pods roll when
    # a credential changes (the chart's secretChecksums).
    secret_checksums: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    # With TLS on: the service's own Certificate Secret (its namespace), whose ca.crt it trusts the servers by.
    ca_secret: str | None = None


# How the service connects over TLS, verifying each server against the stack's CA: Node's own trust store
# extension (pg, ioredis and kafkajs all use Node's TLS), libpq-style sslmode for PostgreSQL, and the switches of
# its Redis and Kafka clients.
TLS_ENV = {
    "NODE_EXTRA_CA_CERTS": TLS_CA_FILE,
    "PGSSLMODE": "verify-full",
    "PGSSLROOTCERT": TLS_CA_FILE,
    "REDIS_TLS": "true",
    "KAFKA_SSL": "true",
}


def destination(addresses: Iterable[str], default_port: int) -> dict[str, Any]:
    """NetworkPolicy egress for `host[:port]` addresses: their ports, and their namespace when every host is an
    in-cluster Service name in the same namespace; otherwise "" (any destination)."""
    namespaces, ports = set(), set()
    for address in addresses:
        parts = urlsplit(address if "//" in address else f"//{address}")
        host = parts.hostname or ""
        ports.add(parts.port or default_port)
        labels = host.split(".")
        # `service.ns.svc[.domain]`, or `pod.service.ns.svc[.domain]` for brokers behind a headless Service.
        svc = labels.index("svc", 2) if "svc" in labels[2:4] else 0
        namespaces.add(labels[svc - 1] if svc else "")
    namespace = namespaces.pop() if len(namespaces) == 1 else ""
    return {"namespace": namespace, "ports": sorted(ports) or [default_port]}


def kafka_destination(bootstrap_servers: str) -> dict[str, Any]:
    return destination([s.strip() for s in bootstrap_servers.split(",") if s.strip()], DEFAULT_KAFKA_PORT)


def otlp_destination(endpoint: str) -> dict[str, Any]:
    rule = destination([endpoint], 4318)
    # gRPC (4317) and HTTP (4318) share the collector; allow both so switching protocols needs no policy change.
    return {**rule, "ports": sorted({*rule["ports"], 4317, 4318})}


def postgres_client_image(image: PostgresImage) -> str:
    """The cluster's own PostgreSQL image, whose psql runs the bootstrap: nothing extra to pull or mirror."""
    return f"{image.registry}/{image.repository}:{image.tag}"


def _apply(value: pulumi.Input[str], function: Any) -> Any:
    return pulumi.Output.from_input(value).apply(function) if isinstance(value, pulumi.Output) else function(value)


def chart_values(name: str, config: CorePipelineConfig, wiring: ChartWiring) -> dict[str, Any]:
    """The values handed to charts/core-pipeline. Pure, so render tests feed helm the very same dict."""
    ingress = config.ingress
    autoscaling = config.autoscaling
    # Empty origins would fail the chart's schema; the chart's default stands in while CORS is off.
    cors_origins = {"allowOrigins": ingress.cors.allowOrigins} if ingress.cors.allowOrigins else {}
    return {
        "fullnameOverride": name,
        "image": config.image.model_dump(),
        "replicaCount": config.replicaCount,
        "resources": config.resources.to_kubernetes(),
        "env": {
            "NODE_ENV": config.nodeEnv,
            "PORT": str(CONTAINER_PORT),
            "LOG_LEVEL": config.logLevel,
            **({"LOG_FORMAT": config.logFormat} if config.logFormat else {}),
            "METRICS_ENABLED": str(config.metricsEnabled).lower(),
            "TRACING_ENABLED": str(config.tracingEnabled).lower(),
            "OTEL_SERVICE_NAME": name,
            "OTEL_EXPORTER_OTLP_ENDPOINT": config.otlpEndpoint,
            "KAFKA_BROKERS": wiring.kafka_bootstrap_servers,
            "KAFKA_CLIENT_ID": config.kafkaClientId,
            "KAFKA_GROUP_ID": config.kafkaGroupId,
            "POSTGRES_HOST": wiring.postgres_host,
            "POSTGRES_PORT": wiring.postgres_port,
            "POSTGRES_DB": config.database,
            "REDIS_HOST": wiring.redis_host,
            "REDIS_PORT": wiring.redis_port,
            **(TLS_ENV if wiring.ca_secret else {}),
        },
        **(
            {
                "extraVolumes": [ca_only_volume("tls-ca", wiring.ca_secret)],
                "extraVolumeMounts": [{"name": "tls-ca", "mountPath": TLS_CA_DIR, "readOnly": True}],
            }
            if wiring.ca_secret
            else {}
        ),
        "featureFlags": dict(config.featureFlags),
        # The component creates the Secret (from Pulumi secrets); the chart only references it.
        "secret": {"existingSecret": wiring.secret_name},
        "secretChecksums": dict(wiring.secret_checksums),
        "ingress": {
            "enabled": ingress.enabled,
            "className": ingress.className,
            "hostname": ingress.hosts[0] if ingress.hosts else "",
            "extraHosts": ingress.hosts[1:],
            "tls": ingress.tls,
            "certManager": {"enabled": True, "clusterIssuer": ingress.clusterIssuer},
            "rateLimit": ingress.rateLimit.model_dump(),
            "cors": {"enabled": ingress.cors.enabled, **cors_origins},
            "maxBodySizeMiB": ingress.maxBodySizeMiB,
        },
        "autoscaling": autoscaling.model_dump(),
        "podDisruptionBudget": {"enabled": config.podDisruptionBudget, "maxUnavailable": 1},
        "podAntiAffinity": config.podAntiAffinity,
        "topologySpread": {"enabled": config.topologySpread},
        "serviceMonitor": {"enabled": config.monitoring.serviceMonitor, **_selected(config.monitoring)},
        "prometheusRule": {"enabled": config.monitoring.prometheusRule, **_selected(config.monitoring)},
        "networkPolicy": {
            "enabled": config.networkPolicy.enabled,
            "ingressControllerNamespace": config.networkPolicy.ingressControllerNamespace,
            "monitoringNamespace": config.networkPolicy.monitoringNamespace or "",
            "egress": {
                "kafka": _apply(wiring.kafka_bootstrap_servers, kafka_destination),
                "postgres": {"namespace": wiring.postgres_namespace, "ports": [_apply(wiring.postgres_port, int)]},
                "redis": {"namespace": wiring.redis_namespace, "ports": [_apply(wiring.redis_port, int)]},
                "otlp": otlp_destination(config.otlpEndpoint),
            },
        },
        # v4 Chart applies hooks as plain objects at no particular time: the component does the database
        # bootstrap itself and leaves the chart's hook Jobs off.
        "migration": {"enabled": False},
        "smokeTest": {"enabled": False},
    }


def bootstrap_fingerprint(parts: Mapping[str, str]) -> str:
    """Eight hex characters naming one version of the bootstrap (its SQL, target and inputs)."""
    return hashlib.sha256(json.dumps(dict(parts), sort_keys=True).encode()).hexdigest()[:8]


def bootstrap_job_spec(
    *,
    config: CorePipelineConfig,
    login: str,
    image: str,
    host: str,
    port: str,
    admin_secret: str,
    admin_secret_key: str,
    user_secret: str,
    script_config_map: str,
    ca_secret: str | None = None,
) -> dict[str, Any]:
    """The Job's spec: psql as the cluster admin, running BOOTSTRAP_SQL with the service's role and database (over
    TLS, the certificate and host name verified, when `ca_secret` names the cluster's certificate Secret)."""

    def secret_env(env_name: str, secret: str, key: str) -> dict[str, Any]:
        return {"name": env_name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}

    container = {
        "name": "psql",
        "image": image,
        "command": [
            "psql",
            "-v",
            f"app_user={config.username}",
            "-v",
            f"app_db={config.database}",
            "-v",
            f"app_login={login}",
        ],
        "args": ["--no-psqlrc", "--file=/bootstrap/bootstrap.sql"],
        "env": [
            {"name": "PGHOST", "value": host},
            {"name": "PGPORT", "value": port},
            {"name": "PGUSER", "value": POSTGRES_ADMIN_USER},
            {"name": "PGDATABASE", "value": "postgres"},
            {"name": "PGCONNECT_TIMEOUT", "value": "10"},
            # psql looks for ~/.psqlrc and history under HOME; the only writable path is /tmp.
            {"name": "HOME", "value": "/tmp"},
            secret_env("PGPASSWORD", admin_secret, admin_secret_key),
            secret_env("APP_PASSWORD", user_secret, DB_USER_PASSWORD_KEY),
            *({"name": name, "value": value} for name, value in postgres_tls_env(ca_secret is not None).items()),
        ],
    }
    return client_job_spec(
        container,
        uid=BOOTSTRAP_UID,
        labels=standard_labels(COMPONENT, {"app.kubernetes.io/name": f"{COMPONENT}-db-bootstrap"}),
        script_volume=("bootstrap", script_config_map, "/bootstrap"),
        # Retries cover the window in which the primary is still starting.
        backoff_limit=6,
        active_deadline_seconds=900,
        service_account_name=BOOTSTRAP_SERVICE_ACCOUNT,
        ca_secret=ca_secret,
    )


class CorePipeline(Exporting, pulumi.ComponentResource):
    """The core-pipeline service in its own namespace, with its own database on a platform PostgreSQL cluster.

    Its stack outputs (`corePipeline`) are the `Exported` attributes, by their camelCase names; of its own
    database it exports where it is, not its credentials (those are in the Secret `secret_name`).
    """

    namespace: Exported[pulumi.Output[str]]
    service_url: Exported[pulumi.Output[str]]
    public_url: Exported[pulumi.Output[str | None]]
    secret_name: Exported[pulumi.Output[str]]
    config_map_name: Exported[pulumi.Output[str]]
    database: Exported[DatabaseLocation]

    def __init__(self, name: str, args: CorePipelineArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("nexus:apps:CorePipeline", name, None, opts)
        child_opts = pulumi.ResourceOptions(parent=self)
        config = args.config
        postgres = args.postgres

        namespace = create_namespace(
            f"{name}-namespace",
            config.namespace,
            COMPONENT,
            holds_data=False,
            delete_data_on_destroy=False,
            opts=child_opts,
        )
        # Alternating logins (components/rotation.py): the bootstrap Job sets the active one's password, and the
        # pods' Secret changes only after it, so the login they hold keeps working until they have rolled.
        login, _ = alternating_logins(config.username, f"{name}-db-password", child_opts, args.database_generation)
        bootstrap = self._bootstrap_database(name, args, login, child_opts)

        credentials_data = dict(zip(SECRET_KEYS, (login.username, login.password, args.redis.password), strict=True))
        credentials = opaque_secret(
            f"{name}-credentials",
            name=f"{name}-credentials",
            namespace=namespace.metadata.name,
            labels=standard_labels(COMPONENT),
            data=credentials_data,
            opts=pulumi.ResourceOptions.merge(child_opts, pulumi.ResourceOptions(depends_on=[bootstrap])),
        )

        trust = self._trust(name, args, namespace.metadata.name, child_opts)
        wiring = ChartWiring(
            kafka_bootstrap_servers=args.kafka_bootstrap_servers,
            postgres_host=postgres.host,
            postgres_port=pulumi.Output.from_input(postgres.port).apply(str),
            postgres_namespace=postgres.namespace,
            redis_host=args.redis.host,
            redis_port=pulumi.Output.from_input(args.redis.port).apply(str),
            redis_namespace=args.redis.namespace,
            secret_name=credentials.metadata.name,
            secret_checksums={f"{name}-credentials": secret_checksum(credentials_data)},
            ca_secret=tls_secret_name(name) if trust else None,
        )
        self.chart = deploy_chart(
            f"{name}-chart",
            chart=local_chart("core-pipeline"),
            release_name=name,
            namespace=namespace.metadata.name,
            values=chart_values(name, config, wiring),
            depends_on=[credentials, bootstrap, *trust],
            opts=child_opts,
        )

        self.namespace = namespace.metadata.name
        self.secret_name = credentials.metadata.name
        self.config_map_name = pulumi.Output.from_input(f"{name}-config")
        # Resolves once the chart (and so its Service) is deployed.
        self.service_url = self.chart.resources.apply(lambda _: f"http://{service_host(name, config.namespace)}")
        hosts = config.ingress.hosts
        self.public_url = pulumi.Output.from_input(f"https://{hosts[0]}" if config.ingress.enabled and hosts else None)
        self.database = DatabaseLocation(
            host=postgres.host,
            port=postgres.port,
            database=pulumi.Output.from_input(config.database),
            username=pulumi.Output.from_input(login.username),
        )
        self.register_outputs(self.outputs())

    @staticmethod
    def _trust(
        name: str, args: CorePipelineArgs, namespace: pulumi.Output[str], opts: pulumi.ResourceOptions
    ) -> list[pulumi.Resource]:
        """With TLS on, the service's own Certificate from the stack's issuer: its Secret brings the CA into the
        service's namespace (and a client certificate, for servers that ask for one)."""
        if not args.tls.enabled:
            return []
        return [
            client_certificate(
                f"{name}-certificate",
                name=name,
                namespace=namespace,
                tls=args.tls,
                labels=standard_labels(COMPONENT),
                opts=opts,
            )
        ]

    def _bootstrap_database(
        self, name: str, args: CorePipelineArgs, login: Login, child_opts: pulumi.ResourceOptions
    ) -> k8s.batch.v1.Job:
        """The service's role and database on the cluster, created by a Job next to the cluster's admin Secret."""
        config, postgres = args.config, args.postgres
        labels = standard_labels(COMPONENT, {"app.kubernetes.io/name": f"{COMPONENT}-db-bootstrap"})
        user_secret = opaque_secret(
            f"{name}-db-user",
            name=f"{name}-db-user",
            namespace=postgres.namespace,
            labels=labels,
            data={DB_USER_PASSWORD_KEY: login.password},
            opts=child_opts,
        )

        # Everything the Job does goes into its name. The password enters only through a SHA-256 digest, and the
        # result is unsecret'd: eight hex characters of it reveal nothing, and a secret name would be unreadable.
        fingerprint = pulumi.Output.unsecret(
            pulumi.Output.all(
                postgres.host, postgres.port, postgres.secret_name, login.password, user_secret.metadata.name
            ).apply(
                lambda parts: bootstrap_fingerprint(
                    {
                        "sql": BOOTSTRAP_SQL,
                        "image": args.postgres_client_image,
                        "user": config.username,
                        "database": config.database,
                        "host": str(parts[0]),
                        "port": str(parts[1]),
                        "adminSecret": f"{parts[2]}/{args.postgres_admin_secret_key}",
                        "password": hashlib.sha256(str(parts[3]).encode()).hexdigest(),
                        "userSecret": str(parts[4]),
                        # Only when it differs, so stacks that never rotated keep their Job.
                        **({"login": login.username} if login.username != config.username else {}),
                    }
                )
            )
        )
        object_name = fingerprint.apply(lambda digest: f"{name}-db-bootstrap-{digest}")
        script = k8s.core.v1.ConfigMap(
            f"{name}-db-bootstrap-script",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=object_name, namespace=postgres.namespace, labels=labels),
            data={"bootstrap.sql": BOOTSTRAP_SQL},
            immutable=True,
            opts=child_opts,
        )
        spec = pulumi.Output.all(
            postgres.host, postgres.port, postgres.secret_name, user_secret.metadata.name, script.metadata.name
        ).apply(
            lambda parts: bootstrap_job_spec(
                config=config,
                login=login.username,
                image=args.postgres_client_image,
                host=str(parts[0]),
                port=str(parts[1]),
                admin_secret=str(parts[2]),
                admin_secret_key=args.postgres_admin_secret_key,
                user_secret=str(parts[3]),
                script_config_map=str(parts[4]),
                ca_secret=args.postgres_ca_secret,
            )
        )
        account = service_account(
            f"{name}-db-bootstrap-account",
            name=BOOTSTRAP_SERVICE_ACCOUNT,
            namespace=postgres.namespace,
            labels=labels,
            opts=child_opts,
        )
        return k8s.batch.v1.Job(
            f"{name}-db-bootstrap",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=object_name,
                namespace=postgres.namespace,
                labels=labels,
                # A Job that failed (primary not up in time) is replaced on the next `up` instead of awaited again.
                annotations={"pulumi.com/replaceUnready": "true"},
            ),
            spec=spec,
            opts=pulumi.ResourceOptions.merge(child_opts, pulumi.ResourceOptions(depends_on=[account])),
        )


def _selected(monitoring: ScrapeConfig) -> dict[str, Any]:
    """`labels` for a Prometheus Operator object when the stack names selector labels (absent otherwise, so a stack
    without monitoring passes the chart what it did before)."""
    return {"labels": dict(monitoring.selectorLabels)} if monitoring.selectorLabels else {}
