#!/bin/bash
# pg_dump of the service database from the primary, in custom format (restore-postgres.sh: pg_restore).
source /scripts/backup-common.sh
export PGPASSWORD="$POSTGRES_PASSWORD"
pg_dump --host "$HOST" --port 5432 --username postgres --dbname "$DATABASE" --format custom \
  --file "${BACKUP_DIR}/.${STAMP}.partial"
complete dump
prune
