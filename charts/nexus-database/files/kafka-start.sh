#!/bin/bash
# Broker identity comes from the pod ordinal; each broker advertises its stable headless-service name.
set -euo pipefail
export KAFKA_BROKER_ID="${HOSTNAME##*-}"
export KAFKA_LISTENERS="INTERNAL://0.0.0.0:9092"
export KAFKA_ADVERTISED_LISTENERS="INTERNAL://${HOSTNAME}.${HEADLESS}.${POD_NAMESPACE}.svc.${CLUSTER_DOMAIN}:9092"
export KAFKA_INTER_BROKER_LISTENER_NAME=INTERNAL
if [ "${SASL_ENABLED}" = "true" ]; then
  export KAFKA_LISTENER_SECURITY_PROTOCOL_MAP="INTERNAL:SASL_PLAINTEXT"
  export KAFKA_SASL_ENABLED_MECHANISMS=PLAIN
  export KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL=PLAIN
  export KAFKA_LISTENER_NAME_INTERNAL_PLAIN_SASL_JAAS_CONFIG="org.apache.kafka.common.security.plain.PlainLoginModule required username=\"${SASL_USERNAME}\" password=\"${SASL_PASSWORD}\" user_${SASL_USERNAME}=\"${SASL_PASSWORD}\";"
else
  export KAFKA_LISTENER_SECURITY_PROTOCOL_MAP="INTERNAL:PLAINTEXT"
fi
unset SASL_PASSWORD
exec /etc/confluent/docker/run
