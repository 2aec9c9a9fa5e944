"""NexusDatabase: the NexusCommerce data tier (issue 3) from our `nexus-database` chart.

MongoDB replica sets for the cart and user services, one PostgreSQL per service, Redis and Kafka with
ZooKeeper, in one namespace (`data` by default). Every password is generated here and lives only in the
Kubernetes Secrets the chart reads by name (`cart-mongodb-secret`, `product-postgres-secret`,
`redis-secret`, `kafka-secret`): the chart never receives a password, so nothing secret reaches the Chart
resource's inputs and nothing is regenerated on each render.

Storage only grows. The StatefulSets' claim templates keep the size they were created with
(`keep_claim_templates`), each existing claim (`data-<statefulset>-<ordinal>`) is resized in place by a
server-side-apply patch (`grow_claims`), and `StorageGuard` fails the preview of any shrink. The patches
are retained on delete: a patch owning a claim's required size field cannot be deleted (the API server
refuses to drop it), and forgetting it is what scale-down and destroy want anyway, since the claims'
own lifecycle is the StatefulSet retention policy and the namespace. The backup
volumes are created here rather than by the chart, so that `pulumi destroy` keeps them unless
`deleteDataOnDestroy` is set, exactly like the namespace that holds the data claims.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from platform_config.base import Environment, Resources, quantity_to_number
from platform_config.data_tier import MONGODB_DATABASES, POSTGRES_DATABASES, DataTierConfig, Image, ResolvedDatabase
from platform_config.rotation import KAFKA_SASL, REDIS_PASSWORD, data_tier_mongodb, data_tier_postgres
from platform_config.security import SecurityConfig, TlsConfig

from .backups import bucket_credentials, destination_values, point_in_time_certificate, point_in_time_values
from .certificates import postgres_tls_env, server_certificate, service_dns_names, tls_secret_name
from .endpoints import DatabaseEndpoint, KafkaEndpoint
from .helm import deploy_chart, local_chart
from .kubernetes import CLUSTER_DOMAIN, create_namespace, service_host, standard_labels
from .outputs import Exported, Exporting
from .rotation import (
    PREVIOUS_PASSWORD_KEY,
    PREVIOUS_USERNAME_KEY,
    Login,
    RotationJobs,
    RotationProgram,
    RotationTarget,
    alternating_logins,
    alternating_slots,
    rotation_jobs,
)
from .secrets import connection_url, generated_password, once_in, opaque_secret, secret_checksum
from .storage import StorageGuard, grow_claims, keep_claim_templates

CHART = "nexus-database"
RELEASE = "nexus-database"
COMPONENT = "data-tier"
MONGODB_PORT = 27017
POSTGRES_PORT = 5432
REDIS_PORT = 6379
# Redis's TLS listener while plaintext is still accepted (tls.mode enabled; required moves TLS onto 6379).
REDIS_TLS_PORT = 6380
KAFKA_PORT = 9092
# The brokers' TLS listener while plaintext is still accepted (tls.mode enabled; required moves TLS onto 9092).
KAFKA_TLS_PORT = 9093
KAFKA_SASL_USER = "kafka"
# Secret keys the chart reads (charts/nexus-database/values.yaml, existingSecret).
USERNAME_KEY = "username"
PASSWORD_KEY = "password"
MONGODB_ROOT_PASSWORD_KEY = "root-password"
MONGODB_REPLICA_SET_KEY = "replica-set-key"
# The key a rotation replaced, kept in the keyfile until the next one (components/rotation.py).
MONGODB_PREVIOUS_REPLICA_SET_KEY = "previous-replica-set-key"
POSTGRES_ADMIN_PASSWORD_KEY = "postgres-password"
POSTGRES_REPLICATION_PASSWORD_KEY = "replication-password"
POSTGRES_ADMIN_USER = "postgres"
POSTGRES_REPLICATION_USER = "replicator"
MONGODB_ROOT_USER = "root"
# The official images' own user (postgres, mongodb, redis): the rotation Jobs run their clients as it.
IMAGE_UID = 999
# Every pod of the release carries these; the basic network policy admits the release's own pods by them.
RELEASE_POD_LABELS = {"app.kubernetes.io/name": CHART, "app.kubernetes.io/instance": RELEASE}


@dataclass(frozen=True)
class DatabaseKind:
    """What differs between MongoDB and PostgreSQL databases of the data tier."""

    # name -> (database, user), as the specification names them.
    databases: dict[str, tuple[str, str]]
    # Object-name stem of one database: `cart` -> `cart-mongodb` (StatefulSet, Secret `cart-mongodb-secret`).
    suffix: str
    # Credentials generated besides the user's password: Secret key -> (resource-name suffix, length).
    generated: dict[str, tuple[str, int]]
    # How clients connect: the Service `<stem>-<client_service>`, the URL scheme and port.
    client_service: str
    scheme: str
    port: int
    # MongoDB clients name the replica set in the URL (`?replicaSet=<name>-rs`).
    names_replica_set: bool = False
    # Rotated credentials (platform_config.rotation ids' last part) -> the Secret key holding them ("user" is
    # the service login).
    rotated_keys: dict[str, str] = field(default_factory=dict)

    @property
    def rotated(self) -> tuple[str, ...]:
        return ("user", *self.rotated_keys)

    def rotated_key(self, secret_key: str) -> str:
        """The rotation id part of a generated credential's Secret key ("" when it is not rotated)."""
        return next((credential for credential, key in self.rotated_keys.items() if key == secret_key), "")

    def component(self, name: str) -> str:
        return f"{name}-{self.suffix}"


