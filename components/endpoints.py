"""How one system hands a database or broker to another: a typed endpoint, not hand-typed hosts."""

from __future__ import annotations

from dataclasses import dataclass, fields

import pulumi

from .outputs import Exported, Exporting


@dataclass(frozen=True)
class DatabaseLocation(Exporting):
    """Where a database is: enough to name it, not to log in."""

    host: Exported[pulumi.Output[str]]
    port: Exported[pulumi.Output[int]]
    database: Exported[pulumi.Output[str]]
    username: Exported[pulumi.Output[str]]


@dataclass(frozen=True)
class DatabaseEndpoint(DatabaseLocation):
    """Everything a client needs to reach one database (or Redis/Kafka) and authenticate.

    `secret_name`/`secret_key` name the Kubernetes Secret holding the password in `namespace`; pods in
    other namespaces cannot reference it, so consumers copy `password` (a Pulumi secret) into a Secret
    of their own. `url` embeds the password and is therefore a Pulumi secret. Its stack-output shape
    (README, 'Stack outputs') is every field but `password`.
    """

    namespace: Exported[pulumi.Output[str]]
    secret_name: Exported[pulumi.Output[str]]
    secret_key: Exported[pulumi.Output[str]]
    password: pulumi.Output[str]
    url: Exported[pulumi.Output[str]]

    def location(self) -> DatabaseLocation:
        """Only where the database is (no Secret, no credentials)."""
        return DatabaseLocation(**{field.name: getattr(self, field.name) for field in fields(DatabaseLocation)})


@dataclass(frozen=True)
class KafkaEndpoint(DatabaseEndpoint):
    """Kafka's endpoint: `url` and `bootstrap_servers` are both the brokers' `host:port` list."""

    bootstrap_servers: Exported[pulumi.Output[str]]
