"""Configuration of the NexusCommerce data tier (issue 3) (`nexus-platform:dataTier`)."""

from __future__ import annotations

from .base import StrictModel


class DataTierConfig(StrictModel):
    enabled: bool = False