MONGODB = DatabaseKind(
    MONGODB_DATABASES,
    "mongodb",
    # The keyfile is the shared secret replica-set members authenticate each other with.
    {MONGODB_ROOT_PASSWORD_KEY: ("root-password", 32), MONGODB_REPLICA_SET_KEY: ("keyfile", 64)},
    client_service="headless",
    scheme="mongodb",
    port=MONGODB_PORT,
    names_replica_set=True,
    rotated_keys={"root": MONGODB_ROOT_PASSWORD_KEY, "replicaSetKey": MONGODB_REPLICA_SET_KEY},
)
POSTGRES = DatabaseKind(
    POSTGRES_DATABASES,
    "postgres",
    {
        POSTGRES_ADMIN_PASSWORD_KEY: ("admin-password", 32),
        POSTGRES_REPLICATION_PASSWORD_KEY: ("replication-password", 32),
    },
    client_service="service",
    scheme="postgresql",
    port=POSTGRES_PORT,
    rotated_keys={"admin": POSTGRES_ADMIN_PASSWORD_KEY, "replication": POSTGRES_REPLICATION_PASSWORD_KEY},
)


@dataclass(frozen=True)
class NexusDatabaseArgs:
    config: DataTierConfig
    environment: Environment
    delete_data_on_destroy: bool = False
    # Credential id -> rotation generation (platform_config.rotation); unlisted credentials are at 0.
    rotation: Mapping[str, int] = field(default_factory=dict)
    # TLS in transit and audit logging (platform_config.security).
    security: SecurityConfig = field(default_factory=SecurityConfig)
    # What the Certificates wait for (the stack's private CA issuer), when the program creates it.
    issuer: Sequence[pulumi.Resource] = ()


def mongodb_component(name: str) -> str:
    return MONGODB.component(name)


def postgres_component(name: str) -> str:
    return POSTGRES.component(name)


def secret_name(component: str) -> str:
    """`cart-mongodb-secret`, `product-postgres-secret`, `redis-secret`, `kafka-secret` (the spec's names)."""
    return f"{component}-secret"


def replica_set_name(name: str) -> str:
    return f"{name}-rs"


def _image(image: Image) -> dict[str, str]:
    return {"repository": image.repository, "tag": image.tag, "pullPolicy": "IfNotPresent"}


def _heap(resources: Resources) -> str:
    """JVM heap at half the memory limit: the other half is for the page cache and off-heap buffers."""
    mebibytes = int(quantity_to_number(resources.limits.memory) / 2**20 / 2)
    return f"-Xms{mebibytes}m -Xmx{mebibytes}m"


def _peers(peers: list) -> list[dict[str, Any]]:
    return [{"namespace": peer.namespace, "podLabels": dict(peer.podLabels)} for peer in peers]


