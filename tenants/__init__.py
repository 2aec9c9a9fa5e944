"""Provisioning API for FluxionDB tenants (issue 6): the Python counterpart of FluxionDB's Go deployer.

    python -m tenants provision acme --ram 2Gi --stack dev
    python -m tenants update-ram acme --ram 4Gi --stack dev
    python -m tenants deprovision acme [--delete-data --yes] --stack dev
    python -m tenants list --stack dev

Each command edits the tenant list in `Pulumi.<stack>.yaml` (only the `nexus-platform:fluxion` block; the
rest of the file is left byte for byte) and then runs `pulumi up` for that stack through the Automation
API. The edits are pure functions (`tenants.operations`, `tenants.stackfile`) validated by the very
models the program uses (`platform_config.fluxion`), so the CLI refuses exactly what `pulumi up` would.
Running a command twice is a no-op; no API key is printed unless `--show-key` asks for it.
"""

from .operations import Change, TenantError, deprovision, provision, update_ram, validate_section
from .stackfile import read_section, replace_section, write_section

__all__ = [
    "Change",
    "TenantError",
    "deprovision",
    "provision",
    "read_section",
    "replace_section",
    "update_ram",
    "validate_section",
    "write_section",
]
