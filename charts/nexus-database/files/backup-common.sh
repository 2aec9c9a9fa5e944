# Sourced by every backup script: where this run writes, and pruning by age once the dump succeeded.
set -euo pipefail
umask 077
BACKUP_DIR="/backups/${TARGET}"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$BACKUP_DIR"
prune() {
  if [ "${RETENTION_DAYS:-0}" -gt 0 ]; then
    find "$BACKUP_DIR" -type f -mtime "+${RETENTION_DAYS}" -print -delete
  fi
}
