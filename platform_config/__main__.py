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


def write_generations(stack: str, generations: dict[str, int]) -> None:
    """Rewrite the stack file's `nexus-platform:credentialRotation` block (added at the end of `config:` when
    missing), leaving every other line as it is; the result is read back and checked."""
    path = stack_file(stack)
    lines = path.read_text().splitlines(keepends=True)
    key = "  nexus-platform:credentialRotation:"
    block = [key + "\n"] + [
        f"    {credential}: {generation}\n" for credential, generation in sorted(generations.items())
    ]
    start = next((i for i, line in enumerate(lines) if line.rstrip() == key or line.startswith(key + " ")), None)
    if start is None:
        config = next(i for i, line in enumerate(lines) if line.rstrip() == "config:")
        start = end = config + 1
        while end < len(lines) and (lines[end].startswith(" ") or not lines[end].strip()):
            end += 1
        start = end
    else:
        end = start + 1
        while end < len(lines) and (lines[end].startswith("    ") or not lines[end].strip()):
            end += 1
    if start > 0 and not lines[start - 1].endswith("\n"):
        lines[start - 1] += "\n"
    path.write_text("".join(lines[:start] + block + lines[end:]))
    written = stack_config(stack).get("credentialRotation")
    if written != generations:
        raise SystemExit(f"{path.name}: credentialRotation reads back as {written}, not {generations}")


def main(argv: list[str]) -> int:
    if argv == ["operator-secrets"]:
        print("\n".join(OPERATOR_SECRET_KEYS))
    elif len(argv) == 2 and argv[0] == "credentials":
        platform = _stack(argv[1])
        for credential in credential_ids(platform):
            print(f"{credential}\t{platform.generation(credential)}")
    elif len(argv) >= 3 and argv[0] == "rotate" and argv[-1] == "--write":
        platform = _stack(argv[1])
        rotate_commands(platform, argv[2:-1])  # validates the ids
        chosen = credential_ids(platform) if argv[2:-1] == ["all"] else argv[2:-1]
        generations = dict(platform.credentialRotation) | {c: platform.generation(c) + 1 for c in chosen}
        write_generations(argv[1], generations)
        print(f"{stack_file(argv[1]).name}: rotated {', '.join(chosen)}")
    elif len(argv) >= 3 and argv[0] == "rotate":
        print("\n".join(rotate_commands(_stack(argv[1]), argv[2:])))
    else:
        print(USAGE, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
