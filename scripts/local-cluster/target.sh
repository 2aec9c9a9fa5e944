# shellcheck shell=bash
# Sourced by scripts/up.sh and scripts/down.sh: which cluster and which stack a local command targets.
# Sourcing it also enters the repository and sources scripts/pulumi-env.sh (pinned tools, backend).
#
# nexus_kubeconfig_configured STACK -> 0 when the user pointed Pulumi at a cluster: $KUBECONFIG set,
#   ~/.kube/config present, or the stack file sets nexus-platform:kubernetes.kubeconfig or .context.
# nexus_deploy_stack STACK -> the stack to run: STACK itself against a configured cluster, else the
#   derived STACK-local on the loopback control plane.

NEXUS_ROOT="${NEXUS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
cd "$NEXUS_ROOT"
# shellcheck source=../pulumi-env.sh
source "$NEXUS_ROOT/scripts/pulumi-env.sh"
NEXUS_PYTHON="${NEXUS_PYTHON:-$NEXUS_ROOT/.venv/bin/python}"
# Marks a control plane that scripts/up.sh started, so scripts/down.sh stops only that one.
NEXUS_STARTED_MARKER="$NEXUS_ROOT/.local-cluster/started-by-make-up"
# The stack make up deployed last on the local cluster, then its namespaces (one a line).
NEXUS_DEPLOYED_RECORD="$NEXUS_ROOT/.local-cluster/deployed-stack"

nexus_stack_sets_cluster() {
  "$NEXUS_PYTHON" - "$1" <<'PY'
import sys
sys.path.insert(0, ".")
from tooling.stackfiles import stack_config
target = stack_config(sys.argv[1]).get("kubernetes") or {}
sys.exit(0 if target.get("kubeconfig") or target.get("context") else 1)
PY
}

nexus_kubeconfig_configured() {
  [ -n "${KUBECONFIG:-}" ] && return 0
  [ -f "${HOME:-/nonexistent}/.kube/config" ] && return 0
  (cd "$NEXUS_ROOT" && nexus_stack_sets_cluster "$1")
}

nexus_deploy_stack() {
  if nexus_kubeconfig_configured "$1"; then printf '%s' "$1"; else printf '%s-local' "$1"; fi
}

nexus_log() { printf '\n==> %s\n' "$*" >&2; }
