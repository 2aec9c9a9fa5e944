"""The provisioning API's OpenAPI 3.1 document (served at /openapi.json; tests check every route against it)."""

from __future__ import annotations

from typing import Any

from platform_config.fluxion import MAX_ID_LENGTH, MIN_RAM

_ERROR = {
    "description": "Refused: `error.field` names the request field at fault, `error.message` says what is allowed.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_ACCEPTED = {
    "description": "Accepted: poll the operation (Location header) until it is done or failed.",
    "headers": {"Location": {"schema": {"type": "string"}, "description": "/operations/{id}"}},
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}},
}
_NOTHING_TO_DO = {
    "description": "Nothing to do (the tenant already is as asked); `operation` is null.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}},
}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"$ref": "#/components/schemas/TenantId"}}
_IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "A retried request with the same key returns the first request's operation instead of running again."
    ),
    "schema": {"type": "string", "maxLength": 200},
}
_REFUSALS = {"400": _ERROR, "401": _ERROR, "404": _ERROR, "409": _ERROR, "422": _ERROR}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "nexus-platform FluxionDB tenants",
        "version": "1.0.0",
        "description": "Provision, resize and deprovision per-user FluxionDB instances (one Pulumi stack each).",
    },
    "security": [{"bearer": []}],
    "paths": {
        "/tenants": {
            "post": {
                "summary": "Provision a tenant (or bring a deprovisioned one back with its data).",
                "parameters": [_IDEMPOTENCY],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ProvisionRequest"}}},
                },
                "responses": {"200": _NOTHING_TO_DO, "202": _ACCEPTED, **_REFUSALS},
            },
            "get": {
                "summary": "List tenants (never their API keys).",
                "responses": {
                    "200": {
                        "description": "Every tenant the API knows.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "tenants": {"type": "array", "items": {"$ref": "#/components/schemas/Tenant"}}
                                    },
                                }
                            }
                        },
                    },
                    "401": _ERROR,
                },
            },
        },
        "/tenants/{id}": {
            "get": {
                "summary": "One tenant; its API key only with showApiKey=true.",
                "parameters": [
                    _ID,
                    {"name": "showApiKey", "in": "query", "required": False, "schema": {"type": "boolean"}},
                ],
                "responses": {
                    "200": {
                        "description": "The tenant.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Tenant"}}},
                    },
                    **_REFUSALS,
                },
            },
            "patch": {
                "summary": "Resize: storage follows 2 x RAM; a lower RAM is refused (a volume never shrinks).",
                "parameters": [_ID, _IDEMPOTENCY],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ResizeRequest"}}},
                },
                "responses": {"200": _NOTHING_TO_DO, "202": _ACCEPTED, **_REFUSALS},
            },
            "delete": {
                "summary": "Deprovision: the instance stops, its namespace, volume and API key are kept.",
                "parameters": [_ID, _IDEMPOTENCY],
                "responses": {"200": _NOTHING_TO_DO, "202": _ACCEPTED, **_REFUSALS},
            },
        },
        "/tenants/{id}/data": {
            "delete": {
                "summary": "Delete a deprovisioned tenant's data (volume, namespace, stack) for good.",
                "parameters": [_ID, _IDEMPOTENCY],
                "responses": {"202": _ACCEPTED, **_REFUSALS},
            }
        },
        "/operations": {
            "get": {
                "summary": "Operations, oldest first, optionally by status.",
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "required": False,
                        "schema": {"enum": ["queued", "running", "done", "failed"]},
                    }
                ],
                "responses": {"200": {"description": "The operations."}, "401": _ERROR},
            }
        },
        "/operations/{id}": {
            "get": {
                "summary": "One operation: queued, running, done or failed (with a reason).",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": {
                        "description": "The operation.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Operation"}}},
                    },
                    "401": _ERROR,
                    "404": _ERROR,
                },
            }
        },
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "TenantId": {
                "type": "string",
                "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
                "maxLength": MAX_ID_LENGTH,
                "description": "A DNS label: the namespace is fluxiondb-<id>.",
            },
            "Quantity": {
                "type": "string",
                "description": f"A Kubernetes memory quantity, at least {MIN_RAM} (e.g. 2Gi).",
                "examples": ["512Mi", "2Gi"],
            },
            "ProvisionRequest": {
                "type": "object",
                "additionalProperties": False,
                "required": ["userId", "ramSize"],
                "properties": {
                    "userId": {"$ref": "#/components/schemas/TenantId"},
                    "ramSize": {"$ref": "#/components/schemas/Quantity"},
                    "apiKey": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 256,
                        "description": "The tenant's own key; generated when absent. Stored only as a Pulumi secret.",
                    },
                },
            },
            "ResizeRequest": {
                "type": "object",
                "additionalProperties": False,
                "required": ["ramSize"],
                "properties": {"ramSize": {"$ref": "#/components/schemas/Quantity"}},
            },
            "Tenant": {
                "type": "object",
                "properties": {
                    "userId": {"$ref": "#/components/schemas/TenantId"},
                    "ramSize": {"$ref": "#/components/schemas/Quantity"},
                    "storage": {"$ref": "#/components/schemas/Quantity"},
                    "state": {"enum": ["active", "deprovisioned", "deleting"]},
                    "apiKeyGeneration": {"type": "integer"},
                    "outputs": {"type": "object", "description": "The tenant stack's outputs (docs/tenants.md)."},
                    "apiKey": {"type": ["string", "null"], "description": "Only with showApiKey=true."},
                },
            },
            "Operation": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "tenantId": {"$ref": "#/components/schemas/TenantId"},
                    "kind": {"enum": ["provision", "resize", "deprovision", "delete-data"]},
                    "status": {"enum": ["queued", "running", "done", "failed"]},
                    "reason": {"type": ["string", "null"]},
                    "attempts": {"type": "integer"},
                    "createdAt": {"type": "number"},
                    "startedAt": {"type": ["number", "null"]},
                    "finishedAt": {"type": ["number", "null"]},
                },
            },
            "Accepted": {
                "type": "object",
                "properties": {
                    "tenant": {"$ref": "#/components/schemas/Tenant"},
                    "operation": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Operation"}]},
                },
            },
            "Error": {
                "type": "object",
                "properties": {
                    "error": {
                        "type": "object",
                        "properties": {"field": {"type": ["string", "null"]}, "message": {"type": "string"}},
                    }
                },
            },
        },
    },
}
