#!/usr/bin/env bash
# Destroy what `make up STACK=...` deployed: `make down [STACK=dev] [DOWN_ARGS=--backup-first|--no-backup]`. The same stack up.sh chose
# (STACK on a configured cluster, else STACK-local), then the local control plane is stopped if
# up.sh started it. PVCs and namespaces that hold data are retained by the program on destroy.
set -euo pipefail
# (enters the repository and sources scripts/pulumi-env.sh)
# shellcheck source=local-cluster/target.sh
source "$(dirname "${BASH_SOURCE[0]}")/local-cluster/target.sh"

# --backup-first: back up every database (python -m backups backup-now --all) and destroy only if all
# succeeded; --no-backup: don't ask. Neither: ask on a terminal; without one (CI) no backup, no waiting.
BACKUP=ask
POSITIONAL=()
for arg in "$@"; do
  case "$arg" in
    --backup-first) BACKUP=yes ;;
    --no-backup) BACKUP=no ;;
    *) POSITIONAL+=("$arg") ;;
  esac
done
STACK="${POSITIONAL[0]:-dev}"
DEPLOY="$(nexus_deploy_stack "$STACK")"

final_backup() {
  if [ "$BACKUP" = ask ]; then
    if [ -t 0 ]; then
      read -r -p "Take a final backup of every database of $STACK before destroying it? [y/N] " answer
      case "$answer" in [yY]*) BACKUP=yes ;; *) BACKUP=no ;; esac
    else
      echo "down.sh: no terminal, so no final backup (make down DOWN_ARGS=--backup-first takes one)" >&2
      BACKUP=no
    fi
  fi
  [ "$BACKUP" = yes ] || return 0
  if [ "$DEPLOY" != "$STACK" ]; then eval "$(bash scripts/local-cluster.sh env)"; fi
  nexus_log "final backup of every database (python -m backups backup-now --all --stack $STACK)"
  "$NEXUS_PYTHON" -m backups backup-now --all --stack "$STACK" || {
    echo "down.sh: the final backup failed: nothing destroyed" >&2
    exit 1
  }
}

if ! pulumi stack select "$DEPLOY" --non-interactive >/dev/null 2>&1; then
  echo "down.sh: no stack $DEPLOY on $PULUMI_BACKEND_URL: nothing to destroy" >&2
elif [ "$DEPLOY" != "$STACK" ] && ! bash scripts/local-cluster.sh status >/dev/null 2>&1; then
  bash scripts/local-cluster.sh start >/dev/null
  touch "$NEXUS_STARTED_MARKER" # started to destroy; stopped again below
  final_backup
  nexus_log "pulumi destroy --stack $DEPLOY"
  pulumi destroy --yes --stack "$DEPLOY" --non-interactive
else
  final_backup
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
