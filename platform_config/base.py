"""Shared building blocks of the stack configuration: strict models, Kubernetes quantities, errors.

Every config section is a pydantic model that forbids unknown keys, so a typo in a stack file is an
error rather than a silently ignored setting. Validation errors are turned into one `ConfigError`
that names the full config key (`nexus-platform:postgresClusters.orders.storageSize`), the value
that was given and what is allowed.
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

import pulumi
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

PROJECT = "nexus-platform"


class ConfigError(pulumi.RunError):
    """Invalid stack configuration. A RunError, so Pulumi prints the message without a stack trace."""


class Environment(StrEnum):
    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"


class StrictModel(BaseModel):
    """Base of every config section: camelCase keys as in the stack files, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=False)


# --- Kubernetes quantities -------------------------------------------------------------------------

_BINARY_SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL_SUFFIXES = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_QUANTITY = re.compile(r"^(?P<number>[0-9]+(\.[0-9]+)?)(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")
_STORAGE = re.compile(r"^[1-9][0-9]*(Mi|Gi|Ti)$")
_CPU = re.compile(r"^([0-9]+(\.[0-9]{1,3})?|[1-9][0-9]*m)$")


def quantity_to_number(quantity: str) -> Decimal:
    """The value of a Kubernetes quantity in base units (bytes, cores): `1Gi` -> 1073741824, `500m` -> 0.5."""
    match = _QUANTITY.match(quantity)
    if not match:
        raise ValueError(f"{quantity!r} is not a Kubernetes quantity")
    number, suffix = Decimal(match["number"]), match["suffix"] or ""
    if suffix == "m":
        return number / 1000
    return number * (_BINARY_SUFFIXES.get(suffix) or _DECIMAL_SUFFIXES[suffix])


def _memory(value: str) -> str:
    if not _QUANTITY.match(value) or value.endswith("m"):
        raise ValueError(
            f"{value!r} is not a Kubernetes memory quantity: use a number with a binary suffix "
            "such as 512Mi or 2Gi (not '2GB' or '2g')"
        )
    return value


def _storage(value: str) -> str:
    if not _STORAGE.match(value):
        raise ValueError(
            f"{value!r} is not a storage size: use a whole number of Mi, Gi or Ti such as 20Gi "
            "(not '20GB', '20G' or '20gi')"
        )
    return value


def _cpu(value: str | int | float) -> str:
    text = str(value)
    if not _CPU.match(text):
        raise ValueError(f"{text!r} is not a Kubernetes CPU quantity: use cores (0.5, 2) or millicores (500m)")
    return text


MemoryQuantity = Annotated[str, AfterValidator(_memory)]
StorageSize = Annotated[str, AfterValidator(_storage)]
CpuQuantity = Annotated[str | int | float, AfterValidator(_cpu)]

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a DNS label: lowercase letters, digits and '-', starting and ending "
            "with a letter or digit, at most 63 characters"
        )
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
# How strongly a workload's pods are kept off each other's nodes: preferred (soft), required (hard) or not.
PodAntiAffinity = Literal["soft", "hard", "none"]

# --- Image tags ------------------------------------------------------------------------------------

# What a registry accepts as a tag (the OCI distribution spec's grammar).
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def _pinned_image_tag(value: str) -> str:
    if value == "latest" or not _IMAGE_TAG.match(value):
        raise ValueError(f"{value!r} is not a pinned image tag: use a released version such as 1.4.2 (never 'latest')")
    return value


# Every image the program deploys names a released version: 'latest' moves under a running stack.
ImageTag = Annotated[str, AfterValidator(_pinned_image_tag)]

# --- Replica counts --------------------------------------------------------------------------------
# One upper bound per kind of count, each the maximum a chart's schema allows for that kind. The charts
# that state no maximum (the order-platform services, the Bitnami PostgreSQL chart) get the bound of
# their kind, so a count the chart would refuse, or one that would plan millions of objects, is a
# config error naming the key, the value and the limit.

