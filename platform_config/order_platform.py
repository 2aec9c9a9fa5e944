"""Configuration of the event-sourced order platform (issue 5) (`nexus-platform:orderPlatform`).

The platform is three services (api-gateway, order-command-service, order-query-service), each sized per
stack here. Two credentials belong to systems this program does not deploy (Keycloak, Elasticsearch); they
are top-level secret keys (`platform_config.operator_secrets`), set with `pulumi config set --secret`. A stack may
let the program generate them (`generateMissingSecrets`, dev only in practice); otherwise a missing one
is a configuration error that names the command to run.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, ValidationInfo, model_validator

from .base import (
    AutoscaledReplicas,
    DnsLabel,
    ImageTag,
    PodAntiAffinity,
    Resources,
    ServiceReplicas,
    StorageSize,
    StrictModel,
)
from .monitoring import ScrapeConfig
from .operator_secrets import OPERATOR_SECRETS

NAMESPACE = "order-platform"
LogLevel = Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]


_HOSTNAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$"
_URL = r"^https?://[^\s/]+(/[^\s]*)?$"


class OrderPlatformImage(StrictModel):
    """Where the three images come from: `<registry>/order-platform/<service>:<tag>`."""

    registry: str = "registry.nexus.example.com"
    tag: ImageTag = "1.0.0"


class ServiceSizing(StrictModel):
    """Replicas and resources of one service. With `maxReplicas` set, a CPU autoscaler (70% target) scales
    between `replicas` and `maxReplicas`."""

    replicas: ServiceReplicas = 1
    maxReplicas: AutoscaledReplicas | None = None
    resources: Resources = Field(default_factory=lambda: Resources.of("100m", "256Mi", "500m", "512Mi"))

    @model_validator(mode="after")
    def _ceiling_above_floor(self) -> ServiceSizing:
        if self.maxReplicas is not None and self.maxReplicas < self.replicas:
            raise ValueError(f"maxReplicas ({self.maxReplicas}) may not be below replicas ({self.replicas})")
        return self


class GatewayConfig(ServiceSizing):
    """api-gateway: its public hostname (Ingress with a cert-manager certificate) and the nginx rate limit."""

    hostname: str = Field("api.dev.orderplatform.com", max_length=253, pattern=_HOSTNAME)
    clusterIssuer: str = Field("letsencrypt-prod", min_length=1)
    ingressClassName: str = Field("nginx", min_length=1)
    rateLimitRequestsPerMinute: int = Field(100, ge=1, strict=True)


class CommandServiceConfig(ServiceSizing):
    """order-command-service: writes events to the `orders` PostgreSQL cluster (writer endpoint)."""

    snapshotInterval: int = Field(50, ge=1, strict=True)


class QueryPersistence(StrictModel):
    """RocksDB state stores on a PersistentVolumeClaim per replica (otherwise an emptyDir, rebuilt from Kafka)."""

    enabled: bool = False
    size: StorageSize = "5Gi"
    storageClass: str | None = None


class QueryServiceConfig(ServiceSizing):
    """order-query-service: Kafka Streams (exactly_once_v2) materialising orders into Elasticsearch."""

    # Defaults to order-query-service-<environment>.
    applicationId: str | None = Field(None, pattern=r"^[a-zA-Z0-9._-]{1,249}$")
    persistence: QueryPersistence = Field(default_factory=QueryPersistence)


class KeycloakConfig(StrictModel):
    url: str = Field("http://keycloak.keycloak.svc.cluster.local:8080", pattern=_URL)
    realm: str = Field("order-platform", min_length=1)


class ElasticsearchConfig(StrictModel):
    hosts: list[Annotated[str, Field(pattern=_URL)]] = Field(
        default_factory=lambda: ["http://elasticsearch.elasticsearch.svc.cluster.local:9200"], min_length=1
    )
    indexName: str = Field("orders_v1", pattern=r"^[a-z0-9][a-z0-9._-]*$")
    username: str = Field("order-query-service", min_length=1)


class TelemetryConfig(StrictModel):
    enabled: bool = True
    endpoint: str = Field("http://opentelemetry-collector.observability.svc.cluster.local:4317", pattern=_URL)
    samplingRatio: float = Field(0.1, ge=0, le=1)


class OrderPlatformConfig(StrictModel):
    """The three services of the order platform, deployed into `namespace`."""

    namespace: DnsLabel = NAMESPACE
    # When true, a missing Keycloak client secret or Elasticsearch password is generated (pulumi-random)
    # instead of stopping the program. For stacks whose Keycloak/Elasticsearch accept any value (dev).
    generateMissingSecrets: bool = False
    image: OrderPlatformImage = Field(default_factory=OrderPlatformImage)
    logLevel: LogLevel = "INFO"
    podDisruptionBudget: bool = False
    networkPolicy: bool = False
    podAntiAffinity: PodAntiAffinity = "soft"
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    # A ServiceMonitor per service (/actuator/prometheus); off unless the cluster has the Prometheus Operator.
    monitoring: ScrapeConfig = Field(default_factory=ScrapeConfig)
    keycloak: KeycloakConfig = Field(default_factory=KeycloakConfig)
    elasticsearch: ElasticsearchConfig = Field(default_factory=ElasticsearchConfig)
    gateway: GatewayConfig = Field(default_factory=GatewayConfig)
    commandService: CommandServiceConfig = Field(default_factory=CommandServiceConfig)
    queryService: QueryServiceConfig = Field(default_factory=QueryServiceConfig)

    @model_validator(mode="after")
    def _budget_leaves_room(self) -> OrderPlatformConfig:
        # A PDB keeping one pod up over a single replica would block every node drain.
        if self.podDisruptionBudget:
            single = [
                name for name in ("gateway", "commandService", "queryService") if getattr(self, name).replicas < 2
            ]
            if single:
                raise ValueError(
                    f"podDisruptionBudget needs at least 2 replicas, but {', '.join(single)} "
                    "has replicas: 1 (raise replicas or turn podDisruptionBudget off)"
                )
        return self


def _require_unless_generated(value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
    """A missing operator secret is fine only where the stack lets the program generate it."""
    platform = info.data.get("orderPlatform")
    environment = info.data.get("environment")
    if value is not None or platform is None or environment is None or platform.generateMissingSecrets:
        return value
    key = info.field_name
    raise ValueError(
        f"not set: {OPERATOR_SECRETS[key]} is required in {environment} "
        f"(orderPlatform.generateMissingSecrets is false). Set it with "
        f"`pulumi config set --secret --stack {environment} {key}` (it prompts for the value)"
    )


def _needs_kafka(value: OrderPlatformConfig, info: ValidationInfo) -> OrderPlatformConfig:
    """The services exchange events over the data tier's Kafka (plaintext listener: no SASL client yet)."""
    data_tier = info.data.get("dataTier")
    if data_tier is None:  # invalid itself, and reported as such
        return value
    if not (data_tier.enabled and data_tier.kafka.enabled):
        raise ValueError(
            "the order platform needs Kafka from the data tier: set nexus-platform:dataTier.enabled and "
            "nexus-platform:dataTier.kafka.enabled to true"
        )
    if data_tier.kafka.sasl:
        raise ValueError(
            "the order platform's services do not authenticate to Kafka with SASL: "
            "set nexus-platform:dataTier.kafka.sasl to false"
        )
    return value


# The `orderPlatform` field of PlatformConfig, declared after `dataTier` so the Kafka check can see it.
OrderPlatformSection = Annotated[OrderPlatformConfig, AfterValidator(_needs_kafka)]


def _empty_is_unset(value: object) -> object:
    # Pulumi.yaml declares the keys with default "" (a declared key without a default is mandatory).
    return None if value == "" else value


# A top-level secret config key of the order platform (declared in platform_config/stack.py).
OrderPlatformSecret = Annotated[
    SecretStr | None,
    BeforeValidator(_empty_is_unset),
    AfterValidator(_require_unless_generated),
    Field(default=None, validate_default=True),
]
