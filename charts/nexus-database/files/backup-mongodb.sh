#!/bin/bash
# mongodump of the whole replica set (from a secondary when there is one), gzipped into one archive.
source /scripts/backup-common.sh
printf 'password: "%s"\n' "$MONGO_ROOT_PASSWORD" > /tmp/mongodump.yaml
mongodump --config /tmp/mongodump.yaml \
  --uri "mongodb://root@${HOST}:27017/?replicaSet=${REPLICA_SET}&authSource=admin&readPreference=secondaryPreferred" \
  --gzip --archive="${BACKUP_DIR}/.${STAMP}.partial"
mv "${BACKUP_DIR}/.${STAMP}.partial" "${BACKUP_DIR}/${STAMP}.archive.gz"
prune
