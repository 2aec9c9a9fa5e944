"""One FluxionDB tenant as a stack of its own (issue 19): the platform's FluxionTenant component, with what
tenants share (defaults, cluster) read from the platform stack through a StackReference and the tenant's own
settings from this stack's config.

Names match what the platform stack gave the same tenant (resource `fluxiondb-<id>`, provider
`<platform stack>-kubernetes`), so `pulumi state move` can bring a tenant over without any diff.
"""

# components/ and platform_config/ are the platform's own, through symlinks in this folder: the program imports
# them, and so does the process that runs the StorageGuard's dynamic provider (it starts here, not in the repo root).
import pulumi

# Synchronous, as the SDK's own synchronous invokes wait: what the stack deploys depends on these values.
from pulumi.runtime.sync_await import _sync_await

from components.fluxion_tenant import FluxionTenant, FluxionTenantArgs, backup_from_platform
from components.kubernetes import create_provider
from platform_config.fluxion import (
    BACKUP_CREDENTIALS_OUTPUT,
    CLUSTER_OUTPUT,
    SHARED_OUTPUT,
    TENANT_PROJECT,
    TenantShared,
    load_tenant_stack_config,
)
from platform_config.kubernetes import KubernetesTarget

config = pulumi.Config(TENANT_PROJECT)
settings = load_tenant_stack_config(
    {"platformStack": config.get("platformStack"), "tenant": config.get_object("tenant")}
)
tenant = settings.tenant

platform = pulumi.StackReference(settings.platformStack)


def platform_output(name: str) -> dict:
    details = _sync_await(platform.get_output_details(name))
    value = details.value if details.value is not None else details.secret_value
    if value is None:
        raise pulumi.RunError(
            f"platform stack {settings.platformStack} exports no {name!r}: run `pulumi up` of the platform stack "
            "first (it exports what tenant stacks share)"
        )
    return value


def integral(value: object) -> object:
    """Stack outputs cross the engine as protobuf Structs, whose numbers are all floats: 15 arrives as 15.0,
    which the strict integer fields of the config models refuse. Whole floats become ints again."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [integral(v) for v in value]
    return value


shared = TenantShared.model_validate(integral(platform_output(SHARED_OUTPUT)))
cluster = KubernetesTarget.model_validate(platform_output(CLUSTER_OUTPUT))
provider = create_provider(shared.platformStack, cluster)
# The buckets' keys, a secret output of the platform: each wrapped as a secret again at once (backup_from_platform),
# so they stay secrets in this stack's state; unset there, the tenant's backup pods wait for their Secret, as the
# data tier's do.
backup_keys = None
if shared.backup is not None:
    backup_keys = _sync_await(platform.get_output_details(BACKUP_CREDENTIALS_OUTPUT)).secret_value

fluxion_tenant = FluxionTenant(
    tenant.name,
    FluxionTenantArgs(
        tenant,
        shared.defaults,
        delete_data_on_destroy=shared.deleteDataOnDestroy,
        api_key=config.get_secret("apiKey"),
        backup=backup_from_platform(shared.backup, backup_keys),
    ),
    opts=pulumi.ResourceOptions(providers=[provider]),
)

# The tenant's outputs contract (docs/tenant-outputs.schema.json): what `fluxion.tenants.<id>` held before.
pulumi.export("tenant", fluxion_tenant.outputs())
