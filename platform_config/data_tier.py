"""Configuration of the NexusCommerce data tier (issue 3) (`nexus-platform:dataTier`).

The data tier is a fixed set of databases (the specification names them and the application services
are written against those names): MongoDB `cart` and `user`; PostgreSQL `product`, `payment`, `order`,
`loyalty` and `shipping`; Redis; Kafka with ZooKeeper. Each kind has defaults (`replicas`, `resources`,
`storageSize`) that every database of that kind inherits and may override on its own, so a stack file
sizes the common case once and the exceptions by name.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from .backups import BucketConfig
from .base import DatabaseReplicas, DnsLabel, ImageTag, PodAntiAffinity, Resources, StorageSize, StrictModel
from .monitoring import MonitoringConfig

# The databases the specification names, each with its database name and service user (the application
# services are written against these): name -> (database, user).
MONGODB_DATABASES = {"cart": ("cartdb", "cartservice"), "user": ("userdb", "userservice")}
POSTGRES_DATABASES = {
    "product": ("productdb", "productservice"),
    "payment": ("paymentdb", "paymentservice"),
    "order": ("orderdb", "orderservice"),
    "loyalty": ("loyalty-service", "loyaltyservice"),
    "shipping": ("shippingdb", "shippingservice"),
}

# A StatefulSet of zero pods is a database that is off: say so with `enabled: false` instead.
Replicas = DatabaseReplicas
RetentionDays = Annotated[int, Field(ge=1, le=3650, strict=True)]

_CRON_FIELD = r"(\*|[0-9]+(-[0-9]+)?)(/[0-9]+)?(,(\*|[0-9]+(-[0-9]+)?)(/[0-9]+)?)*"
_CRON = re.compile(rf"^{_CRON_FIELD}( {_CRON_FIELD}){{4}}$")
_LABEL_KEY = re.compile(r"^([a-z0-9.-]{1,253}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


class AllowedPeer(StrictModel):
    """Who may connect to one database under the strict network policy: pods in `namespace`, optionally
    only those carrying every label in `podLabels`."""

    namespace: DnsLabel
    podLabels: dict[str, str] = Field(default_factory=dict)

    @field_validator("podLabels")
    @classmethod
    def _label_keys(cls, labels: dict[str, str]) -> dict[str, str]:
        bad = [key for key in labels if not _LABEL_KEY.match(key)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a Kubernetes label key (e.g. app.kubernetes.io/name)")
        return labels


class DatabaseSettings(StrictModel):
    """One database's own settings; anything unset is inherited from its kind's defaults."""

    enabled: bool = True
    replicas: Replicas | None = None
    resources: Resources | None = None
    storageSize: StorageSize | None = None
    # Strict network policy only: who may connect to this database.
    allowFrom: list[AllowedPeer] = Field(default_factory=list)


class ResolvedDatabase(StrictModel):
    """A database's effective settings: its own, else its kind's."""

    enabled: bool
    replicas: int
    resources: Resources
    storageSize: str
    allowFrom: list[AllowedPeer]


class _DatabaseKind(StrictModel):
    """Defaults shared by every database of one kind (MongoDB or PostgreSQL)."""

    enabled: bool = True
    replicas: Replicas = 1
    storageSize: StorageSize = "2Gi"
    resources: Resources = Field(default_factory=lambda: Resources.of("100m", "256Mi", "500m", "512Mi"))
    databases: dict[str, DatabaseSettings] = Field(default_factory=dict)

    NAMES: ClassVar[tuple[str, ...]] = ()
    KIND: ClassVar[str] = ""

    @model_validator(mode="before")
    @classmethod
    def _known_databases(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("databases"), dict):
            unknown = sorted(set(data["databases"]) - set(cls.NAMES))
            if unknown:
                raise ValueError(
                    f"unknown {cls.KIND} database {unknown[0]!r} in databases: "
                    f"the data tier has exactly {', '.join(cls.NAMES)}"
                )
        return data

    def resolved(self) -> dict[str, ResolvedDatabase]:
        """Every database of this kind with its effective settings (disabled ones included)."""
        resolved = {}
        for name in self.NAMES:
            own = self.databases.get(name, DatabaseSettings())
            resolved[name] = ResolvedDatabase(
                enabled=self.enabled and own.enabled,
                replicas=own.replicas or self.replicas,
                resources=own.resources or self.resources,
                storageSize=own.storageSize or self.storageSize,
                allowFrom=own.allowFrom,
            )
        return resolved


class MongoDbConfig(_DatabaseKind):
    """MongoDB replica sets for the cart and user services (`databases.cart`, `databases.user`)."""

    NAMES: ClassVar[tuple[str, ...]] = tuple(MONGODB_DATABASES)
    KIND: ClassVar[str] = "MongoDB"


class PostgresDbConfig(_DatabaseKind):
    """One PostgreSQL StatefulSet per service: pod 0 is the primary, the others streaming standbys."""

    NAMES: ClassVar[tuple[str, ...]] = tuple(POSTGRES_DATABASES)
    KIND: ClassVar[str] = "PostgreSQL"


class RedisConfig(StrictModel):
    """Redis with auth: pod 0 is the primary behind `redis-service`, the others read replicas."""

    enabled: bool = True
    replicas: Replicas = 1
    storageSize: StorageSize = "1Gi"
    resources: Resources = Field(default_factory=lambda: Resources.of("50m", "128Mi", "250m", "256Mi"))
    allowFrom: list[AllowedPeer] = Field(default_factory=list)


class ZooKeeperConfig(StrictModel):
    """The ZooKeeper ensemble Kafka coordinates through. An odd size keeps a quorum through one loss."""

    replicas: Replicas = 1
    storageSize: StorageSize = "1Gi"
    resources: Resources = Field(default_factory=lambda: Resources.of("50m", "256Mi", "250m", "512Mi"))

    @field_validator("replicas")
    @classmethod
    def _odd(cls, replicas: int) -> int:
        if replicas % 2 == 0:
            raise ValueError(f"a ZooKeeper ensemble needs an odd number of servers (1, 3, 5), not {replicas}")
        return replicas


class KafkaConfig(StrictModel):
    """Kafka brokers (`kafka-service:9092`) and their ZooKeeper ensemble."""

    enabled: bool = True
    replicas: Replicas = 1
    storageSize: StorageSize = "2Gi"
    resources: Resources = Field(default_factory=lambda: Resources.of("100m", "512Mi", "500m", "1Gi"))
    # SASL/PLAIN on the broker listener, with a generated password in the `kafka-secret` Secret.
    sasl: bool = False
    allowFrom: list[AllowedPeer] = Field(default_factory=list)
    zookeeper: ZooKeeperConfig = Field(default_factory=ZooKeeperConfig)


class NetworkPolicyConfig(StrictModel):
    """`off`; `basic`: only `allowedNamespaces` (the apps) may connect to any database; `strict`: each
    database accepts only its own `allowFrom` list. The data tier's own pods (replication, backups,
    Kafka to ZooKeeper) are always allowed."""

    mode: Literal["off", "basic", "strict"] = "off"
    allowedNamespaces: list[DnsLabel] = Field(default_factory=list)

    @model_validator(mode="after")
    def _basic_needs_namespaces(self) -> NetworkPolicyConfig:
        if self.mode == "basic" and not self.allowedNamespaces:
            raise ValueError("mode 'basic' needs allowedNamespaces: the namespaces whose pods may connect")
        return self


class PointInTimeImage(StrictModel):
    """PostgreSQL with pgBackRest: ours, built from images/postgres-pitr/Dockerfile into the registry (the
    official image has no pgBackRest). Used only when point-in-time recovery is on."""

    repository: str = "registry.nexus.example.com/postgres-pitr"
    tag: ImageTag = "17.6-1"


class PointInTimeConfig(StrictModel):
    """Continuous WAL archiving of our five PostgreSQL databases with pgBackRest, into the backup bucket, and a
    nightly base backup beside the dump, so `restore --to-time` can replay to any moment (docs/backups.md)."""

    enabled: bool = False
    image: PointInTimeImage = Field(default_factory=PointInTimeImage)
    # archive_timeout: the longest a finished transaction waits before its WAL segment is shipped, i.e. the most
    # that losing a primary's volume can lose.
    archiveTimeoutSeconds: Annotated[int, Field(ge=10, le=3600, strict=True)] = 60


class BackupConfig(StrictModel):
    """Scheduled dumps (mongodump, pg_dump, a Redis RDB snapshot) onto one backup PVC per database, shipped
    to an S3-compatible `bucket` (and an `offsite` one) when the stack names them (platform_config/backups.py)."""

    enabled: bool = False
    schedule: str = "0 2 * * *"
    # Dumps older than this many days are deleted after each run, on the volume and in every bucket;
    # unset keeps every dump.
    retentionDays: RetentionDays | None = None
    storageSize: StorageSize = "10Gi"
    bucket: BucketConfig | None = None
    offsite: BucketConfig | None = None
    pointInTime: PointInTimeConfig = Field(default_factory=PointInTimeConfig)

    @model_validator(mode="after")
    def _point_in_time_archives_to_the_bucket(self) -> BackupConfig:
        if not self.pointInTime.enabled:
            return self
        if not self.enabled:
            raise ValueError("pointInTime.enabled needs enabled: true (its base backups run in the backup CronJobs)")
        if self.bucket is None:
            raise ValueError("pointInTime.enabled needs bucket: the WAL archive and base backups are kept there")
        # The WAL archive goes to the off-site bucket too (a second pgBackRest repository).
        for key, bucket in (("bucket", self.bucket), ("offsite", self.offsite)):
            if bucket is not None and not bucket.endpoint.startswith("https://"):
                raise ValueError(
                    f"pointInTime.enabled needs an https:// {key}.endpoint, not {bucket.endpoint!r}: "
                    "pgBackRest talks to S3 over TLS only"
                )
        return self

    @model_validator(mode="after")
    def _offsite_is_a_second_copy(self) -> BackupConfig:
        if self.offsite is None:
            return self
        if self.bucket is None:
            raise ValueError("offsite is a second copy of the bucket's backups: set bucket too")
        same = (self.offsite.endpoint, self.offsite.bucket) == (self.bucket.endpoint, self.bucket.bucket)
        if same:
            raise ValueError(f"offsite names the same bucket as bucket ({self.bucket.bucket!r}): use another")
        return self

    @field_validator("schedule")
    @classmethod
    def _cron(cls, schedule: str) -> str:
        if not _CRON.match(schedule):
            raise ValueError(f"{schedule!r} is not a five-field cron schedule such as '0 2 * * *'")
        return schedule


class Image(StrictModel):
    repository: str
    tag: ImageTag


class DataTierImages(StrictModel):
    """Official images, pinned. Each runs as its image's own non-root user (see the chart's README)."""

    mongodb: Image = Image(repository="docker.io/library/mongo", tag="7.0.14")
    postgres: Image = Image(repository="docker.io/library/postgres", tag="17.6")
    redis: Image = Image(repository="docker.io/library/redis", tag="7.4.2")
    kafka: Image = Image(repository="docker.io/confluentinc/cp-kafka", tag="7.9.0")
    zookeeper: Image = Image(repository="docker.io/confluentinc/cp-zookeeper", tag="7.9.0")
    mongodbExporter: Image = Image(repository="docker.io/percona/mongodb_exporter", tag="0.43.1")
    postgresExporter: Image = Image(repository="quay.io/prometheuscommunity/postgres-exporter", tag="v0.17.1")
    redisExporter: Image = Image(repository="docker.io/oliver006/redis_exporter", tag="v1.67.0")
    kafkaExporter: Image = Image(repository="docker.io/danielqsj/kafka-exporter", tag="v1.9.0")


class DataTierConfig(StrictModel):
    """The whole data tier of one stack."""

    enabled: bool = False
    namespace: DnsLabel = "data"
    storageClass: str | None = None
    podAntiAffinity: PodAntiAffinity = "none"
    podDisruptionBudget: bool = False
    networkPolicy: NetworkPolicyConfig = Field(default_factory=NetworkPolicyConfig)
    backup: BackupConfig = Field(default_factory=BackupConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    images: DataTierImages = Field(default_factory=DataTierImages)
    mongodb: MongoDbConfig = Field(default_factory=MongoDbConfig)
    postgres: PostgresDbConfig = Field(default_factory=PostgresDbConfig)
    redis: RedisConfig = Field(default_factory=RedisConfig)
    kafka: KafkaConfig = Field(default_factory=KafkaConfig)

    @model_validator(mode="after")
    def _strict_policy_has_allow_lists(self) -> DataTierConfig:
        if self.networkPolicy.mode != "strict" or not self.enabled:
            return self
        missing = [key for key, peers in self.allow_lists().items() if not peers]
        if missing:
            raise ValueError(
                "networkPolicy.mode is 'strict' but these enabled databases have no allowFrom list "
                f"(nothing outside the data tier could connect): {', '.join(missing)}"
            )
        return self

    def allow_lists(self) -> dict[str, list[AllowedPeer]]:
        """The allowFrom list of every enabled database, keyed by its config path."""
        lists = {
            f"{kind}.databases.{name}.allowFrom": db.allowFrom
            for kind, dbs in (("mongodb", self.mongodb.resolved()), ("postgres", self.postgres.resolved()))
            for name, db in dbs.items()
            if db.enabled
        }
        if self.redis.enabled:
            lists["redis.allowFrom"] = self.redis.allowFrom
        if self.kafka.enabled:
            lists["kafka.allowFrom"] = self.kafka.allowFrom
        return lists
