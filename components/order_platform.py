"""OrderPlatform: the event-sourced order platform's three services in namespace `order-platform`.

- api-gateway (public, behind an nginx Ingress with a cert-manager certificate and a rate limit) routes
  commands to order-command-service and queries to order-query-service;
- order-command-service appends events to the `orders` PostgreSQL cluster through its **writer** endpoint
  (it is the only writer, and replaying an aggregate must read its own writes) and publishes them to Kafka;
- order-query-service materialises read models from Kafka (Kafka Streams, exactly_once_v2) into
  Elasticsearch and keeps its RocksDB state stores on volumes where the stack asks for it.

Nothing in the platform reads PostgreSQL without writing: the query side reads Elasticsearch, so the
cluster's reader endpoint is not wired here.

Credentials reach the pods only through Secrets this component creates in the platform's namespace (a
secretKeyRef cannot cross namespaces): the event-store password is copied from the endpoint's `password`
Output, the Keycloak client secret and the Elasticsearch password come from secret stack config or, where
the stack allows it, pulumi-random. Each chart is handed its Secret's name (`existingSecret`), so no
credential is ever part of chart values or a ConfigMap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from platform_config.base import Environment
from platform_config.monitoring import ScrapeConfig
from platform_config.order_platform import OrderPlatformConfig, ServiceSizing
from platform_config.security import TlsConfig

from .certificates import client_certificate, tls_secret_name
from .endpoints import DatabaseEndpoint
from .helm import deploy_chart, local_chart
from .kubernetes import create_namespace, service_host, standard_labels
from .outputs import Exported, Exporting, camel_case
from .secrets import as_secret, opaque_secret, password_or_generated, secret_checksum

GATEWAY = "api-gateway"
COMMAND_SERVICE = "order-command-service"
QUERY_SERVICE = "order-query-service"
SERVICES = (GATEWAY, COMMAND_SERVICE, QUERY_SERVICE)
SERVICE_PORT = 80
TLS_SECRET = "api-gateway-tls"
# Secret keys the charts read (each chart's "<chart>.secretKeys" helper).
KEYCLOAK_CLIENT_SECRET_KEY = "keycloak-client-secret"
POSTGRES_PASSWORD_KEY = "postgres-password"
ELASTICSEARCH_PASSWORD_KEY = "elasticsearch-password"


@dataclass(frozen=True)
class OrderPlatformArgs:
    """The validated `orderPlatform` section plus typed wiring from the data systems.

    `event_store` is the `orders` PostgresCluster's writer endpoint; `kafka_bootstrap_servers` is the data
    tier's Kafka (NexusDatabase.kafka_bootstrap_servers). `database_resources` and `kafka_resources` are
    what deploys them: the services are deployed only after those exist. A `None` credential is generated
    (the config layer allows that only where `generateMissingSecrets` is true).
    """

    config: OrderPlatformConfig
    environment: Environment
    event_store: DatabaseEndpoint
    kafka_bootstrap_servers: pulumi.Input[str]
    keycloak_client_secret: pulumi.Input[str] | None = None
    elasticsearch_password: pulumi.Input[str] | None = None
    database_resources: Sequence[pulumi.Resource] = ()
    kafka_resources: Sequence[pulumi.Resource] = ()
    delete_data_on_destroy: bool = False
    # The stack's TLS (platform_config.security): with it on, the services verify the event store and Kafka.
    tls: TlsConfig = field(default_factory=TlsConfig)


@dataclass(frozen=True)
class ServiceWiring:
    """What one chart needs from outside its config: its Secret's name and the addresses it talks to.
    Plain strings in render tests, Outputs in the component."""

    secret_name: str
    postgres_host: pulumi.Input[str] = ""
    postgres_port: pulumi.Input[int] = 5432
    postgres_database: pulumi.Input[str] = ""
    postgres_user: pulumi.Input[str] = ""
    kafka_bootstrap_servers: pulumi.Input[str] = ""
    # Checksum of the Secret `secret_name` (the chart's secretChecksums), so pods roll when a credential changes.
    secret_checksum: pulumi.Input[str] | None = None
    # With TLS on: the Secret (the platform's cert-manager Certificate in its namespace) whose ca.crt the service
    # verifies the servers it connects to against.
    ca_secret: str | None = None


def credentials_secret_name(service: str) -> str:
    return f"{service}-credentials"


def internal_url(service: str, namespace: str) -> str:
    return f"http://{service_host(service, namespace)}"


def gateway_url(config: OrderPlatformConfig) -> str:
    return f"https://{config.gateway.hostname}"


# Which `orderPlatform` section sizes each service.
SIZING_SECTIONS = {GATEWAY: "gateway", COMMAND_SERVICE: "commandService", QUERY_SERVICE: "queryService"}


def _sizing(service: str, config: OrderPlatformConfig) -> ServiceSizing:
    return getattr(config, SIZING_SECTIONS[service])


def _common_values(
    service: str, config: OrderPlatformConfig, environment: Environment, wiring: ServiceWiring
) -> dict[str, Any]:
    sizing = _sizing(service, config)
    autoscaling = sizing.maxReplicas is not None and sizing.maxReplicas > sizing.replicas
    return {
        "environment": environment.value,
        # Object names are the release name (= chart name): stable, and what the other services call.
        "fullnameOverride": service,
        "replicaCount": sizing.replicas,
        "image": {
            "registry": config.image.registry,
            "repository": f"order-platform/{service}",
            "tag": config.image.tag,
        },
        "resources": sizing.resources.to_kubernetes(),
        "autoscaling": {
            "enabled": autoscaling,
            "maxReplicas": sizing.maxReplicas or sizing.replicas,
            "targetCPUUtilizationPercentage": 70,
        },
        "podDisruptionBudget": {"enabled": config.podDisruptionBudget, "minAvailable": max(1, sizing.replicas - 1)},
        "podAntiAffinity": config.podAntiAffinity,
        "networkPolicy": {"enabled": config.networkPolicy},
        **_monitoring(config.monitoring),
        "otel": {
            "enabled": config.telemetry.enabled,
            "endpoint": config.telemetry.endpoint,
            "samplingRatio": config.telemetry.samplingRatio,
        },
        "existingSecret": wiring.secret_name,
        "secretChecksums": {wiring.secret_name: wiring.secret_checksum} if wiring.secret_checksum else {},
        **({"tls": {"enabled": True, "caSecret": wiring.ca_secret}} if wiring.ca_secret else {}),
    }


def _auth(config: OrderPlatformConfig, client_id: str) -> dict[str, Any]:
    return {
        "logLevel": config.logLevel,
        "logFormat": "json",
        "keycloakUrl": config.keycloak.url,
        "keycloakRealm": config.keycloak.realm,
        "keycloakClientId": client_id,
    }


def chart_values(
    service: str,
    config: OrderPlatformConfig,
    environment: Environment,
    wiring: ServiceWiring,
    delete_data_on_destroy: bool = False,
) -> dict[str, Any]:
    """The values handed to one service's chart. Pure, so render tests feed helm the very same dict."""
    values = _common_values(service, config, environment, wiring)
    if service == GATEWAY:
        gateway = config.gateway
        values["config"] = {
            **_auth(config, GATEWAY),
            "commandServiceUrl": internal_url(COMMAND_SERVICE, config.namespace),
            "queryServiceUrl": internal_url(QUERY_SERVICE, config.namespace),
            "rateLimitRequestsPerMinute": gateway.rateLimitRequestsPerMinute,
        }
        values["ingress"] = {
            "enabled": True,
            "className": gateway.ingressClassName,
            "clusterIssuer": gateway.clusterIssuer,
            "hosts": [{"host": gateway.hostname, "paths": [{"path": "/", "pathType": "Prefix"}]}],
            "tls": [{"secretName": TLS_SECRET, "hosts": [gateway.hostname]}],
        }
    elif service == COMMAND_SERVICE:
        values["config"] = {
            **_auth(config, COMMAND_SERVICE),
            "postgresHost": wiring.postgres_host,
            "postgresPort": wiring.postgres_port,
            "postgresDatabase": wiring.postgres_database,
            "postgresUser": wiring.postgres_user,
            "kafkaBootstrapServers": wiring.kafka_bootstrap_servers,
            "snapshotInterval": config.commandService.snapshotInterval,
        }
    elif service == QUERY_SERVICE:
        query = config.queryService
        values["config"] = {
            **_auth(config, QUERY_SERVICE),
            "kafkaBootstrapServers": wiring.kafka_bootstrap_servers,
            "kafkaApplicationId": query.applicationId or f"{QUERY_SERVICE}-{environment.value}",
            "kafkaProcessingGuarantee": "exactly_once_v2",
            "elasticsearchHosts": list(config.elasticsearch.hosts),
            "elasticsearchIndexName": config.elasticsearch.indexName,
            "elasticsearchUsername": config.elasticsearch.username,
        }
        values["persistence"] = {
            "enabled": query.persistence.enabled,
            "size": query.persistence.size,
            "storageClass": query.persistence.storageClass or "",
            # State-store volumes outlive the StatefulSet unless the stack opted into deleting data.
            "whenDeleted": "Delete" if delete_data_on_destroy else "Retain",
        }
    else:
        raise ValueError(f"unknown order-platform service {service!r}: expected one of {', '.join(SERVICES)}")
    return values