def chart_values(
    config: DataTierConfig,
    environment: Environment,
    *,
    delete_data_on_destroy: bool,
    secret_checksums: Mapping[str, pulumi.Input[str]] | None = None,
    security: SecurityConfig | None = None,
) -> dict:
    """The values handed to charts/nexus-database. Pure, so render tests feed helm the very same dict.
    `secret_checksums` (Secret name -> hash of its data) rolls the pods reading a Secret when it changes."""

    def database(db, database_name: str, username: str, secret: str, **extra: str) -> dict:
        return {
            "enabled": db.enabled,
            "database": database_name,
            "username": username,
            "existingSecret": secret,
            "replicas": db.replicas,
            "resources": db.resources.to_kubernetes(),
            "storage": {"size": db.storageSize},
            "allowFrom": _peers(db.allowFrom),
            **extra,
        }

    def kind(settings, databases: dict) -> dict:
        return {
            "enabled": settings.enabled,
            "replicas": settings.replicas,
            "resources": settings.resources.to_kubernetes(),
            "storage": {"size": settings.storageSize},
            "databases": databases,
        }

    mongodb = {
        name: database(
            db, *MONGODB_DATABASES[name], secret_name(mongodb_component(name)), replicaSetName=replica_set_name(name)
        )
        for name, db in config.mongodb.resolved().items()
    }
    postgres = {
        name: database(db, *POSTGRES_DATABASES[name], secret_name(postgres_component(name)))
        for name, db in config.postgres.resolved().items()
    }
    kafka, zookeeper = config.kafka, config.kafka.zookeeper
    security = security or SecurityConfig()
    return {
        "environment": environment.value,
        # Unset while off, so a stack without TLS or audit renders exactly what it did before they existed.
        **({"tls": {"mode": security.tls.mode.value}} if security.tls.enabled else {}),
        **({"audit": {"level": security.audit.value}} if security.audit.value != "disabled" else {}),
        "secretChecksums": dict(secret_checksums or {}),
        "clusterDomain": CLUSTER_DOMAIN,
        "global": {"storageClass": config.storageClass or ""},
        "images": {key: _image(getattr(config.images, key)) for key in type(config.images).model_fields},
        "highAvailability": {
            "podAntiAffinity": config.podAntiAffinity,
            "podDisruptionBudget": config.podDisruptionBudget,
        },
        "persistence": {"retainOnDelete": not delete_data_on_destroy},
        "networkPolicy": {
            "mode": config.networkPolicy.mode,
            "allowedNamespaces": list(config.networkPolicy.allowedNamespaces),
        },
        "backup": {
            "enabled": config.backup.enabled,
            "schedule": config.backup.schedule,
            "retentionDays": config.backup.retentionDays or 0,
            # The component owns the backup volumes (kept on destroy); see backup_claims().
            "persistence": {"create": False, "size": config.backup.storageSize},
            # Where each backup is shipped besides the volume (components/backups.py).
            **destination_values(config.backup),
            # WAL archiving and base backups of the PostgreSQL databases with pgBackRest (docs/backups.md).
            "pointInTime": point_in_time_values(config.backup),
        },
        "metrics": {
            "enabled": config.monitoring.metrics,
            "serviceMonitor": {
                "enabled": config.monitoring.serviceMonitor,
                **({"labels": dict(config.monitoring.selectorLabels)} if config.monitoring.serviceMonitor else {}),
            },
            **(
                {"prometheusRule": {"enabled": True, "labels": dict(config.monitoring.selectorLabels)}}
                if config.monitoring.prometheusRule
                else {}
            ),
            **({"dashboards": {"enabled": True}} if config.monitoring.dashboards else {}),
        },
        # A helm test hook would be an ordinary Pod under Pulumi's Chart: keep it out.
        "tests": {"enabled": False},
        "mongodb": kind(config.mongodb, mongodb),
        "postgresql": kind(config.postgres, postgres),
        "redis": {
            "enabled": config.redis.enabled,
            "replicas": config.redis.replicas,
            "existingSecret": secret_name("redis"),
            "resources": config.redis.resources.to_kubernetes(),
            "storage": {"size": config.redis.storageSize},
            "allowFrom": _peers(config.redis.allowFrom),
        },
        "kafka": {
            "enabled": kafka.enabled,
            "replicas": kafka.replicas,
            "resources": kafka.resources.to_kubernetes(),
            "storage": {"size": kafka.storageSize},
            "heapOptions": _heap(kafka.resources),
            "sasl": {"enabled": kafka.sasl, "username": KAFKA_SASL_USER, "existingSecret": secret_name("kafka")},
            "allowFrom": _peers(kafka.allowFrom),
            "zookeeper": {
                "replicas": zookeeper.replicas,
                "resources": zookeeper.resources.to_kubernetes(),
                "storage": {"size": zookeeper.storageSize},
                "heapOptions": _heap(zookeeper.resources),
            },
        },
    }


