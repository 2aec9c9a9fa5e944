#!/bin/bash
# Sidecar: on pod 0, reconcile the replica set every 30s; on the other pods there is nothing to do.
set -uo pipefail
if [ "${HOSTNAME##*-}" != "0" ]; then
  exec sleep infinity
fi
while true; do
  mongosh --nodb --quiet --file /scripts/mongodb-replica-set.js || echo "replica set not reconciled yet; retrying"
  sleep 30
done
