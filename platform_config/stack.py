"""The whole stack configuration: read once from Pulumi, validated into one typed `PlatformConfig`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pulumi.runtime import config as runtime_config
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator

from .base import PROJECT, ConfigError, DnsLabel, Environment, StrictModel, config_error
from .core_pipeline import CorePipelineConfig, check_dependencies
from .data_tier import DataTierConfig
from .fluxion import FluxionConfig
from .kubernetes import KubernetesTarget
from .order_platform import OrderPlatformSecret, OrderPlatformSection
from .postgres import PostgresChartSource, PostgresClusterConfig


class PlatformConfig(StrictModel):
    """Everything a stack file may say. Each field is one top-level `nexus-platform:<key>`."""

    environment: Environment
    kubernetes: KubernetesTarget = Field(default_factory=KubernetesTarget)
    # Stateful data (PVCs, the namespaces that hold them) survives `pulumi destroy` unless this is true.
    deleteDataOnDestroy: bool = False
    postgresChart: PostgresChartSource = Field(default_factory=PostgresChartSource)
    postgresClusters: dict[DnsLabel, PostgresClusterConfig]
    dataTier: DataTierConfig = Field(default_factory=DataTierConfig)
    corePipeline: CorePipelineConfig = Field(default_factory=CorePipelineConfig)
    orderPlatform: OrderPlatformSection = Field(default_factory=dict, validate_default=True)
    fluxion: FluxionConfig = Field(default_factory=FluxionConfig)
    # Order platform credentials for systems this program does not deploy (`pulumi config set --secret <key>`);
    # declared after orderPlatform, whose generateMissingSecrets decides whether a missing one is an error.
    orderPlatformKeycloakClientSecret: OrderPlatformSecret
    orderPlatformElasticsearchPassword: OrderPlatformSecret

    @field_validator("postgresClusters")
    @classmethod
    def _at_least_one_cluster(cls, clusters: dict[str, PostgresClusterConfig]) -> dict[str, PostgresClusterConfig]:
        if "orders" not in clusters:
            raise ValueError("must define the 'orders' cluster (the order platform's database)")
        return clusters

    @model_validator(mode="after")
    def _sections_fit_together(self) -> PlatformConfig:
        # Raises ConfigError itself (pydantic passes it through), naming the keys that disagree.
        check_dependencies(self.corePipeline, self.postgresClusters, self.dataTier)
        return self

    @staticmethod
    def reveal(secret: SecretStr | None) -> str | None:
        """A secret config value for a component, which wraps it as a Pulumi secret straight away."""
        return secret.get_secret_value() if secret else None


def _decode(value: Any) -> Any:
    """Pulumi hands structured config to the program as JSON text; scalars stay as given."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def load_platform_config(raw: Mapping[str, Any]) -> PlatformConfig:
    """Validate raw stack config (keys without the `nexus-platform:` prefix) into a PlatformConfig."""
    try:
        return PlatformConfig.model_validate({key: _decode(value) for key, value in raw.items()})
    except ValidationError as error:
        raise config_error("", error) from None


def read_stack_config() -> PlatformConfig:
    """Read this project's keys from the running Pulumi program's config, once, and validate them."""
    everything = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    prefix = f"{PROJECT}:"
    raw = {key.removeprefix(prefix): value for key, value in everything.items() if key.startswith(prefix)}
    return load_platform_config(raw)


__all__ = ["ConfigError", "PlatformConfig", "load_platform_config", "read_stack_config"]
