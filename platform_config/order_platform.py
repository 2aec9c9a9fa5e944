"""Configuration of the event-sourced order platform (issue 5) (`nexus-platform:orderPlatform`)."""

from __future__ import annotations

from .base import StrictModel


class OrderPlatformConfig(StrictModel):
    enabled: bool = False
