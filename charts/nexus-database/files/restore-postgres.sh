#!/bin/bash
# The restore container of a restore Job (`python -m backups restore`): pg_restore of one pg_dump backup
# (RESTORE_FILE) into the service database on HOST, as postgres, in one transaction (a failure leaves the
# database as it was). A database that already holds tables is refused unless FORCE=yes; then the
# dump's objects are dropped and recreated (--clean --if-exists).
set -euo pipefail
export PGPASSWORD="$POSTGRES_PASSWORD"
# tls.mode enabled or required (TLS_CA_FILE, the server's CA): verify the server's certificate and name.
if [ -n "${TLS_CA_FILE:-}" ]; then
  export PGSSLMODE="${PGSSLMODE:-verify-full}" PGSSLROOTCERT="${PGSSLROOTCERT:-$TLS_CA_FILE}"
fi
# From the volume by date (RESTORE_DATE=YYYYMMDD): that day's newest dump.
if [ -z "${RESTORE_FILE:-}" ]; then
  RESTORE_FILE="$(ls -1 "/backups/${TARGET}/${RESTORE_DATE}"T*.dump 2>/dev/null | tail -n 1 || true)"
fi
if [ ! -s "$RESTORE_FILE" ]; then
  echo "restore: ${RESTORE_FILE} is missing or empty" >&2
  exit 2
fi
pg_restore --list "$RESTORE_FILE" > /dev/null # a readable archive, before the database is touched
tables="$(psql --no-password --host "$HOST" --port 5432 --username postgres --dbname "$DATABASE" -Atc \
  "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")"
clean=()
if [ "$tables" -gt 0 ]; then
  if [ "${FORCE:-no}" != yes ]; then
    echo "restore: ${DATABASE} on ${HOST} is not empty (${tables} tables): refusing to overwrite it (--force replaces them)" >&2
    exit 3
  fi
  clean=(--clean --if-exists)
fi
pg_restore --no-password --host "$HOST" --port 5432 --username postgres --dbname "$DATABASE" \
  --exit-on-error --single-transaction "${clean[@]}" "$RESTORE_FILE"
echo "restored $(basename "$RESTORE_FILE") into ${DATABASE} on ${HOST}"
