# Sourced by every backup script: where this run writes, how a dump becomes a backup, and pruning by age.
set -euo pipefail
umask 077
BACKUP_DIR="/backups/${TARGET}"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$BACKUP_DIR"
# A dump is written under a hidden .partial name and renamed only once its tool exited 0, so a dump that
# failed half-way is never taken for a backup. /tmp/last-backup (the pod's memory-backed scratch volume,
# which the upload container mounts too) names it for the upload.
complete() {
  local name="${STAMP}.$1"
  mv "${BACKUP_DIR}/.${STAMP}.partial" "${BACKUP_DIR}/${name}"
  printf '%s\n' "$name" > /tmp/last-backup
  echo "backup written: ${BACKUP_DIR}/${name} ($(wc -c < "${BACKUP_DIR}/${name}") bytes)"
}
prune() {
  if [ "${RETENTION_DAYS:-0}" -gt 0 ]; then
    find "$BACKUP_DIR" -type f -mtime "+${RETENTION_DAYS}" -print -delete
  fi
}
