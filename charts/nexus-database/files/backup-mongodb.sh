#!/bin/bash
# mongodump of the whole replica set (from a secondary when there is one), gzipped into one archive.
# --oplog also captures the oplog entries written while the dump ran, so `mongorestore --oplogReplay`
# (restore-mongodb.sh) restores one consistent moment: the end of the dump.
source /scripts/backup-common.sh
printf 'password: "%s"\n' "$MONGO_ROOT_PASSWORD" > /tmp/mongodump.yaml
# TLS (TLS_CA_FILE: only the server Secret's ca.crt is mounted): the members' names are checked against it.
tls=()
if [ -n "${TLS_CA_FILE:-}" ]; then
  tls=(--ssl "--sslCAFile=${TLS_CA_FILE}")
fi
mongodump --config /tmp/mongodump.yaml "${tls[@]}" \
  --uri "mongodb://root@${HOST}:27017/?replicaSet=${REPLICA_SET}&authSource=admin&readPreference=secondaryPreferred" \
  --oplog --gzip --archive="${BACKUP_DIR}/.${STAMP}.partial"
complete archive.gz
prune