def _once_deployed(chart: k8s.helm.v4.Chart, value: str) -> pulumi.Output[str]:
    """`value`, resolving only once the chart's objects exist."""
    return chart.resources.apply(lambda _: value)


class OrderPlatform(Exporting, pulumi.ComponentResource):
    """api-gateway, order-command-service and order-query-service, with their credentials in Secrets.

    Its stack outputs (`orderPlatform`) are the `Exported` attributes, by their camelCase names: the public
    URL and the in-cluster URLs (keyed by the camelCase service name). No credentials.
    """

    namespace: Exported[pulumi.Output[str]]
    gateway_url: Exported[pulumi.Output[str]]
    internal_urls: Exported[dict[str, pulumi.Output[str]]]

    def __init__(self, name: str, args: OrderPlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("nexus:orders:OrderPlatform", name, None, opts)
        child_opts = pulumi.ResourceOptions(parent=self)
        config = args.config
        persistent = config.queryService.persistence.enabled

        namespace = create_namespace(
            f"{name}-namespace",
            config.namespace,
            "order-platform",
            # The query service's state-store volumes live here when persistence is on.
            holds_data=persistent,
            delete_data_on_destroy=args.delete_data_on_destroy,
            opts=child_opts,
        )
        keycloak_secret = password_or_generated(
            args.keycloak_client_secret, f"{name}-keycloak-client-secret", child_opts
        )
        elasticsearch_password = password_or_generated(
            args.elasticsearch_password, f"{name}-elasticsearch-password", child_opts
        )
        secrets = {
            GATEWAY: {KEYCLOAK_CLIENT_SECRET_KEY: keycloak_secret},
            COMMAND_SERVICE: {
                POSTGRES_PASSWORD_KEY: as_secret(args.event_store.password),
                KEYCLOAK_CLIENT_SECRET_KEY: keycloak_secret,
            },
            QUERY_SERVICE: {
                ELASTICSEARCH_PASSWORD_KEY: elasticsearch_password,
                KEYCLOAK_CLIENT_SECRET_KEY: keycloak_secret,
            },
        }
        credentials = {
            service: opaque_secret(
                f"{name}-{service}-credentials",
                name=credentials_secret_name(service),
                namespace=namespace.metadata.name,
                labels=standard_labels("order-platform", {"app.kubernetes.io/name": service}),
                data=data,
                opts=child_opts,
            )
            for service, data in secrets.items()
        }

        endpoint = args.event_store
        checksums = {service: secret_checksum(data) for service, data in secrets.items()}
        # With TLS on, one Certificate for the namespace: its Secret brings the stack's CA to the services.
        trust = (
            [
                client_certificate(
                    f"{name}-certificate",
                    name=name,
                    namespace=namespace.metadata.name,
                    tls=args.tls,
                    labels=standard_labels("order-platform"),
                    opts=child_opts,
                )
            ]
            if args.tls.enabled
            else []
        )
        ca_secret = tls_secret_name(name) if trust else None
        wiring = {
            GATEWAY: ServiceWiring(credentials_secret_name(GATEWAY), secret_checksum=checksums[GATEWAY]),
            COMMAND_SERVICE: ServiceWiring(
                credentials_secret_name(COMMAND_SERVICE),
                postgres_host=endpoint.host,
                postgres_port=endpoint.port,
                postgres_database=endpoint.database,
                postgres_user=endpoint.username,
                kafka_bootstrap_servers=args.kafka_bootstrap_servers,
                secret_checksum=checksums[COMMAND_SERVICE],
                ca_secret=ca_secret,
            ),
            QUERY_SERVICE: ServiceWiring(
                credentials_secret_name(QUERY_SERVICE),
                kafka_bootstrap_servers=args.kafka_bootstrap_servers,
                secret_checksum=checksums[QUERY_SERVICE],
                ca_secret=ca_secret,
            ),
        }
        # Each service starts only once what it talks to exists.
        upstream = {
            GATEWAY: [],
            COMMAND_SERVICE: [*args.database_resources, *args.kafka_resources, *trust],
            QUERY_SERVICE: [*args.kafka_resources, *trust],
        }
        self.charts = {}
        for service in SERVICES:
            values = chart_values(
                service, config, args.environment, wiring[service], delete_data_on_destroy=args.delete_data_on_destroy
            )
            self.charts[service] = deploy_chart(
                f"{name}-{service}",
                chart=local_chart(service),
                release_name=service,
                namespace=namespace.metadata.name,
                values=values,
                depends_on=[credentials[service], *upstream[service]],
                opts=child_opts,
            )

        self.namespace = namespace.metadata.name
        # URLs resolve once the charts' objects exist, so consumers that wait on them wait on the services.
        public = gateway_url(config)
        self.gateway_url = _once_deployed(self.charts[GATEWAY], public)
        self.internal_urls = {
            camel_case(service): _once_deployed(self.charts[service], internal_url(service, config.namespace))
            for service in SERVICES
        }
        self.register_outputs(self.outputs())


def _monitoring(monitoring: ScrapeConfig) -> dict[str, Any]:
    """The chart's `metrics` objects the stack turns on (nothing when none is, so dev passes what it did)."""
    labels = dict(monitoring.selectorLabels)
    objects = {
        key: {"enabled": True, "labels": labels}
        for key, on in (("serviceMonitor", monitoring.serviceMonitor), ("prometheusRule", monitoring.prometheusRule))
        if on
    }
    return {"metrics": objects} if objects else {}
