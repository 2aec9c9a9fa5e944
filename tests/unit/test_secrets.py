"""Secret checksums (the charts' secretChecksums) change exactly when a Secret's credentials change, are
known in every preview (a generated password counts as the RandomPassword that makes it, not its result,
which is unknown until the first `up`), and are never Pulumi secrets, so chart values stay readable."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.secrets import checksum_of_data, generated_password, secret_checksum
from platform_config import PROJECT

pytestmark = pytest.mark.unit


class FixedResultMocks(pulumi.runtime.Mocks):
    """Every RandomPassword comes out as `result`."""

    def __init__(self, result: str) -> None:
        self.result = result

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        return [f"{args.name}-id", {**args.inputs, "result": self.result}]

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


def checksum_under_mocks(result: str, data: dict[str, Any] | None = None, length: int = 32) -> tuple[str, bool]:
    """(checksum, is it secret) of a Secret holding a user and a password generated with result `result`."""
    pulumi.runtime.set_mocks(FixedResultMocks(result), project=PROJECT, stack="test", preview=False)
    found: dict[str, Any] = {}

    @pulumi.runtime.test
    def program():
        password = generated_password("db-password", pulumi.ResourceOptions(), length)
        checksum = secret_checksum({"user": "app", "password": password, **(data or {})})

        async def resolve() -> None:
            found["secret"] = await checksum.is_secret()
            found["value"] = await checksum.future()

        return resolve()

    program()
    return found["value"], found["secret"]


def test_a_generated_password_counts_as_its_generator_so_the_checksum_is_known_before_the_first_up():
    assert checksum_under_mocks("first-result")[0] == checksum_under_mocks("another-result")[0]


def test_regenerating_a_password_differently_changes_the_checksum():
    assert checksum_under_mocks("same", length=32)[0] != checksum_under_mocks("same", length=64)[0]


def test_a_changed_operator_credential_changes_the_checksum():
    first = checksum_under_mocks("same", {"apiKey": pulumi.Output.secret("key-one")})[0]
    assert first != checksum_under_mocks("same", {"apiKey": pulumi.Output.secret("key-two")})[0]


def test_the_checksum_is_a_readable_sha256_not_a_pulumi_secret():
    value, secret = checksum_under_mocks("result")
    assert secret is False
    assert len(value) == 64 and int(value, 16) >= 0


def test_the_checksum_of_plain_data_is_the_sha256_of_its_canonical_json():
    assert checksum_of_data({"b": "2", "a": "1"}) == checksum_of_data({"a": "1", "b": "2"})
