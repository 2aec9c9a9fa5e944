"""Credentials: every password starts life as a Pulumi secret and stays one, and reaches pods only through a
Kubernetes Secret (`opaque_secret`) that charts and pods read by name."""

from __future__ import annotations

import hashlib
import json
import weakref
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

# What determines each generated password, by the Output that holds it: its resource and inputs. A
# RandomPassword keeps its result until it is replaced, and it is replaced only when these change, so they
# stand in for the password in checksums (`secret_checksum`): unlike the result, they are known in every
# preview, including the first one of a new stack.
_GENERATED: weakref.WeakKeyDictionary[pulumi.Output, str] = weakref.WeakKeyDictionary()


def generated_password(
    resource_name: str, opts: pulumi.ResourceOptions, length: int = 32, generation: int = 0
) -> pulumi.Output[str]:
    """A random alphanumeric password (safe in URLs and shell), secret from birth.

    `generation` is the credential's rotation generation (stack config): raising it replaces the
    RandomPassword (a `keepers` change), which is how a rotation asks for a new password. Generation 0 sets
    no keepers at all, so the passwords of stacks that have never rotated stay exactly what they are."""
    keepers = {"generation": str(generation)} if generation else None
    password = random.RandomPassword(resource_name, length=length, special=False, keepers=keepers, opts=opts)
    result = pulumi.Output.secret(password.result)
    determinant = f"random:index/randomPassword:RandomPassword::{resource_name}:length={length}:special=false"
    _GENERATED[result] = determinant + (f":generation={generation}" if generation else "")
    return result


def as_secret(value: pulumi.Input[str]) -> pulumi.Output[str]:
    """`value` marked secret; a generated password stays known as generated (for `secret_checksum`)."""
    secret = pulumi.Output.secret(value)
    if isinstance(value, pulumi.Output) and value in _GENERATED:
        _GENERATED[secret] = _GENERATED[value]
    return secret


def once_in(resource: pulumi.Resource, value: pulumi.Input[str]) -> pulumi.Output[str]:
    """`value`, as an Output that depends on `resource` (a live Secret): a consumer copying a credential into
    Secrets of its own, or a stack output, gets it only once the live Secret holds it, i.e. after the rotation
    Job (components/rotation.py), so nothing hands a client a password before the server takes it. A generated
    password stays known as generated (for `secret_checksum`)."""
    result = pulumi.Output.secret(pulumi.Output.all(resource.urn, value).apply(lambda parts: parts[1]))
    if isinstance(value, pulumi.Output) and value in _GENERATED:
        _GENERATED[result] = _GENERATED[value]
    return result


def password_or_generated(
    given: pulumi.Input[str] | None, resource_name: str, opts: pulumi.ResourceOptions, generation: int = 0
) -> pulumi.Output[str]:
    """The operator's password (from secret config) when given, else a generated one (of rotation
    `generation`); secret either way."""
    if given is not None:
        return as_secret(given)
    return generated_password(resource_name, opts, generation=generation)


def connection_url(
    scheme: str,
    username: pulumi.Input[str] | None,
    password: pulumi.Input[str],
    host: pulumi.Input[str],
    port: int,
    path: str = "",
    query: str = "",
) -> pulumi.Output[str]:
    """`scheme://user:password@host:port/path?query` with user and password URL-escaped; a secret."""

    def build(parts: list) -> str:
        user, secret, hostname = parts
        credentials = f"{quote(user, safe='') if user else ''}:{quote(secret, safe='')}@"
        suffix = f"/{path}" if path else ""
        return f"{scheme}://{credentials}{hostname}:{port}{suffix}{'?' + query if query else ''}"

    return pulumi.Output.secret(pulumi.Output.all(username or "", password, host).apply(build))


def opaque_secret(
    resource_name: str,
    *,
    name: pulumi.Input[str],
    namespace: pulumi.Input[str],
    labels: Mapping[str, str],
    data: Mapping[str, pulumi.Input[str]],
    opts: pulumi.ResourceOptions,
) -> k8s.core.v1.Secret:
    """A Secret of string values (`type: Opaque`) named `name` in `namespace`, for a chart (`existingSecret`) or
    a pod (`secretKeyRef`) to read by name. Its keys are what the consumer reads, so they come from the
    consumer's contract (the chart's values, the pod's environment)."""
    return k8s.core.v1.Secret(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=dict(labels)),
        type="Opaque",
        string_data=dict(data),
        opts=opts,
    )


def checksum_of_data(data: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a Secret's string data: its keys and values, canonically encoded."""
    return hashlib.sha256(json.dumps(dict(data), sort_keys=True).encode()).hexdigest()


def secret_checksum(data: Mapping[str, pulumi.Input[str]]) -> pulumi.Output[str]:
    """The checksum a chart's `secretChecksums` gets for a Secret the component creates (the charts annotate
    the pods that read it with `checksum/secret-<name>`, so the pods roll when a credential changes).

    SHA-256 of the Secret's data, where a generated password counts as what determines it (its
    RandomPassword's name and inputs, see `_GENERATED`): the password itself is unknown until the first
    `up`, and an unknown chart value would stop the chart from rendering in that preview (no objects to
    show, nothing for the policy pack to check). Any other value (a username, an operator-set secret) counts
    as itself. The hash is deliberately unsecret'd: a SHA-256 of high-entropy generated material reveals
    nothing, and a secret value would turn the whole chart values secret, and previews unreadable. (An
    operator-chosen weak credential could be guessed offline from it; the generated ones cannot.)
    """
    parts = {
        key: _GENERATED.get(value, value) if isinstance(value, pulumi.Output) else value for key, value in data.items()
    }
    return pulumi.Output.unsecret(pulumi.Output.all(**parts).apply(checksum_of_data))
