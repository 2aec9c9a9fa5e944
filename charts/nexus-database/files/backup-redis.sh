#!/bin/bash
# Redis snapshot: `--rdb` makes the primary fork a background save (as BGSAVE does) and streams the
# RDB file here, so the copy lands on the backup volume rather than next to the live data.
source /scripts/backup-common.sh
export REDISCLI_AUTH="$REDIS_PASSWORD"
redis-cli -h "$HOST" -p 6379 --rdb "${BACKUP_DIR}/.${STAMP}.partial"
complete rdb
prune
