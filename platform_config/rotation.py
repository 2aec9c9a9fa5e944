"""Credential rotation (`nexus-platform:credentialRotation`): which generation each credential is at.

A rotation is asked for in the stack file, so a pull request that rotates shows up in `pulumi preview` as
exactly that: the new password, the Job that teaches it to the database, the pods that roll.

    nexus-platform:credentialRotation:
      dataTier.product-postgres.user: 1
      postgresClusters.orders.admin: 2

Every credential the program generates has an id (`credential_ids` lists a stack's); its generation starts
at 0, the password the stack was created with, and raising it by one asks for a new password. What happens
then, per kind of credential, is components/rotation.py's. The operator-supplied secrets (Keycloak's client
secret, Elasticsearch's password, a cluster's `password`) are rotated by setting the new value with
`pulumi config set --secret`; FluxionDB API keys by the tenant's own `apiKeyGeneration`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from .base import PROJECT, ConfigError
from .data_tier import MONGODB_DATABASES, POSTGRES_DATABASES

if TYPE_CHECKING:
    from .stack import PlatformConfig

Generation = Annotated[int, Field(ge=0, le=1_000_000, strict=True)]

# Per kind of server, the credentials one of its Secrets holds, by the id suffix that names them.
POSTGRES_CREDENTIALS = ("user", "admin", "replication")
MONGODB_CREDENTIALS = ("user", "root", "replicaSetKey")
BITNAMI_CREDENTIALS = ("user", "admin", "replication")


def data_tier_postgres(name: str, credential: str) -> str:
    return f"dataTier.{name}-postgres.{credential}"


def data_tier_mongodb(name: str, credential: str) -> str:
    return f"dataTier.{name}-mongodb.{credential}"


REDIS_PASSWORD = "dataTier.redis.password"
KAFKA_SASL = "dataTier.kafka.sasl"
CORE_PIPELINE_DATABASE = "corePipeline.database"


def postgres_cluster(name: str, credential: str) -> str:
    return f"postgresClusters.{name}.{credential}"


def credential_ids(platform: PlatformConfig) -> list[str]:
    """Every credential this stack generates, by id, in a stable order."""
    tier = platform.dataTier
    ids: list[str] = []
    if tier.enabled:
        for name, settings in tier.postgres.resolved().items():
            if settings.enabled and name in POSTGRES_DATABASES:
                ids += [data_tier_postgres(name, credential) for credential in POSTGRES_CREDENTIALS]
        for name, settings in tier.mongodb.resolved().items():
            if settings.enabled and name in MONGODB_DATABASES:
                ids += [data_tier_mongodb(name, credential) for credential in MONGODB_CREDENTIALS]
        if tier.redis.enabled:
            ids.append(REDIS_PASSWORD)
        if tier.kafka.enabled and tier.kafka.sasl:
            ids.append(KAFKA_SASL)
    for name, cluster in platform.postgresClusters.items():
        # A cluster whose user is the admin has one login (`admin`); an operator-set password is rotated by
        # setting the new one, so only what the program generates is listed.
        credentials = ("admin", "replication") if cluster.username == "postgres" else BITNAMI_CREDENTIALS
        ids += [
            postgres_cluster(name, credential)
            for credential in credentials
            if not (cluster.password and credential == ("admin" if cluster.username == "postgres" else "user"))
        ]
    if platform.corePipeline.enabled:
        ids.append(CORE_PIPELINE_DATABASE)
    return ids


def check_rotation(platform: PlatformConfig) -> None:
    """Every key of credentialRotation names a credential this stack generates (ConfigError otherwise, one
    line per unknown key, with the ids that are allowed)."""
    known = credential_ids(platform)
    unknown = [key for key in platform.credentialRotation if key not in known]
    if unknown:
        allowed = ", ".join(known) or "none (this stack generates no credentials)"
        problems = [
            f"{PROJECT}:credentialRotation.{key}: not a credential this stack generates; allowed: {allowed}"
            for key in unknown
        ]
        raise ConfigError("invalid stack configuration:\n  " + "\n  ".join(problems))
