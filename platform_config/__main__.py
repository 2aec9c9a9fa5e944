"""Facts of the config for tools outside Python: `python -m platform_config operator-secrets` prints the
operator-set secret keys, one a line (scripts/up.sh fills them for local stacks)."""

import sys

from platform_config.operator_secrets import OPERATOR_SECRET_KEYS

COMMANDS = {"operator-secrets": OPERATOR_SECRET_KEYS}

if len(sys.argv) != 2 or sys.argv[1] not in COMMANDS:
    print(f"usage: python -m platform_config {{{','.join(COMMANDS)}}}", file=sys.stderr)
    raise SystemExit(2)
print("\n".join(COMMANDS[sys.argv[1]]))
