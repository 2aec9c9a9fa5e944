"""The whole stack configuration: read once from Pulumi, validated into one typed `PlatformConfig`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pulumi
from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator, model_validator

from .base import PROJECT, ConfigError, DnsLabel, Environment, StrictModel, config_error
from .core_pipeline import CorePipelineConfig, check_dependencies
from .data_tier import DataTierConfig
from .fluxion import FluxionConfig
from .kubernetes import KubernetesTarget
from .operator_secrets import OPERATOR_SECRET_KEYS
from .order_platform import OrderPlatformSecret, OrderPlatformSection
from .postgres import PostgresChartSource, PostgresClusterConfig
from .rotation import Generation, check_rotation
from .security import SecurityConfig

# What the config model sees of an operator secret read from Pulumi: only that it is set (the value stays
# an Output marked secret, handed to the component by `PlatformConfig.operator_secret`).
SECRET_IS_SET = "<set as a Pulumi secret>"


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
    # Credential id -> rotation generation (platform_config.rotation); unlisted credentials are at 0.
    credentialRotation: dict[str, Generation] = Field(default_factory=dict)
    # TLS in transit and audit logging (platform_config.security).
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    # The operator secrets (platform_config.operator_secrets): credentials for systems this program does not
    # deploy. Declared after orderPlatform, whose generateMissingSecrets decides whether a missing one is an error.
    orderPlatformKeycloakClientSecret: OrderPlatformSecret
    orderPlatformElasticsearchPassword: OrderPlatformSecret

    # The operator secrets as read from Pulumi (`Config.get_secret`), by key; empty when validated from a dict.
    _secret_outputs: dict[str, pulumi.Output[str]] = PrivateAttr(default_factory=dict)

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
        check_rotation(self)
        if self.dataTier.backup.pointInTime.enabled and not self.security.tls.enabled:
            raise ValueError(
                "dataTier.backup.pointInTime.enabled needs security.tls.mode enabled or required, not disabled: "
                "the backup Job reaches pgBackRest in the primary's pod over TLS with a client certificate"
            )
        return self

    def generation(self, credential: str) -> int:
        """The rotation generation of one credential (platform_config.rotation): 0 until it is rotated."""
        return self.credentialRotation.get(credential, 0)

    def operator_secret(self, key: str) -> pulumi.Input[str] | None:
        """An operator secret for a component (None when unset): the secret Output Pulumi's config gave, or
        (config validated from a dict) the plain value, which the component wraps as a secret straight away."""
        if key in self._secret_outputs:
            return self._secret_outputs[key]
        value: SecretStr | None = getattr(self, key)
        return value.get_secret_value() if value else None


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
    """Read this project's keys through `pulumi.Config`, once, and validate them.

    Every key PlatformConfig declares is read by name. The operator secrets are read with `get_secret`, so
    their values are never handled outside a secret Output: the model only learns that each is set. A
    section that holds a nested secret (`postgresClusters.<name>.password`, `fluxion.tenants[N].apiKey`,
    set with `--secret --path`) is read whole, since its shape decides what is deployed; the model types
    those leaves `SecretStr` and the components wrap them as secrets. Pulumi passes only the keys asked
    for, so a misspelt top-level key in a stack file goes unseen here (tests/unit checks the committed
    stack files' keys against the model).
    """
    config = pulumi.Config(PROJECT)
    plain = [key for key in PlatformConfig.model_fields if key not in OPERATOR_SECRET_KEYS]
    raw = {key: config.get(key) for key in plain}
    secrets = {key: config.get_secret(key) for key in OPERATOR_SECRET_KEYS}
    raw |= {key: SECRET_IS_SET for key, value in secrets.items() if value is not None}
    platform = load_platform_config({key: value for key, value in raw.items() if value is not None})
    platform._secret_outputs = {key: value for key, value in secrets.items() if value is not None}
    return platform


__all__ = ["ConfigError", "PlatformConfig", "load_platform_config", "read_stack_config"]
