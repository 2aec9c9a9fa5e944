"""Configuration of FluxionDB tenants (issue 6) (`nexus-platform:fluxion`)."""

from __future__ import annotations

from .base import StrictModel


class FluxionConfig(StrictModel):
    enabled: bool = False
