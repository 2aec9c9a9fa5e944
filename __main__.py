"""nexus-platform: read the stack's config once, build each system's component, export the contract."""

import pulumi

from components.certificates import PrivateCertificateAuthority, tls_trust
from components.core_pipeline import CorePipeline, CorePipelineArgs, postgres_client_image
from components.fluxion_tenant import (
    FluxionTenant,
    FluxionTenantArgs,
    tenant_backup,
    tenant_backup_credentials,
    tenant_cluster,
    tenant_shared,
)
from components.kubernetes import create_provider
from components.nexus_database import NexusDatabase, NexusDatabaseArgs
from components.order_platform import OrderPlatform, OrderPlatformArgs
from components.postgres_cluster import PostgresCluster, PostgresClusterArgs
from platform_config import read_stack_config
from platform_config.fluxion import BACKUP_CREDENTIALS_OUTPUT
from platform_config.operator_secrets import ELASTICSEARCH_PASSWORD_KEY, KEYCLOAK_CLIENT_SECRET_KEY
from platform_config.rotation import CORE_PIPELINE_DATABASE

config = read_stack_config()
provider = create_provider(pulumi.get_stack(), config.kubernetes)
deploy = pulumi.ResourceOptions(providers=[provider])

# TLS in transit (issue 16): the stack's private CA as cert-manager issuers, unless security.tls names the operator's.
tls = config.security.tls
issuer = [PrivateCertificateAuthority("tls", tls, opts=deploy)] if tls.enabled and tls.createPrivateCa else []

# Bitnami PostgreSQL clusters (issue 2)
postgres = {
    name: PostgresCluster(
        name,
        PostgresClusterArgs(
            cluster,
            config.postgresChart,
            delete_data_on_destroy=config.deleteDataOnDestroy,
            rotation=config.credentialRotation,
            security=config.security,
            issuer=issuer,
            backup=config.dataTier.backup,
        ),
        opts=deploy,
    )
    for name, cluster in config.postgresClusters.items()
}

# NexusCommerce data tier (issue 3)
data_tier = (
    NexusDatabase(
        "data-tier",
        NexusDatabaseArgs(
            config.dataTier,
            config.environment,
            delete_data_on_destroy=config.deleteDataOnDestroy,
            rotation=config.credentialRotation,
            security=config.security,
            issuer=issuer,
        ),
        opts=deploy,
    )
    if config.dataTier.enabled
    else None
)

# core-pipeline (issue 4). Config validation guarantees the data tier runs Kafka and Redis when it is on.
core_pipeline = None
if config.corePipeline.enabled and data_tier is not None and data_tier.redis is not None:
    pipeline_cluster = config.corePipeline.postgresCluster
    core_pipeline = CorePipeline(
        "core-pipeline",
        CorePipelineArgs(
            config.corePipeline,
            kafka_bootstrap_servers=data_tier.kafka_bootstrap_servers,
            redis=data_tier.redis,
            postgres=postgres[pipeline_cluster].writer(),
            postgres_client_image=postgres_client_image(config.postgresClusters[pipeline_cluster].image),
            database_generation=config.generation(CORE_PIPELINE_DATABASE),
            postgres_ca_secret=postgres[pipeline_cluster].ca_secret,
            tls=tls,
        ),
        opts=deploy,
    )

# Order platform (issue 5). Config validation guarantees the data tier runs Kafka (it needs it).
assert data_tier is not None
orders_db = postgres["orders"]
order_platform = OrderPlatform(
    "order-platform",
    OrderPlatformArgs(
        config.orderPlatform,
        config.environment,
        event_store=orders_db.writer(),
        kafka_bootstrap_servers=data_tier.kafka_bootstrap_servers,
        keycloak_client_secret=config.operator_secret(KEYCLOAK_CLIENT_SECRET_KEY),
        elasticsearch_password=config.operator_secret(ELASTICSEARCH_PASSWORD_KEY),
        database_resources=[orders_db],
        kafka_resources=[data_tier],
        delete_data_on_destroy=config.deleteDataOnDestroy,
        tls=tls,
    ),
    opts=deploy,
)

# FluxionDB tenants (issue 6)
fluxion_tenants = {
    tenant.id: FluxionTenant(
        tenant.name,
        FluxionTenantArgs(
            tenant,
            config.fluxion.defaults,
            delete_data_on_destroy=config.deleteDataOnDestroy,
            backup=tenant_backup(config.dataTier.backup),
        ),
        opts=deploy,
    )
    for tenant in config.fluxion.tenants
}

# The outputs contract for app teams: README "Stack outputs", docs/stack-outputs.schema.json.
pulumi.export("environment", config.environment.value)
pulumi.export("tls", tls_trust(tls).outputs())
pulumi.export("postgres", {name: cluster.outputs() for name, cluster in postgres.items()})
pulumi.export("dataTier", data_tier.outputs())
pulumi.export("corePipeline", core_pipeline.outputs() if core_pipeline else None)
pulumi.export("orderPlatform", order_platform.outputs())
pulumi.export("fluxion", {"tenants": {tid: tenant.outputs() for tid, tenant in fluxion_tenants.items()}})
# Read by the tenant stacks (tenants/project) through their StackReference (issue 19).
pulumi.export("fluxionTenantDefaults", tenant_shared(config, pulumi.get_stack()))
pulumi.export("fluxionTenantCluster", tenant_cluster(config.kubernetes))
if (backup_keys := tenant_backup_credentials(config.dataTier.backup)) is not None:
    pulumi.export(BACKUP_CREDENTIALS_OUTPUT, backup_keys)
