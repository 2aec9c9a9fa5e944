"""Configuration of the core-pipeline service (issue 4) (`nexus-platform:corePipeline`).

Defaults are the chart's baseline (two replicas, staging-sized resources); each stack file states what
differs. Where the service's Kafka, PostgreSQL and Redis are is not configured here: `__main__.py` wires
them from the data tier and the PostgreSQL cluster named by `postgresCluster`.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Annotated, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, field_validator, model_validator

from .base import (
    PROJECT,
    AutoscaledReplicas,
    ConfigError,
    DnsLabel,
    ImageTag,
    PodAntiAffinity,
    ReplicaCount,
    Resources,
    StrictModel,
    Switchable,
)
from .data_tier import DataTierConfig
from .monitoring import ScrapeConfig

KEY = "corePipeline"
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$")
_SQL_NAME = r"^[a-z_][a-z0-9_]{0,62}$"


def _hostname(value: str) -> str:
    if not _HOSTNAME.match(value):
        raise ValueError(f"{value!r} is not a fully qualified host name such as core-pipeline.example.com")
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL such as http://tempo.observability.svc.cluster.local:4318")
    return value


Hostname = Annotated[str, AfterValidator(_hostname)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
Percent = Annotated[int, Field(ge=1, le=100, strict=True)]


class CorePipelineImage(StrictModel):
    repository: str = Field("ghcr.io/nexus-commerce/core-pipeline", min_length=1)
    tag: ImageTag = "1.4.2"
    pullPolicy: Literal["Always", "IfNotPresent"] = "IfNotPresent"


class RateLimit(StrictModel):
    enabled: bool = False
    requestsPerSecond: int = Field(50, ge=1, le=100_000, strict=True)
    burstMultiplier: int = Field(3, ge=1, le=100, strict=True)


class Cors(Switchable):
    KEY: ClassVar[str] = "cors"
    NEEDED_WHEN_ENABLED: ClassVar[dict[str, str]] = {"allowOrigins": ""}

    allowOrigins: list[str] = Field(default_factory=list)


class CorePipelineIngress(Switchable):
    """Public HTTP entry. Every Ingress terminates TLS (platform guardrail), so `tls` cannot be turned off."""

    KEY: ClassVar[str] = "ingress"
    NEEDED_WHEN_ENABLED: ClassVar[dict[str, str]] = {"hosts": ""}

    className: Literal["nginx", "traefik"] = "nginx"
    # The first host is the public URL the stack exports; the others are aliases.
    hosts: list[Hostname] = Field(default_factory=list)
    tls: bool = True
    clusterIssuer: str = Field("letsencrypt-prod", min_length=1)
    rateLimit: RateLimit = Field(default_factory=RateLimit)
    cors: Cors = Field(default_factory=Cors)
    maxBodySizeMiB: int = Field(8, ge=1, le=1024, strict=True)

    @field_validator("tls")
    @classmethod
    def _tls_always(cls, tls: bool) -> bool:
        if not tls:
            raise ValueError("may not be false: every Ingress terminates TLS (platform guardrail)")
        return tls

    @model_validator(mode="after")
    def _hosts_unique(self) -> CorePipelineIngress:
        if len(set(self.hosts)) != len(self.hosts):
            raise ValueError(f"ingress.hosts lists a host twice: {self.hosts}")
        return self


class Autoscaling(StrictModel):
    enabled: bool = False
    minReplicas: AutoscaledReplicas = 2
    maxReplicas: AutoscaledReplicas = 10
    targetCPUUtilizationPercentage: Percent = 80
    targetMemoryUtilizationPercentage: Percent = 80

    @model_validator(mode="after")
    def _bounds(self) -> Autoscaling:
        if self.minReplicas > self.maxReplicas:
            raise ValueError(f"minReplicas ({self.minReplicas}) may not exceed maxReplicas ({self.maxReplicas})")
        return self


class CorePipelineNetworkPolicy(StrictModel):
    """Egress destinations (Kafka, PostgreSQL, Redis, OTLP) are derived from the wiring, not configured."""

    enabled: bool = False
    ingressControllerNamespace: DnsLabel = "ingress-nginx"
    monitoringNamespace: DnsLabel | None = None


class CorePipelineConfig(StrictModel):
    """The core-pipeline NestJS service: one Deployment in its own namespace, its own PostgreSQL database."""

    enabled: bool = False
    namespace: DnsLabel = "core-pipeline"
    image: CorePipelineImage = Field(default_factory=CorePipelineImage)
    replicaCount: ReplicaCount = 2
    resources: Resources = Field(default_factory=lambda: Resources.of("250m", "256Mi", "500m", "512Mi"))
    nodeEnv: Literal["development", "staging", "production"] = "production"
    logLevel: Literal["debug", "info", "warn", "error"] = "info"
    # `json`: one JSON object per line (LOG_FORMAT=json) with level, time, message, context and trace ids, the
    # fields the Loki pipeline labels and parses on (docs/observability.md). Unset: the image's default format.
    logFormat: Literal["json", "text"] | None = None
    metricsEnabled: bool = True
    tracingEnabled: bool = True
    otlpEndpoint: HttpUrl = "http://tempo.observability.svc.cluster.local:4318"
    kafkaClientId: str = Field("core-pipeline", min_length=1)
    kafkaGroupId: str = Field("core-pipeline-group", min_length=1)
    # The platform PostgreSQL cluster (a key of `postgresClusters`) that hosts this service's database.
    postgresCluster: DnsLabel = "orders"
    database: str = Field("core_pipeline", pattern=_SQL_NAME)
    username: str = Field("core_pipeline", pattern=_SQL_NAME)
    featureFlags: dict[str, bool] = Field(default_factory=dict)
    ingress: CorePipelineIngress = Field(default_factory=CorePipelineIngress)
    autoscaling: Autoscaling = Field(default_factory=Autoscaling)
    podDisruptionBudget: bool = True
    podAntiAffinity: PodAntiAffinity = "soft"
    topologySpread: bool = True
    # Prometheus Operator objects (CRDs): off unless the cluster has the operator.
    monitoring: ScrapeConfig = Field(default_factory=ScrapeConfig)
    networkPolicy: CorePipelineNetworkPolicy = Field(default_factory=CorePipelineNetworkPolicy)

    @model_validator(mode="after")
    def _user_is_not_the_admin(self) -> CorePipelineConfig:
        if self.username == "postgres":
            raise ValueError("username may not be 'postgres': the service gets its own least-privileged role")
        return self


def check_dependencies(
    config: CorePipelineConfig, postgres_clusters: Collection[str], data_tier: DataTierConfig
) -> None:
    """Cross-section checks PlatformConfig cannot express per section: the service needs the data tier's Kafka
    (without SASL: the service has no Kafka credentials) and Redis, and an existing PostgreSQL cluster. Raises
    ConfigError naming the keys."""
    if not config.enabled:
        return
    problems = []
    if config.postgresCluster not in postgres_clusters:
        problems.append(
            f"{PROJECT}:{KEY}.postgresCluster = {config.postgresCluster!r}: no such cluster in postgresClusters "
            f"(defined: {', '.join(sorted(postgres_clusters)) or 'none'})"
        )
    if not (data_tier.enabled and data_tier.kafka.enabled and data_tier.redis.enabled):
        problems.append(
            f"{PROJECT}:{KEY}.enabled = True: the service needs Kafka and Redis from the data tier; set "
            f"{PROJECT}:dataTier.enabled, dataTier.kafka.enabled and dataTier.redis.enabled to true"
        )
    elif data_tier.kafka.sasl:
        problems.append(
            f"{PROJECT}:dataTier.kafka.sasl = True: core-pipeline connects to Kafka without SASL credentials; "
            f"set it to false while {PROJECT}:{KEY}.enabled is true"
        )
    if problems:
        raise ConfigError("invalid stack configuration:\n  " + "\n  ".join(problems))
