#!/usr/bin/env bash
# Destroy what `make up STACK=...` deployed: `make down [STACK=dev]`. The same stack up.sh chose
# (STACK on a configured cluster, else STACK-local), then the local control plane is stopped if
# up.sh started it. PVCs and namespaces that hold data are retained by the program on destroy.
set -euo pipefail
# (enters the repository and sources scripts/pulumi-env.sh)
# shellcheck source=local-cluster/target.sh
source "$(dirname "${BASH_SOURCE[0]}")/local-cluster/target.sh"

STACK="${1:-dev}"
DEPLOY="$(nexus_deploy_stack "$STACK")"

if ! pulumi stack select "$DEPLOY" --non-interactive >/dev/null 2>&1; then
  echo "down.sh: no stack $DEPLOY on $PULUMI_BACKEND_URL: nothing to destroy" >&2
elif [ "$DEPLOY" != "$STACK" ] && ! bash scripts/local-cluster.sh status >/dev/null 2>&1; then
  bash scripts/local-cluster.sh start >/dev/null
  touch "$NEXUS_STARTED_MARKER" # started to destroy; stopped again below
  nexus_log "pulumi destroy --stack $DEPLOY"
  pulumi destroy --yes --stack "$DEPLOY" --non-interactive
else
  nexus_log "pulumi destroy --stack $DEPLOY"
  pulumi destroy --yes --stack "$DEPLOY" --non-interactive
fi

if [ -f "$NEXUS_STARTED_MARKER" ]; then
  nexus_log "stopping the local control plane that make up started (data kept; wipe it with scripts/local-cluster.sh reset)"
  bash scripts/local-cluster.sh stop
  rm -f "$NEXUS_STARTED_MARKER"
elif [ "$DEPLOY" != "$STACK" ]; then
  echo "the local control plane was running before make up: left running (stop it with make cluster-down)" >&2
fi