def workloads(config: DataTierConfig) -> dict[str, tuple[int, str]]:
    """(replicas, claim size) of every enabled StatefulSet, by StatefulSet name."""
    sets = {mongodb_component(n): (db.replicas, db.storageSize) for n, db in config.mongodb.resolved().items()}
    sets |= {postgres_component(n): (db.replicas, db.storageSize) for n, db in config.postgres.resolved().items()}
    enabled = {name for name in sets if _enabled(config, name)}
    sets = {name: value for name, value in sets.items() if name in enabled}
    if config.redis.enabled:
        sets["redis"] = (config.redis.replicas, config.redis.storageSize)
    if config.kafka.enabled:
        sets["kafka"] = (config.kafka.replicas, config.kafka.storageSize)
        sets["zookeeper"] = (config.kafka.zookeeper.replicas, config.kafka.zookeeper.storageSize)
    return sets


def redis_client_port(tls: TlsConfig) -> int:
    """The port clients reach Redis on: its TLS port while TLS is only offered (plaintext stays on 6379), else 6379
    (plaintext when off, TLS when required)."""
    return REDIS_TLS_PORT if tls.enabled and not tls.required else REDIS_PORT


def kafka_client_port(tls: TlsConfig) -> int:
    """The brokers' client port: the TLS listener while TLS is only offered, else 9092 (TLS itself when required)."""
    return KAFKA_TLS_PORT if tls.enabled and not tls.required else KAFKA_PORT


def server_names(statefulset: str, namespace: str) -> list[str]:
    """The names clients reach one server by, for its certificate: its Services (`-service`, PostgreSQL's `-read`,
    `-headless`) and every pod under the headless one."""
    services = [f"{statefulset}-service", f"{statefulset}-headless"]
    if statefulset.endswith("-postgres"):
        services.insert(1, f"{statefulset}-read")
    return service_dns_names(services, namespace, headless=[f"{statefulset}-headless"])


def _enabled(config: DataTierConfig, statefulset: str) -> bool:
    name, kind = statefulset.rsplit("-", 1)
    resolved = config.mongodb.resolved() if kind == "mongodb" else config.postgres.resolved()
    return resolved[name].enabled


def data_claims(config: DataTierConfig) -> dict[str, str]:
    """Requested size of every data claim the StatefulSets create (`data-<statefulset>-<ordinal>`)."""
    return {
        f"data-{statefulset}-{ordinal}": size
        for statefulset, (replicas, size) in workloads(config).items()
        for ordinal in range(replicas)
    }


def backup_claims(config: DataTierConfig) -> dict[str, str]:
    """One backup volume (`<statefulset>-backups`) per backed-up database, when backups are on."""
    if not config.backup.enabled:
        return {}
    return {
        f"{statefulset}-backups": config.backup.storageSize
        for statefulset in workloads(config)
        if statefulset not in ("kafka", "zookeeper")
    }


