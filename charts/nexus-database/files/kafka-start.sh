#!/bin/bash
# Broker identity comes from the pod ordinal; each broker advertises its stable headless-service name.
set -euo pipefail
export KAFKA_BROKER_ID="${HOSTNAME##*-}"
name="${HOSTNAME}.${HEADLESS}.${POD_NAMESPACE}.svc.${CLUSTER_DOMAIN}"
# TLS (tls.mode, TLS_MODE from the chart): "enabled" keeps the client listener INTERNAL on 9092 as it was and adds
# TLS on 9093, which the brokers use among themselves; "required" turns INTERNAL itself into TLS (same port), so
# no listener takes plaintext. The listener names are INTERNAL and TLS, never SSL: the image's configure script
# keys its keystore checks on "SSL://" in the advertised listeners (JKS files and password files under
# /etc/kafka/secrets), and Kafka reads the PEM files cert-manager writes itself (ssl.keystore.type=PEM: the
# key and its chain in one file, which is all that is built here; no password exists).
TLS_MODE="${TLS_MODE:-disabled}"
plain=PLAINTEXT secure=SSL
if [ "${SASL_ENABLED}" = "true" ]; then
  plain=SASL_PLAINTEXT secure=SASL_SSL
fi
case "$TLS_MODE" in
  enabled)
    export KAFKA_LISTENERS="INTERNAL://0.0.0.0:9092,TLS://0.0.0.0:9093"
    export KAFKA_ADVERTISED_LISTENERS="INTERNAL://${name}:9092,TLS://${name}:9093"
    export KAFKA_LISTENER_SECURITY_PROTOCOL_MAP="INTERNAL:${plain},TLS:${secure}"
    export KAFKA_INTER_BROKER_LISTENER_NAME=TLS
    listeners="INTERNAL TLS"
    ;;
  required)
    export KAFKA_LISTENERS="INTERNAL://0.0.0.0:9092"
    export KAFKA_ADVERTISED_LISTENERS="INTERNAL://${name}:9092"
    export KAFKA_LISTENER_SECURITY_PROTOCOL_MAP="INTERNAL:${secure}"
    export KAFKA_INTER_BROKER_LISTENER_NAME=INTERNAL
    listeners="INTERNAL"
    ;;
  *)
    export KAFKA_LISTENERS="INTERNAL://0.0.0.0:9092"
    export KAFKA_ADVERTISED_LISTENERS="INTERNAL://${name}:9092"
    export KAFKA_LISTENER_SECURITY_PROTOCOL_MAP="INTERNAL:${plain}"
    export KAFKA_INTER_BROKER_LISTENER_NAME=INTERNAL
    listeners="INTERNAL"
    ;;
esac
if [ "$TLS_MODE" != disabled ]; then
  # The broker's key store: key + chain from the certificate Secret, readable by this user only, in memory.
  # Read at start: a renewed certificate takes a restart of the broker (README "TLS").
  (umask 077 && cat /tls/tls.key /tls/tls.crt > "${KAFKA_SSL_KEYSTORE_LOCATION}")
fi
if [ "${SASL_ENABLED}" = "true" ]; then
  export KAFKA_SASL_ENABLED_MECHANISMS=PLAIN
  export KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL=PLAIN
  # Every login the Secret holds is accepted: the active one and, after a rotation, the one it replaced
  # (SASL_PREVIOUS_*), so clients that have not switched yet keep working until the next rotation. Brokers log
  # in to each other with the previous login while there is one: every broker knows it, rolled or not.
  users="user_${SASL_USERNAME}=\"${SASL_PASSWORD}\""
  login_user="${SASL_USERNAME}" login_password="${SASL_PASSWORD}"
  super_users="User:${SASL_USERNAME}"
  if [ -n "${SASL_PREVIOUS_USERNAME:-}" ] && [ -n "${SASL_PREVIOUS_PASSWORD:-}" ]; then
    users="${users} user_${SASL_PREVIOUS_USERNAME}=\"${SASL_PREVIOUS_PASSWORD}\""
    login_user="${SASL_PREVIOUS_USERNAME}" login_password="${SASL_PREVIOUS_PASSWORD}"
    super_users="${super_users};User:${SASL_PREVIOUS_USERNAME}"
  fi
  for listener in $listeners; do
    export "KAFKA_LISTENER_NAME_${listener}_PLAIN_SASL_JAAS_CONFIG=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"${login_user}\" password=\"${login_password}\" ${users};"
  done
  # Audit (AUDIT_LEVEL): the authorizer the chart turns on must never refuse the brokers' own logins.
  if [ -n "${KAFKA_AUTHORIZER_CLASS_NAME:-}" ]; then
    export KAFKA_SUPER_USERS="$super_users"
  fi
  unset users login_user login_password super_users
fi
unset SASL_PASSWORD SASL_PREVIOUS_PASSWORD listeners name plain secure
# Metrics: the JMX exporter agent in the broker's JVM (metrics.enabled).
. /scripts/jmx-agent.sh
exec /etc/confluent/docker/run
