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
  # Every login the Secret holds is accepted: the active one and, after a rotation, the one it replaced
  # (SASL_PREVIOUS_*), so clients that have not switched yet keep working until the next rotation. Brokers log
  # in to each other with the previous login while there is one: every broker knows it, rolled or not.
  users="user_${SASL_USERNAME}=\"${SASL_PASSWORD}\""
  login_user="${SASL_USERNAME}" login_password="${SASL_PASSWORD}"
  if [ -n "${SASL_PREVIOUS_USERNAME:-}" ] && [ -n "${SASL_PREVIOUS_PASSWORD:-}" ]; then
    users="${users} user_${SASL_PREVIOUS_USERNAME}=\"${SASL_PREVIOUS_PASSWORD}\""
    login_user="${SASL_PREVIOUS_USERNAME}" login_password="${SASL_PREVIOUS_PASSWORD}"
  fi
  export KAFKA_LISTENER_NAME_INTERNAL_PLAIN_SASL_JAAS_CONFIG="org.apache.kafka.common.security.plain.PlainLoginModule required username=\"${login_user}\" password=\"${login_password}\" ${users};"
  unset users login_user login_password
else
  export KAFKA_LISTENER_SECURITY_PROTOCOL_MAP="INTERNAL:PLAINTEXT"
fi
unset SASL_PASSWORD SASL_PREVIOUS_PASSWORD
# Metrics: the JMX exporter agent in the broker's JVM (metrics.enabled).
. /scripts/jmx-agent.sh
exec /etc/confluent/docker/run
