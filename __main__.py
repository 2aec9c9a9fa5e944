"""nexus-platform: read the stack's config once, build each system's component, export the contract."""

import pulumi

from components.fluxion_tenant import FluxionTenant, FluxionTenantArgs
from components.kubernetes import create_provider
from components.nexus_database import NexusDatabase, NexusDatabaseArgs
from components.postgres_cluster import PostgresCluster, PostgresClusterArgs
from platform_config import read_stack_config

config = read_stack_config()
provider = create_provider(pulumi.get_stack(), config.kubernetes)
deploy = pulumi.ResourceOptions(providers=[provider])

# Bitnami PostgreSQL clusters (issue 2)
postgres = {
    name: PostgresCluster(
        name,
        PostgresClusterArgs(cluster, config.postgresChart, delete_data_on_destroy=config.deleteDataOnDestroy),
        opts=deploy,
    )
    for name, cluster in config.postgresClusters.items()
}

# NexusCommerce data tier (issue 3)
data_tier = (
    NexusDatabase(
        "data-tier",
        NexusDatabaseArgs(config.dataTier, config.environment, delete_data_on_destroy=config.deleteDataOnDestroy),
        opts=deploy,
    )
    if config.dataTier.enabled
    else None
)

# core-pipeline (issue 4)

# Order platform (issue 5)

# FluxionDB tenants (issue 6)
fluxion_tenants = {
    tenant.id: FluxionTenant(
        tenant.name,
        FluxionTenantArgs(tenant, config.fluxion.defaults, delete_data_on_destroy=config.deleteDataOnDestroy),
        opts=deploy,
    )
    for tenant in config.fluxion.tenants
}

pulumi.export("environment", config.environment.value)
pulumi.export("postgres", {name: cluster.outputs() for name, cluster in postgres.items()})
pulumi.export("fluxion", {"tenants": {tid: tenant.outputs() for tid, tenant in fluxion_tenants.items()}})
pulumi.export("dataTier", data_tier.outputs() if data_tier else None)
