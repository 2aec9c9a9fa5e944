"""Configuration of the Bitnami PostgreSQL clusters (`nexus-platform:postgresClusters`, `:postgresChart`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr, field_validator

from .base import DnsLabel, PodAntiAffinity, ReadReplicaCount, Resources, StorageSize, StrictModel, Switchable
from .monitoring import MonitoringConfig

# The upstream chart version this program is written against (values keys, Secret keys, Service names).
BITNAMI_POSTGRESQL_CHART_VERSION = "16.7.26"
BITNAMI_POSTGRESQL_OCI_REPOSITORY = "oci://registry-1.docker.io/bitnamicharts/postgresql"


class PostgresChartSource(StrictModel):
    """Where the Bitnami chart comes from: its OCI registry (default), a mirror, or a local chart path.

    Air-gapped users point `repository` at their mirror (`oci://mirror.example.com/bitnamicharts/postgresql`)
    or `path` at an unpacked chart or `.tgz`. The version stays pinned: the program relies on 16.7.26's
    values and object names.
    """

    repository: str = BITNAMI_POSTGRESQL_OCI_REPOSITORY
    path: str | None = None
    version: Literal["16.7.26"] = BITNAMI_POSTGRESQL_CHART_VERSION

    @property
    def chart(self) -> str:
        return self.path or self.repository


class PostgresImage(StrictModel):
    """The PostgreSQL image. Bitnami moved versioned images out of docker.io/bitnami in 2025; the
    `bitnamilegacy` repository still serves the tags chart 16.7.26 was released with."""

    registry: str = "docker.io"
    repository: str = "bitnamilegacy/postgresql"
    # Not ImageTag: this tag is where the policy pack's images-pinned rule is shown to work in the engine
    # tier (mandatory in staging/prod, advisory in dev), so the config leaves it to the pack.
    tag: str = "17.6.0-debian-12-r0"
    exporterRepository: str = "bitnamilegacy/postgres-exporter"
    exporterTag: str = "0.17.1-debian-12-r15"


class PostgresExposure(Switchable):
    """Optional LoadBalancer services with external-dns names: `<hostname>` (writer), `reader-<hostname>`."""

    KEY: ClassVar[str] = "expose"
    NEEDED_WHEN_ENABLED: ClassVar[dict[str, str]] = {"hostname": ""}

    hostname: str | None = None


class PostgresClusterConfig(StrictModel):
    """One PostgreSQL cluster: a primary (the writer) and `readReplicaCount` streaming read replicas."""

    namespace: DnsLabel | None = None
    database: str = Field("postgres", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    username: str = Field("postgres", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    # Set with `pulumi config set --secret --path postgresClusters.<name>.password`; generated when absent.
    password: SecretStr | None = None
    instanceType: str | None = None
    storageSize: StorageSize = "20Gi"
    storageClass: str | None = None
    readReplicaCount: ReadReplicaCount = 0
    resources: Resources = Field(default_factory=lambda: Resources.of("250m", "256Mi", "1", "1Gi"))
    podAntiAffinity: PodAntiAffinity = "soft"
    podDisruptionBudget: bool = False
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    networkPolicy: bool = False
    expose: PostgresExposure = Field(default_factory=PostgresExposure)
    image: PostgresImage = Field(default_factory=PostgresImage)

    @field_validator("monitoring")
    @classmethod
    def _dashboards_come_from_the_data_tier(cls, monitoring: MonitoringConfig) -> MonitoringConfig:
        if monitoring.dashboards:
            raise ValueError(
                "dashboards is not a setting of a Bitnami cluster: set dataTier.monitoring.dashboards, whose "
                "PostgreSQL dashboard has a namespace variable that covers this cluster's namespace"
            )
        return monitoring

    @property
    def is_replicated(self) -> bool:
        return self.readReplicaCount > 0
