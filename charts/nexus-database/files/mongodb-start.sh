#!/bin/bash
# Start mongod as a replica-set member. Only pod 0 bootstraps the root and service users (the image's
# initdb runs when its data directory is empty); the other members join empty and receive the users by
# initial sync, so they must not create their own.
set -euo pipefail
if [ "${HOSTNAME##*-}" != "0" ]; then
  unset MONGO_INITDB_ROOT_USERNAME MONGO_INITDB_ROOT_PASSWORD
fi
exec docker-entrypoint.sh mongod --replSet "${REPLICA_SET}" --bind_ip_all --keyFile /keyfile/keyfile
