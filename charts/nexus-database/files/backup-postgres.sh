#!/bin/bash
# pg_dump of the service database from the primary, in custom format (restore-postgres.sh: pg_restore).
source /scripts/backup-common.sh
export PGPASSWORD="$POSTGRES_PASSWORD"
# tls.mode enabled or required: TLS_CA_FILE (the server's CA, the only file of its Secret mounted here), and libpq
# verifies the server's certificate and that it names HOST.
if [ -n "${TLS_CA_FILE:-}" ]; then
  export PGSSLMODE="${PGSSLMODE:-verify-full}" PGSSLROOTCERT="${PGSSLROOTCERT:-$TLS_CA_FILE}"
fi
pg_dump --host "$HOST" --port 5432 --username postgres --dbname "$DATABASE" --format custom \
  --file "${BACKUP_DIR}/.${STAMP}.partial"
complete dump
prune
