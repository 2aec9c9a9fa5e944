#!/bin/bash
# Init container: pods other than 0 start as streaming standbys, cloned once from the primary.
set -euo pipefail
if [ "${HOSTNAME##*-}" = "0" ] || [ -s "$PGDATA/PG_VERSION" ]; then
  exit 0
fi
until pg_isready --host "$PRIMARY_HOST" --port 5432; do
  echo "waiting for the primary ${PRIMARY_HOST}"
  sleep 5
done
export PGPASSWORD="$REPLICATION_PASSWORD"
rm -rf "${PGDATA}.partial"
pg_basebackup --host "$PRIMARY_HOST" --username replicator --pgdata "${PGDATA}.partial" \
  --wal-method stream --write-recovery-conf --checkpoint fast
chmod 0700 "${PGDATA}.partial"
mv "${PGDATA}.partial" "$PGDATA"
