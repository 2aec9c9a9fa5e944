"""FluxionDB tenants at SaaS scale (issues 6, 19): one Pulumi stack per tenant, a provisioning API over them.

    python -m tenants serve --stack dev                 # the HTTP API (tenants/api.py, OpenAPI at /openapi.json)
    python -m tenants provision acme --ram 2Gi --stack dev
    python -m tenants update-ram acme --ram 4Gi --stack dev
    python -m tenants deprovision acme --stack dev      # data kept
    python -m tenants delete-data acme --yes --stack dev
    python -m tenants list --stack dev
    python -m tenants migrate --stack dev               # tenants of the platform stack -> stacks of their own

- tenants/project: the Pulumi project of one tenant (stack `<env>-<tenant>`), the platform's FluxionTenant
  component fed by a StackReference to the platform stack (what tenants share) and the stack's config;
- tenants/engine.py: the Automation API over those stacks, one workspace directory per stack;
- tenants/store.py: durable operations (SQLite; DB-API) with leases, Idempotency-Keys, the tenant registry;
- tenants/service.py: the rules and the bounded worker pool the API and the CLI share;
- tenants/api.py, tenants/openapi.py: HTTP, bearer token, 202 + operation to poll.
See docs/tenants.md.
"""
