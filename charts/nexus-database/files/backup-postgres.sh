#!/bin/bash
# pg_dump of the service database from the primary, in custom format (restore with pg_restore).
source /scripts/backup-common.sh
export PGPASSWORD="$POSTGRES_PASSWORD"
pg_dump --host "$HOST" --port 5432 --username postgres --dbname "$DATABASE" --format custom \
  --file "${BACKUP_DIR}/.${STAMP}.partial"
mv "${BACKUP_DIR}/.${STAMP}.partial" "${BACKUP_DIR}/${STAMP}.dump"
prune
