"""Facts of the config for tools outside Python.

python -m platform_config operator-secrets           the operator-set secret keys, one a line (scripts/up.sh
                                                     fills them for local stacks)
python -m platform_config credentials <stack>        every credential the stack generates: id, generation
python -m platform_config rotate <stack> <id>...     the `pulumi config set` commands that rotate them (one
                                                     generation up); `all` rotates every credential
"""

from __future__ import annotations

import shlex
import sys

from platform_config.operator_secrets import OPERATOR_SECRET_KEYS
from platform_config.rotation import credential_ids
from platform_config.stack import SECRET_IS_SET, PlatformConfig, load_platform_config
from tooling.stackfiles import stack_config, stack_file

USAGE = "usage: python -m platform_config {operator-secrets | credentials <stack> | rotate <stack> <id>...|all}"


def _stack(stack: str) -> PlatformConfig:
    """The committed stack file's config, validated (the operator secrets count as set: only their keys matter)."""
    if not stack_file(stack).is_file():
        raise SystemExit(f"no stack file {stack_file(stack).name}")
    return load_platform_config({**{key: SECRET_IS_SET for key in OPERATOR_SECRET_KEYS}, **stack_config(stack)})


def rotate_commands(platform: PlatformConfig, wanted: list[str]) -> list[str]:
    """One `pulumi config set --path` per credential, raising its generation by one."""
    known = credential_ids(platform)
    chosen = known if wanted == ["all"] else wanted
    unknown = [credential for credential in chosen if credential not in known]
    if unknown:
        raise SystemExit(f"not a credential of this stack: {', '.join(unknown)}; allowed: {', '.join(known)}")
    return [
        shlex.join(
            [
                "pulumi",
                "config",
                "set",
                "--path",
                f'credentialRotation["{credential}"]',
                str(platform.generation(credential) + 1),
            ]
        )
        for credential in chosen
    ]


def main(argv: list[str]) -> int:
    if argv == ["operator-secrets"]:
        print("\n".join(OPERATOR_SECRET_KEYS))
    elif len(argv) == 2 and argv[0] == "credentials":
        platform = _stack(argv[1])
        for credential in credential_ids(platform):
            print(f"{credential}\t{platform.generation(credential)}")
    elif len(argv) >= 3 and argv[0] == "rotate":
        print("\n".join(rotate_commands(_stack(argv[1]), argv[2:])))
    else:
        print(USAGE, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
