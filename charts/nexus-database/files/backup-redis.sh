#!/bin/bash
# Redis snapshot: `--rdb` makes the primary fork a background save (as BGSAVE does) and streams the
# RDB file here, so the copy lands on the backup volume rather than next to the live data.
source /scripts/backup-common.sh
export REDISCLI_AUTH="$REDIS_PASSWORD"
# tls.mode enabled or required: TLS_CA_FILE (the server's CA, the only file of its Secret mounted here) and REDIS_PORT
# the TLS port; redis-cli verifies the certificate against the CA (not the host name: redis-cli does not check it).
tls=()
if [ -n "${TLS_CA_FILE:-}" ]; then tls=(--tls --cacert "$TLS_CA_FILE"); fi
redis-cli "${tls[@]}" -h "$HOST" -p "${REDIS_PORT:-6379}" --rdb "${BACKUP_DIR}/.${STAMP}.partial"
complete rdb
prune
