"""Configuration of the core-pipeline service (issue 4) (`nexus-platform:corePipeline`)."""

from __future__ import annotations

from .base import StrictModel


class CorePipelineConfig(StrictModel):
    enabled: bool = False
