# shellcheck shell=bash
# Environment for running the project's pinned pulumi and helm. SOURCE it (bash), don't run it:
#     source scripts/pulumi-env.sh
# The Makefile and the tests do. Safe under `set -euo pipefail`, and safe to source twice.
#
# - .tools/bin (built by scripts/toolchain.sh) goes first on PATH: pulumi, pulumi-language-python,
#   helm. A tool missing there is looked up on the rest of PATH as usual.
# - PULUMI_HOME=.tools/pulumi-home: the plugins toolchain.sh installed (kubernetes, random) live
#   there, so the engine finds them at the pinned versions and never downloads any.
#   If you are logged in to a backend in your own Pulumi home ($PULUMI_HOME, else ~/.pulumi), that
#   login (credentials.json) is linked into it, so `pulumi login` state is shared, not replaced.
# - Update checks and automatic plugin downloads are off.
# - Backend: yours if you have one, i.e. PULUMI_BACKEND_URL is set or you are logged in. Only if
#   neither, the LOCAL DEFAULT: PULUMI_BACKEND_URL=file://<repo>/.pulumi-state (ignored by git),
#   and, for that local backend only and only when you have set no passphrase of your own
#   (PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE), the passphrase secrets provider
#   with a fixed, public passphrase. It protects nothing: it is for throwaway local stacks and
#   tests. Real stacks keep their own backend and secrets provider; the program assumes neither.
#
# NEXUS_PULUMI_LOCAL_BACKEND is set to 1 when the local default was chosen, else 0.

_nexus_env_root="${NEXUS_ROOT:-}"
if [ -z "$_nexus_env_root" ]; then
  if [ -n "${BASH_SOURCE[0]:-}" ]; then
    _nexus_env_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  else
    _nexus_env_root="$(pwd)"
  fi
fi

# The user's own Pulumi home, remembered across repeated sourcing.
if [ -z "${NEXUS_USER_PULUMI_HOME:-}" ]; then
  if [ -n "${PULUMI_HOME:-}" ] && [ "${PULUMI_HOME}" != "$_nexus_env_root/.tools/pulumi-home" ]; then
    NEXUS_USER_PULUMI_HOME="$PULUMI_HOME"
  else
    NEXUS_USER_PULUMI_HOME="${HOME:-/root}/.pulumi"
  fi
fi
export NEXUS_USER_PULUMI_HOME

case ":${PATH:-}:" in
  *":$_nexus_env_root/.tools/bin:"*) ;;
  *) export PATH="$_nexus_env_root/.tools/bin${PATH:+:$PATH}" ;;
esac

export PULUMI_HOME="$_nexus_env_root/.tools/pulumi-home"
mkdir -p "$PULUMI_HOME"
# The CLI (3.2xx) logs every operation in full to $PULUMI_HOME/logs/, for `pulumi logs share`: ~16 MB per prod
# `up` or preview, up to 500 MB kept, and about a tenth of the engine's CPU spent formatting and encrypting the
# records (docs/benchmarks-comparison.md, "Where a deploy's CPU goes"). The CLI has no switch for it, and skips it
# when it cannot create that folder: so in the project's own Pulumi home a plain file stands in its place, unless
# NEXUS_PULUMI_LOGS=1 (then the folder is made again and the CLI logs as it does by default).
if [ "${NEXUS_PULUMI_LOGS:-0}" = 1 ]; then
  [ -f "$PULUMI_HOME/logs" ] && rm -f "$PULUMI_HOME/logs"
elif [ ! -f "$PULUMI_HOME/logs" ]; then
  rm -rf "$PULUMI_HOME/logs"
  echo "pulumi's automatic operation logs are off in this Pulumi home (NEXUS_PULUMI_LOGS=1 keeps them): scripts/pulumi-env.sh" > "$PULUMI_HOME/logs"
fi
export PULUMI_SKIP_UPDATE_CHECK=true
# Python dynamic providers (StorageGuard) run with the project's virtualenv unless told otherwise.
export PULUMI_PYTHON_CMD="${PULUMI_PYTHON_CMD:-$_nexus_env_root/.venv/bin/python}"
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_DIY_BACKEND_NO_LEGACY_WARNING=true

# Share the user's login, if any, with the project's Pulumi home.
if [ -f "$NEXUS_USER_PULUMI_HOME/credentials.json" ] && [ ! -e "$PULUMI_HOME/credentials.json" ]; then
  ln -sfn "$NEXUS_USER_PULUMI_HOME/credentials.json" "$PULUMI_HOME/credentials.json" # (replaces a dangling link)
fi

_nexus_logged_in=0
if [ -f "$PULUMI_HOME/credentials.json" ] &&
  grep -Eq '"current"[[:space:]]*:[[:space:]]*"[^"]+' "$PULUMI_HOME/credentials.json"; then
  _nexus_logged_in=1
fi

if [ -z "${PULUMI_BACKEND_URL:-}" ] && [ "$_nexus_logged_in" = 0 ]; then
  mkdir -p "$_nexus_env_root/.pulumi-state"
  export PULUMI_BACKEND_URL="file://$_nexus_env_root/.pulumi-state"
  if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    # Local-only default (see above): not a secret, never use it for a real stack.
    export PULUMI_CONFIG_PASSPHRASE="nexus-local-only"
  fi
  export NEXUS_PULUMI_LOCAL_BACKEND=1
elif [ "${PULUMI_BACKEND_URL:-}" = "file://$_nexus_env_root/.pulumi-state" ]; then
  export NEXUS_PULUMI_LOCAL_BACKEND=1 # sourced twice: keep the local default
else
  export NEXUS_PULUMI_LOCAL_BACKEND=0
fi

unset _nexus_env_root _nexus_logged_in
