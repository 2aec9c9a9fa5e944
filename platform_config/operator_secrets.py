"""The operator-set secret config keys: credentials of systems this program does not deploy.

Each is a top-level key an operator sets per stack with `pulumi config set --secret <key>` (the committed
stack files cannot carry them). This list is their one definition: the config model, `read_stack_config`,
the test tiers (`tooling`), and `make up` (scripts/up.sh, which fills them for local stacks) all read it.

    python -m platform_config operator-secrets     # the keys, one a line
"""

from __future__ import annotations

# Key -> what it holds (for the missing-secret message).
OPERATOR_SECRETS = {
    "orderPlatformKeycloakClientSecret": "the Keycloak client secret of the order platform's services",
    "orderPlatformElasticsearchPassword": "the Elasticsearch password of order-query-service",
}
OPERATOR_SECRET_KEYS = tuple(OPERATOR_SECRETS)
KEYCLOAK_CLIENT_SECRET_KEY, ELASTICSEARCH_PASSWORD_KEY = OPERATOR_SECRET_KEYS
