"""How the orders-reporting app is configured from nexus-platform's stack outputs (no Pulumi in here).

`app_env(outputs)` maps the platform's outputs (the contract in the platform's
docs/stack-outputs.schema.json) to the app's environment variables, split into plain values and values
that carry credentials; `container_env(env, secret_name)` is the container's `env` list, which names the
Kubernetes Secret for the credential-bearing ones and never holds their values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The platform outputs the app reads (StackReference.get_output names).
CONSUMED_OUTPUTS = ("environment", "tls", "postgres", "dataTier", "orderPlatform")
# Where the app finds the platform's CA (ca.crt of its own cert-manager Certificate), when the platform serves TLS.
CA_FILE = "/tls/ca.crt"


class PlatformOutputsError(ValueError):
    """The platform stack lacks an output the app needs; the message names the output path."""


@dataclass(frozen=True)
class AppEnv:
    plain: dict[str, str]
    # Values embed passwords: they go into a Kubernetes Secret only.
    secret: dict[str, str]


def _require(outputs: Mapping[str, Any], path: str, why: str) -> Any:
    value: Any = outputs
    walked: list[str] = []
    for part in path.split("."):
        walked.append(part)
        if not isinstance(value, Mapping) or value.get(part) is None:
            available = sorted(value) if isinstance(value, Mapping) else []
            raise PlatformOutputsError(
                f"platform output {'.'.join(walked)} is missing or null, but {why} needs {path}"
                + (f" (present: {', '.join(available)})" if available else "")
            )
        value = value[part]
    return value


def app_env(outputs: Mapping[str, Any], postgres_cluster: str = "orders") -> AppEnv:
    """The app's environment from the platform's outputs; `postgres_cluster` holds its database."""
    cluster = f"postgres.{postgres_cluster}"
    plain = {
        "APP_ENV": str(_require(outputs, "environment", "APP_ENV")),
        "KAFKA_BROKERS": str(_require(outputs, "dataTier.kafka.bootstrapServers", "KAFKA_BROKERS")),
        "ORDER_QUERY_URL": str(_require(outputs, "orderPlatform.internalUrls.orderQueryService", "ORDER_QUERY_URL")),
    }
    secret = {
        "DATABASE_URL": str(_require(outputs, f"{cluster}.writerUrl", "DATABASE_URL")),
        "READ_DATABASE_URL": str(_require(outputs, f"{cluster}.readerUrl", "READ_DATABASE_URL")),
    }
    # With TLS on, the URLs ask for verification (sslmode=verify-full, rediss://) against the platform's CA.
    if (outputs.get("tls") or {}).get("mode", "disabled") != "disabled":
        plain |= {"PGSSLROOTCERT": CA_FILE, "TLS_CA_FILE": CA_FILE, "KAFKA_SECURITY_PROTOCOL": "SSL"}
    # Redis is optional in the platform (dataTier.redis is null when off); the app then runs without a cache.
    redis = (outputs.get("dataTier") or {}).get("redis")
    if redis is not None:
        secret["REDIS_URL"] = str(redis["url"])
    return AppEnv(plain=plain, secret=secret)


def container_env(env: AppEnv, secret_name: str) -> list[dict[str, Any]]:
    """The container's `env`: plain values inline, credentials by secretKeyRef into `secret_name`."""
    inline = [{"name": name, "value": value} for name, value in sorted(env.plain.items())]
    referenced = [
        {"name": name, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": name}}} for name in sorted(env.secret)
    ]
    return inline + referenced