# Pods of a stateless service: charts/core-pipeline/values.schema.json `replicaCount.maximum`.
MAX_SERVICE_REPLICAS = 50
# An autoscaler's ceiling: charts/core-pipeline/values.schema.json `autoscaling.maxReplicas.maximum`.
MAX_AUTOSCALED_REPLICAS = 100
# Members of one database (StatefulSet pods, PostgreSQL read replicas):
# charts/nexus-database/values.schema.json `definitions.replicas.maximum`.
MAX_DATABASE_REPLICAS = 15


def replica_count(minimum: int, maximum: int) -> Any:
    """An integer count of pods from `minimum` to `maximum` (no floats, no strings)."""
    return Annotated[int, Field(ge=minimum, le=maximum, strict=True)]


ReplicaCount = replica_count(0, MAX_SERVICE_REPLICAS)
ServiceReplicas = replica_count(1, MAX_SERVICE_REPLICAS)
AutoscaledReplicas = replica_count(1, MAX_AUTOSCALED_REPLICAS)
DatabaseReplicas = replica_count(1, MAX_DATABASE_REPLICAS)
ReadReplicaCount = replica_count(0, MAX_DATABASE_REPLICAS)


class ResourceAmounts(StrictModel):
    cpu: CpuQuantity
    memory: MemoryQuantity


class Resources(StrictModel):
    """Container requests and limits; requests may not exceed limits."""

    requests: ResourceAmounts
    limits: ResourceAmounts

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        for field in ("cpu", "memory"):
            request, limit = getattr(self.requests, field), getattr(self.limits, field)
            if quantity_to_number(str(request)) > quantity_to_number(str(limit)):
                raise ValueError(f"requests.{field} ({request}) may not exceed limits.{field} ({limit})")
        return self

    @classmethod
    def of(cls, cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> Resources:
        """Requests (`cpu`, `memory`) and limits, as a section default: `Resources.of("250m", "256Mi", "1", "1Gi")`."""
        return cls.model_validate(
            {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu_limit, "memory": memory_limit}}
        )

    def to_kubernetes(self) -> dict[str, dict[str, str]]:
        return {
            "requests": {"cpu": str(self.requests.cpu), "memory": self.requests.memory},
            "limits": {"cpu": str(self.limits.cpu), "memory": self.limits.memory},
        }


class Switchable(StrictModel):
    """A section with an `enabled` switch and settings it cannot work without.

    `KEY` is the section's key in its parent (`ingress`, `cors`); `NEEDED_WHEN_ENABLED` names the fields that
    must be set (non-empty) while `enabled` is true, each with a hint for the message ("" for none).
    """

    enabled: bool = False

    KEY: ClassVar[str] = ""
    NEEDED_WHEN_ENABLED: ClassVar[dict[str, str]] = {}

    @model_validator(mode="after")
    def _needed_when_enabled(self) -> Switchable:
        for field, hint in self.NEEDED_WHEN_ENABLED.items():
            value = getattr(self, field)
            if self.enabled and not value:
                missing = "is empty" if isinstance(value, list | dict) else "is not set"
                raise ValueError(f"{self.KEY}.enabled is true but {self.KEY}.{field} {missing}{hint}")
        return self


# --- Error reporting -------------------------------------------------------------------------------


def config_error(key: str, error: ValidationError) -> ConfigError:
    """One ConfigError listing every problem as `nexus-platform:<key>.<path> = <value>: <what is allowed>`."""
    lines = []
    for problem in error.errors(include_url=False):
        path = ".".join(str(part) for part in problem["loc"] if not str(part).startswith("function-"))
        full_key = f"{PROJECT}:" + ".".join(part for part in (key, path) if part)
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            lines.append(f"{full_key}: unknown key (check its spelling against Pulumi.yaml's config section)")
        elif problem["type"] == "missing":
            lines.append(f"{full_key}: required but not set")
        elif isinstance(problem.get("input"), dict | list):
            # A whole section was given; the message says which of its keys matter.
            lines.append(f"{full_key}: {message}")
        else:
            lines.append(f"{full_key} = {problem.get('input')!r}: {message}")
    return ConfigError("invalid stack configuration:\n  " + "\n  ".join(lines))
