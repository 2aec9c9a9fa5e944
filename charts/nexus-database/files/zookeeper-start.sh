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
# TLS (tls.mode): the chart points ZOOKEEPER_SSL_KEYSTORE_LOCATION (client port 2182 and quorum) at a file in
# memory; ZooKeeper reads PEM itself (ssl.keyStore.type=PEM: key and chain in one file, no password). Built from
# the certificate Secret at start: a renewed certificate takes a restart (README "TLS").
if [ -n "${ZOOKEEPER_SSL_KEYSTORE_LOCATION:-}" ]; then
  (umask 077 && cat /tls/tls.key /tls/tls.crt > "${ZOOKEEPER_SSL_KEYSTORE_LOCATION}")
fi
. /scripts/jmx-agent.sh
exec /etc/confluent/docker/run
