#!/bin/bash
# Server ids are ordinal + 1; the ensemble is every pod of the StatefulSet by its stable name.
set -euo pipefail
export ZOOKEEPER_SERVER_ID="$(( ${HOSTNAME##*-} + 1 ))"
if [ "${REPLICAS}" -gt 1 ]; then
  servers=""
  for i in $(seq 0 $(( REPLICAS - 1 ))); do
    servers="${servers:+${servers};}${STATEFULSET}-${i}.${HEADLESS}.${POD_NAMESPACE}.svc.${CLUSTER_DOMAIN}:2888:3888"
  done
  export ZOOKEEPER_SERVERS="$servers"
fi
. /scripts/jmx-agent.sh
exec /etc/confluent/docker/run
