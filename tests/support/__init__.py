"""Shared test machinery: Helm rendering, Kubernetes schema validation, Pulumi mocks."""
