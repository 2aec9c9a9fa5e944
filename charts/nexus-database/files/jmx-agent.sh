#!/bin/bash
# Sourced by zookeeper-start.sh and kafka-start.sh. With metrics on (METRICS_PORT and METRICS_CONFIG set by the
# chart), the JVM loads the Prometheus JMX exporter agent that the Confluent images ship in their cp-base-new
# layer and serves its MBeans, mapped by METRICS_CONFIG's rules, on METRICS_PORT (/metrics).
# KAFKA_JMX_OPTS rather than KAFKA_OPTS: the images' launch passes it to the server's JVM only, while their
# readiness check (`cub zk-ready`, before the broker starts) runs a JVM with KAFKA_OPTS too.
if [ -n "${METRICS_PORT:-}" ]; then
  jmx_agents=(/usr/share/java/cp-base-new/jmx_prometheus_javaagent-*.jar)
  if [ ! -f "${jmx_agents[0]}" ]; then
    echo "metrics: no jmx_prometheus_javaagent-*.jar in /usr/share/java/cp-base-new (this image does not ship the agent); use a Confluent 7.x image or set metrics.enabled=false" >&2
    exit 1
  fi
  export KAFKA_JMX_OPTS="-javaagent:${jmx_agents[-1]}=${METRICS_PORT}:${METRICS_CONFIG}"
fi
