"""Typed, validated stack configuration. Read once by `__main__.py`, then handed to components."""

from .base import PROJECT, ConfigError, Environment
from .stack import PlatformConfig, load_platform_config, read_stack_config

__all__ = ["PROJECT", "ConfigError", "Environment", "PlatformConfig", "load_platform_config", "read_stack_config"]
