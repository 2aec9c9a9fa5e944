"""Fixtures shared by every tier: one mocked run of the program per committed stack."""

from __future__ import annotations

import functools

import pytest

from tooling.stacks import STACKS, StackRun, run_stack


@functools.cache
def _committed_stack(stack: str) -> StackRun:
    return run_stack(stack)


@pytest.fixture(params=STACKS)
def any_stack(request: pytest.FixtureRequest) -> StackRun:
    """The program run under mocks with each committed stack file, in turn."""
    return _committed_stack(request.param)


@pytest.fixture
def dev_stack() -> StackRun:
    return _committed_stack("dev")


@pytest.fixture
def staging_stack() -> StackRun:
    return _committed_stack("staging")


@pytest.fixture
def prod_stack() -> StackRun:
    return _committed_stack("prod")