class NexusDatabase(Exporting, pulumi.ComponentResource):
    """The data tier: the nexus-database chart, its namespace, credentials, backup volumes and endpoints.

    `mongodb` and `postgres` hold the enabled databases by name (`cart`, `product`, ...); `redis` is
    None when Redis is off, and `kafka_bootstrap_servers` is "" when Kafka is off. Its stack outputs
    (`dataTier`) are the `Exported` attributes, by their camelCase names (URLs with passwords are secrets).
    """

    namespace: Exported[pulumi.Output[str]]
    mongodb: Exported[dict[str, DatabaseEndpoint]]
    postgres: Exported[dict[str, DatabaseEndpoint]]
    redis: Exported[DatabaseEndpoint | None]
    kafka: Exported[KafkaEndpoint | None]
    kafka_bootstrap_servers: pulumi.Output[str]

    def __init__(self, name: str, args: NexusDatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("nexus:data:NexusDatabase", name, None, opts)
        child_opts = pulumi.ResourceOptions(parent=self)
        config = args.config
        self._name = name
        self._namespace_name = config.namespace
        self._config = config
        self._rotation = args.rotation
        self._tls = args.security.tls

        namespace = create_namespace(
            f"{name}-namespace",
            config.namespace,
            COMPONENT,
            holds_data=True,
            delete_data_on_destroy=args.delete_data_on_destroy,
            opts=child_opts,
        )
        self.namespace = namespace.metadata.name
        self._secrets: list[k8s.core.v1.Secret] = []
        self._live_secrets: dict[str, k8s.core.v1.Secret] = {}
        self._rotations: dict[str, RotationJobs] = {}
        self._converged: dict[str, k8s.batch.v1.Job] = {}
        self._secret_checksums: dict[str, pulumi.Output[str]] = {}

        mongodb = self._database_credentials(MONGODB, config.mongodb.resolved(), child_opts)
        postgres = self._database_credentials(POSTGRES, config.postgres.resolved(), child_opts)
        redis_password = self._redis_credentials(config, child_opts)
        kafka_login = self._kafka_credentials(config, child_opts)
        bucket_secrets, bucket_checksums = bucket_credentials(
            name,
            config.backup,
            namespace=self.namespace,
            labels=standard_labels(COMPONENT, {"app.kubernetes.io/instance": RELEASE}),
            opts=child_opts,
        )
        self._secrets.extend(bucket_secrets)
        self._secret_checksums.update(bucket_checksums)

        backups = self._backup_volumes(config, args.delete_data_on_destroy, child_opts)
        certificates = self._certificates(config, args, child_opts)
        claims = {**data_claims(config), **backup_claims(config)}
        storage_guard = StorageGuard(f"{name}-storage", claims=claims, opts=child_opts)
        self.chart = deploy_chart(
            f"{name}-chart",
            chart=local_chart(CHART),
            release_name=RELEASE,
            namespace=self.namespace,
            values=chart_values(
                config,
                args.environment,
                delete_data_on_destroy=args.delete_data_on_destroy,
                secret_checksums=self._secret_checksums,
                security=args.security,
            ),
            depends_on=[*self._secrets, *backups, *certificates, storage_guard],
            opts=pulumi.ResourceOptions(parent=self, transforms=[keep_claim_templates]),
        )
        grow_claims(
            f"{name}-volume",
            self.namespace,
            data_claims(config),
            pulumi.ResourceOptions(parent=self, depends_on=[self.chart]),
        )

        self._converged = {
            component: jobs.converge([self.chart]) for component, jobs in sorted(self._rotations.items())
        }
        self.mongodb = {db: self._database_endpoint(MONGODB, db, login) for db, login in mongodb.items()}
        self.postgres = {db: self._database_endpoint(POSTGRES, db, login) for db, login in postgres.items()}
        self.redis = (
            self._redis_endpoint(self._once_taught("redis", redis_password)) if redis_password is not None else None
        )
        self.kafka = self._kafka_endpoint(config, kafka_login) if config.kafka.enabled else None
        self.kafka_bootstrap_servers = self.kafka.url if self.kafka else pulumi.Output.from_input("")
        self.register_outputs(self.outputs())

    # --- certificates: one per server, issued by cert-manager into `<statefulset>-tls` -----------------------

    def _certificates(
        self, config: DataTierConfig, args: NexusDatabaseArgs, opts: pulumi.ResourceOptions
    ) -> list[k8s.apiextensions.CustomResource]:
        tls = args.security.tls
        if not tls.enabled:
            return []
        after_issuer = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=list(args.issuer)))
        return [
            server_certificate(
                f"{self._name}-{statefulset}-certificate",
                component=statefulset,
                namespace=self.namespace,
                dns_names=server_names(statefulset, config.namespace),
                tls=tls,
                labels=standard_labels(COMPONENT, {"app.kubernetes.io/instance": RELEASE}),
                opts=after_issuer,
            )
            for statefulset in workloads(config)
        ] + [
            # Point-in-time recovery: the pgBackRest server in each PostgreSQL pod and the backup Job, its only client,
            # present this one (its own key, not the database server's; charts/nexus-database _backup.tpl).
            server_certificate(
                f"{self._name}-{statefulset}-pgbackrest-certificate",
                component=point_in_time_certificate(statefulset),
                namespace=self.namespace,
                dns_names=[
                    point_in_time_certificate(statefulset),
                    f"*.{statefulset}-headless.{config.namespace}.svc.{CLUSTER_DOMAIN}",
                ],
                tls=tls,
                labels=standard_labels(COMPONENT, {"app.kubernetes.io/instance": RELEASE}),
                opts=after_issuer,
            )
            for statefulset in (postgres_component(name) for name in config.postgres.resolved())
            if config.backup.pointInTime.enabled
        ]

    # --- credentials: one generated password per user, in the Secret the chart reads ---------------------

    def _secret(
        self,
        component: str,
        data: dict[str, pulumi.Input[str]],
        opts: pulumi.ResourceOptions,
        rotation: RotationJobs | None = None,
        read_only_at_init: tuple[str, ...] = (),
    ) -> k8s.core.v1.Secret:
        """The live Secret of one server, changed only after its rotation Job (if any) has taught the server.

        Its pods roll when a credential they hold changes; `read_only_at_init` are keys no process of the chart's
        keeps (the service login, read by the init script of an empty volume only), so rotating them restarts no
        database: the rotation Job taught the running server, and the app pods that hold them roll instead."""
        held = {key: value for key, value in data.items() if key not in read_only_at_init}
        self._secret_checksums[secret_name(component)] = secret_checksum(held)
        after = pulumi.ResourceOptions(depends_on=[rotation.rotate]) if rotation else None
        if rotation:
            self._rotations[component] = rotation
        secret = opaque_secret(
            f"{self._name}-{component}-secret",
            name=secret_name(component),
            namespace=self.namespace,
            labels=standard_labels(COMPONENT, {"app.kubernetes.io/instance": RELEASE}),
            data=data,
            opts=pulumi.ResourceOptions.merge(opts, after),
        )
        self._secrets.append(secret)
        self._live_secrets[component] = secret
        return secret

    def _once_taught(self, component: str, value: pulumi.Output[str]) -> pulumi.Output[str]:
        """A credential for consumers (endpoints, outputs): only once the server takes it (see `once_in`)."""
        return once_in(self._converged.get(component) or self._live_secrets[component], value)

    def _rotation_target(self, component: str) -> RotationTarget:
        return RotationTarget(
            target=component,
            namespace=self.namespace,
            live_secret=secret_name(component),
            pod_labels=RELEASE_POD_LABELS,
            ca_secret=tls_secret_name(component) if self._tls.enabled else None,
        )

    def _program(self, file: str, command: tuple[str, ...], image: Image) -> RotationProgram:
        return RotationProgram(file=file, command=command, image=f"{image.repository}:{image.tag}", run_as=IMAGE_UID)

    def _database_credentials(
        self, kind: DatabaseKind, databases: dict[str, ResolvedDatabase], opts: pulumi.ResourceOptions
    ) -> dict[str, Login]:
        """One Secret per enabled database: its service login (alternating, components/rotation.py) and password,
        plus the kind's other generated credentials, each at its rotation generation; and the Job that teaches
        the server a rotation before the Secret changes. Returns the active logins."""
        logins = {}
        for db, settings in databases.items():
            if not settings.enabled:
                continue
            component = kind.component(db)
            prefix = f"{self._name}-{component}"
            credential_id = data_tier_postgres if kind is POSTGRES else data_tier_mongodb
            generations = {key: self._rotation.get(credential_id(db, key), 0) for key in kind.rotated}
            login, _ = alternating_logins(kind.databases[db][1], f"{prefix}-password", opts, generations["user"])
            others = {
                key: generated_password(f"{prefix}-{suffix}", opts, length, generations.get(kind.rotated_key(key), 0))
                for key, (suffix, length) in kind.generated.items()
                if key != MONGODB_REPLICA_SET_KEY
            }
            if kind is MONGODB:
                # The replica-set keyfile alternates: members accept every key in their keyfile and need one in
                # common, so a rolling restart onto [new, previous] never splits the set (no Job: mongod reads
                # its keyfile at start).
                suffix, length = kind.generated[MONGODB_REPLICA_SET_KEY]
                keys = alternating_slots(f"{prefix}-{suffix}", opts, generations["replicaSetKey"], length)
                others[MONGODB_REPLICA_SET_KEY] = keys.active
                if keys.previous is not None:
                    others[MONGODB_PREVIOUS_REPLICA_SET_KEY] = keys.previous
            job = self._database_rotation(kind, db, login, others, generations, opts)
            data = {USERNAME_KEY: login.username, PASSWORD_KEY: login.password, **others}
            self._secret(component, data, opts, job, read_only_at_init=(USERNAME_KEY, PASSWORD_KEY))
            logins[db] = login
        return logins

    def _database_rotation(
        self,
        kind: DatabaseKind,
        db: str,
        login: Login,
        others: Mapping[str, pulumi.Output[str]],
        generations: Mapping[str, int],
        opts: pulumi.ResourceOptions,
    ) -> RotationJobs | None:
        component = kind.component(db)
        database, base_user = kind.databases[db]
        common = {"APP_BASE_USER": base_user, "APP_USER": login.username}
        if kind is POSTGRES:
            program = self._program("rotate-postgres.sh", ("bash",), self._config.images.postgres)
            settings = {
                **common,
                "PGHOST": service_host(f"{component}-service", self._namespace_name),
                "PGPORT": str(POSTGRES_PORT),
                "PGDATABASE": database,
                "ADMIN_USER": POSTGRES_ADMIN_USER,
                "REPLICATION_USER": POSTGRES_REPLICATION_USER,
                **postgres_tls_env(self._tls.enabled),
            }
            current = {"CURRENT_ADMIN_PASSWORD": POSTGRES_ADMIN_PASSWORD_KEY}
            next_values = {
                "NEXT_ADMIN_PASSWORD": others[POSTGRES_ADMIN_PASSWORD_KEY],
                "NEXT_APP_PASSWORD": login.password,
                "NEXT_REPLICATION_PASSWORD": others[POSTGRES_REPLICATION_PASSWORD_KEY],
            }
        else:
            program = self._program("rotate-mongodb.js", ("mongosh", "--nodb", "--quiet"), self._config.images.mongodb)
            members = self._config.mongodb.resolved()[db].replicas
            hosts = ",".join(
                f"{component}-{ordinal}.{component}-headless.{self._namespace_name}.svc.{CLUSTER_DOMAIN}:{MONGODB_PORT}"
                for ordinal in range(members)
            )
            settings = {
                **common,
                # rotate-mongodb.js adds the TLS options itself when TLS_CA_FILE is set (components/kubernetes.py).
                "MONGODB_URI": f"mongodb://{hosts}/admin?replicaSet={replica_set_name(db)}",
                "APP_DATABASE": database,
                "ROOT_USER": MONGODB_ROOT_USER,
            }
            current = {"CURRENT_ROOT_PASSWORD": MONGODB_ROOT_PASSWORD_KEY}
            next_values = {"NEXT_ROOT_PASSWORD": others[MONGODB_ROOT_PASSWORD_KEY], "NEXT_APP_PASSWORD": login.password}
        return rotation_jobs(
            f"{self._name}-{component}-rotation",
            program=program,
            target=self._rotation_target(component),
            generations=generations,
            settings=settings,
            current=current,
            next_values=next_values,
            opts=opts,
        )

    def _redis_credentials(self, config: DataTierConfig, opts: pulumi.ResourceOptions) -> pulumi.Output | None:
        """Redis's password, as two alternating slots of the default user (the server takes both: clients that
        have not rolled keep working until the next rotation), taught to every server by a rotation Job."""
        if not config.redis.enabled:
            return None
        generation = self._rotation.get(REDIS_PASSWORD, 0)
        slots = alternating_slots(f"{self._name}-redis-password", opts, generation)
        hosts = " ".join(
            f"redis-{ordinal}.redis-headless.{self._namespace_name}.svc.{CLUSTER_DOMAIN}"
            for ordinal in range(config.redis.replicas)
        )
        job = rotation_jobs(
            f"{self._name}-redis-rotation",
            program=self._program("rotate-redis.sh", ("sh",), config.images.redis),
            target=self._rotation_target("redis"),
            generations={"password": generation},
            settings={"REDIS_HOSTS": hosts, "REDIS_PORT": str(redis_client_port(self._tls))},
            current={"CURRENT_PASSWORD": PASSWORD_KEY},
            next_values={"NEXT_PASSWORD": slots.active},
            opts=opts,
        )
        data = {PASSWORD_KEY: slots.active}
        if slots.previous is not None:
            data[PREVIOUS_PASSWORD_KEY] = slots.previous
        self._secret("redis", data, opts, job)
        return slots.active

    def _kafka_credentials(self, config: DataTierConfig, opts: pulumi.ResourceOptions) -> Login | None:
        """Kafka's SASL/PLAIN login, alternating (components/rotation.py). Brokers learn logins only when they
        start (their JAAS, from the Secret: the active login and the one it replaced), so there is no Job: the
        chart rolls the brokers, and consumers get the new login only after that (`_once_taught`)."""
        if not (config.kafka.enabled and config.kafka.sasl):
            return None
        generation = self._rotation.get(KAFKA_SASL, 0)
        login, previous = alternating_logins(KAFKA_SASL_USER, f"{self._name}-kafka-password", opts, generation)
        data = {USERNAME_KEY: login.username, PASSWORD_KEY: login.password}
        if previous is not None:
            data |= {PREVIOUS_USERNAME_KEY: previous.username, PREVIOUS_PASSWORD_KEY: previous.password}
        self._secret("kafka", data, opts)
        return login

    def _backup_volumes(
        self, config: DataTierConfig, delete_data_on_destroy: bool, opts: pulumi.ResourceOptions
    ) -> list[k8s.core.v1.PersistentVolumeClaim]:
        """Backup volumes outlive `pulumi destroy` unless deleteDataOnDestroy. Pulumi owns these claims
        outright, so a bigger size is an in-place update of the claim (volume expansion)."""
        keep = pulumi.ResourceOptions(retain_on_delete=not delete_data_on_destroy)
        claims = backup_claims(config)
        volumes = [
            k8s.core.v1.PersistentVolumeClaim(
                f"{self._name}-{claim}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=claim,
                    namespace=self.namespace,
                    labels=standard_labels(COMPONENT, {"app.kubernetes.io/instance": RELEASE}),
                ),
                spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                    access_modes=["ReadWriteOnce"],
                    storage_class_name=config.storageClass,
                    resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": size}),
                ),
                opts=pulumi.ResourceOptions.merge(opts, keep),
            )
            for claim, size in sorted(claims.items())
        ]
        return volumes

    # --- endpoints -----------------------------------------------------------------------------------------

    def _host(self, service: str) -> pulumi.Output[str]:
        # Resolves only once the chart's objects exist: consumers that wait on a host wait on the chart.
        host = service_host(service, self._namespace_name)
        return self.chart.resources.apply(lambda _: host)

    def _endpoint(
        self,
        *,
        host: pulumi.Output[str],
        port: int,
        database: str,
        username: str,
        secret: str,
        password: pulumi.Output[str],
        url: pulumi.Output[str],
    ) -> DatabaseEndpoint:
        return DatabaseEndpoint(
            host=host,
            port=pulumi.Output.from_input(port),
            database=pulumi.Output.from_input(database),
            username=pulumi.Output.from_input(username),
            namespace=self.namespace,
            secret_name=pulumi.Output.from_input(secret),
            secret_key=pulumi.Output.from_input(PASSWORD_KEY if secret else ""),
            password=password,
            url=url,
        )

    def _database_endpoint(self, kind: DatabaseKind, db: str, login: Login) -> DatabaseEndpoint:
        """A MongoDB or PostgreSQL database: its client Service, its active login, and a URL with its password."""
        component = kind.component(db)
        database = kind.databases[db][0]
        username, password = login.username, self._once_taught(component, login.password)
        host = self._host(f"{component}-{kind.client_service}")
        params = [f"replicaSet={replica_set_name(db)}"] if kind.names_replica_set else []
        # With TLS on, clients verify the server's certificate and name (its CA: the stack output `tls`).
        if self._tls.enabled:
            params.append("tls=true" if kind is MONGODB else "sslmode=verify-full")
        query = "&".join(params)
        return self._endpoint(
            host=host,
            port=kind.port,
            database=database,
            username=username,
            secret=secret_name(component),
            password=password,
            url=connection_url(kind.scheme, username, password, host, kind.port, database, query),
        )

    def _redis_endpoint(self, password: pulumi.Output[str]) -> DatabaseEndpoint:
        """`redis://` while TLS is off; with it on, `rediss://` on the port that serves TLS (redis_client_port)."""
        host = self._host("redis-service")
        port = redis_client_port(self._tls)
        return self._endpoint(
            host=host,
            port=port,
            database="",
            username="",
            secret=secret_name("redis"),
            password=password,
            url=connection_url("rediss" if self._tls.enabled else "redis", None, password, host, port),
        )

    def _kafka_endpoint(self, config: DataTierConfig, login: Login | None) -> KafkaEndpoint:
        """Kafka clients take a bootstrap list, not a URL: `url` (and `bootstrap_servers`) is
        `kafka-service...:9092`, never secret (SASL credentials travel separately, in `kafka-secret`)."""
        host = self._host("kafka-service")
        port = kafka_client_port(self._tls)
        brokers = host.apply(lambda h: f"{h}:{port}")
        endpoint = self._endpoint(
            host=host,
            port=port,
            database="",
            username=login.username if login else "",
            secret=secret_name("kafka") if login else "",
            # After the chart: the brokers have rolled and know the login (see `_kafka_credentials`).
            password=once_in(self.chart, login.password) if login else pulumi.Output.secret(""),
            url=brokers,
        )
        return KafkaEndpoint(**vars(endpoint), bootstrap_servers=brokers)
