"""Generated credentials: every password starts life as a Pulumi secret and stays one."""

from __future__ import annotations

from urllib.parse import quote

import pulumi
import pulumi_random as random


def generated_password(resource_name: str, opts: pulumi.ResourceOptions, length: int = 32) -> pulumi.Output[str]:
    """A random alphanumeric password (safe in URLs and shell), secret from birth."""
    password = random.RandomPassword(resource_name, length=length, special=False, opts=opts)
    return pulumi.Output.secret(password.result)


def password_or_generated(
    given: pulumi.Input[str] | None, resource_name: str, opts: pulumi.ResourceOptions
) -> pulumi.Output[str]:
    """The operator's password (from secret config) when given, else a generated one; secret either way."""
    if given is not None:
        return pulumi.Output.secret(given)
    return generated_password(resource_name, opts)


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
