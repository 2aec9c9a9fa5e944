#!/bin/bash
# Init container: pods other than 0 start as streaming standbys, cloned once from the primary.
set -euo pipefail
if [ "${HOSTNAME##*-}" = "0" ]; then
  exit 0
fi
# With tls.mode enabled or required, PGSSLMODE=verify-full and PGSSLROOTCERT (the CA) are set: the clone verifies the
# primary's certificate and name, and so does the standby, whose primary_conninfo the clone writes from this
# connection. A standby cloned before keeps its primary_conninfo: its sslmode follows the mode at every start.
if [ -s "$PGDATA/PG_VERSION" ]; then
  conf="$PGDATA/postgresql.auto.conf"
  # pg_basebackup writes values with other than letters quoted: sslmode=''verify-full'' sslrootcert=''/tls/ca.crt''.
  mode="sslmode=(''[a-z-]+''|[a-z-]+)"
  root=" sslrootcert=(''[^']*''|[^ ']+)"
  if [ -f "$conf" ] && [ -n "${PGSSLROOTCERT:-}" ]; then
    want="sslmode=''${PGSSLMODE:-verify-full}'' sslrootcert=''${PGSSLROOTCERT}''"
    if ! grep -qF "$want" "$conf"; then
      sed -i -E -e "/^primary_conninfo/ s#${root}##" -e "/^primary_conninfo/ s#${mode}#${want}#" "$conf"
    fi
  elif [ -f "$conf" ] && grep -qE "^primary_conninfo.*${root}" "$conf"; then
    sed -i -E -e "/^primary_conninfo/ s#${root}##" -e "/^primary_conninfo/ s#${mode}#sslmode=prefer#" "$conf"
  fi
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
