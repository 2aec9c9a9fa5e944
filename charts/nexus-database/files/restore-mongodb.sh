#!/bin/bash
# The restore container of a MongoDB restore Job: mongorestore of one `mongodump --oplog` archive
# (RESTORE_FILE) into the replica set, replaying the oplog captured during the dump (--oplogReplay).
# A replica set that holds any database besides admin/config/local is refused unless FORCE=yes; then
# each restored collection is dropped first (--drop).
set -euo pipefail
# From the volume by date (RESTORE_DATE=YYYYMMDD): that day's newest dump.
if [ -z "${RESTORE_FILE:-}" ]; then
  RESTORE_FILE="$(ls -1 "/backups/${TARGET}/${RESTORE_DATE}"T*.archive.gz 2>/dev/null | tail -n 1 || true)"
fi
if [ ! -s "$RESTORE_FILE" ]; then
  echo "restore: ${RESTORE_FILE} is missing or empty" >&2
  exit 2
fi
uri="mongodb://root@${HOST}:27017/?replicaSet=${REPLICA_SET}&authSource=admin"
# TLS (TLS_CA_FILE: the server Secret's ca.crt, as the backup CronJob mounts it): names checked against it.
tls=() tls_query=""
if [ -n "${TLS_CA_FILE:-}" ]; then
  tls=(--ssl "--sslCAFile=${TLS_CA_FILE}") tls_query="&tls=true&tlsCAFile=${TLS_CA_FILE}"
fi
# mongosh reads the password from its environment, so it is in no argv.
databases="$(mongosh --nodb --quiet --eval "
  const conn = connect('mongodb://root:' + encodeURIComponent(process.env.MONGO_ROOT_PASSWORD) +
    '@${HOST}:27017/admin?replicaSet=${REPLICA_SET}&authSource=admin${tls_query}');
  print(conn.adminCommand({listDatabases: 1}).databases
    .filter(d => !['admin', 'config', 'local'].includes(d.name)).length)")"
drop=()
if [ "$databases" -gt 0 ]; then
  if [ "${FORCE:-no}" != yes ]; then
    echo "restore: the replica set ${REPLICA_SET} is not empty (${databases} databases): refusing to overwrite it (--force replaces them)" >&2
    exit 3
  fi
  drop=(--drop)
fi
printf 'password: "%s"\n' "$MONGO_ROOT_PASSWORD" > /tmp/mongorestore.yaml
mongorestore --config /tmp/mongorestore.yaml "${tls[@]}" --uri "$uri" --oplogReplay --gzip \
  --archive="$RESTORE_FILE" "${drop[@]}"
echo "restored $(basename "$RESTORE_FILE") into ${REPLICA_SET}"
