#!/bin/bash
# mongodump of the whole replica set (from a secondary when there is one), gzipped into one archive.
# --oplog also captures the oplog entries written while the dump ran, so `mongorestore --oplogReplay`
# (restore-mongodb.sh) restores one consistent moment: the end of the dump.
source /scripts/backup-common.sh
printf 'password: "%s"\n' "$MONGO_ROOT_PASSWORD" > /tmp/mongodump.yaml
mongodump --config /tmp/mongodump.yaml \
  --uri "mongodb://root@${HOST}:27017/?replicaSet=${REPLICA_SET}&authSource=admin&readPreference=secondaryPreferred" \
  --oplog --gzip --archive="${BACKUP_DIR}/.${STAMP}.partial"
complete archive.gz
prune
