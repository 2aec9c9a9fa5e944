"""How one system hands a database or broker to another: a typed endpoint, not hand-typed hosts."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi


@dataclass(frozen=True)
class DatabaseEndpoint:
    """Everything a client needs to reach one database (or Redis/Kafka) and authenticate.

    `secret_name`/`secret_key` name the Kubernetes Secret holding the password in `namespace`; pods in
    other namespaces cannot reference it, so consumers copy `password` (a Pulumi secret) into a Secret
    of their own. `url` embeds the password and is therefore a Pulumi secret.
    """

    host: pulumi.Output[str]
    port: pulumi.Output[int]
    database: pulumi.Output[str]
    username: pulumi.Output[str]
    namespace: pulumi.Output[str]
    secret_name: pulumi.Output[str]
    secret_key: pulumi.Output[str]
    password: pulumi.Output[str]
    url: pulumi.Output[str]

    def outputs(self) -> dict[str, pulumi.Output]:
        """The stack-output shape of an endpoint (README, 'Stack outputs')."""
        return {
            "host": self.host,
            "port": self.port,
            "database": self.database,
            "username": self.username,
            "namespace": self.namespace,
            "secretName": self.secret_name,
            "secretKey": self.secret_key,
            "url": self.url,
        }
