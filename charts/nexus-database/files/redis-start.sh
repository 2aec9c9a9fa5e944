#!/bin/sh
# Write redis.conf into the pod's private /tmp (the password never appears in argv), then start.
# Pod 0 is the primary; the others replicate from it.
# TLS_MODE (tls.mode; unset: disabled) enabled: TLS on 6380 beside plaintext 6379; required: TLS only, on 6379
# (`port 0`). Certificate, key and CA from /tls (Secret <component>-tls); replicas replicate over TLS, verifying the
# primary's certificate against the CA. Clients authenticate with the password, not a certificate
# (tls-auth-clients no). AUDIT_LEVEL basic or comprehensive: loglevel verbose (accepted and closed connections).
set -eu
umask 077
tls_mode="${TLS_MODE:-disabled}"
primary_port=6379
if [ "$tls_mode" = enabled ]; then primary_port=6380; fi
# redis-cli on this server: the plaintext port, or TLS when there is none.
local_cli() {
  if [ "$tls_mode" = required ]; then
    redis-cli --tls --cacert /tls/ca.crt -h 127.0.0.1 -p 6379 "$@"
  else
    redis-cli -h 127.0.0.1 "$@"
  fi
}
# A snapshot restored onto a volume without an AOF (dump.rdb copied into /data, see the chart's README) is
# read only with AOF off: Redis started with `appendonly yes` loads the AOF alone and would start empty.
# So start with AOF off and switch it on once the snapshot is loaded (that writes the AOF from the data).
restoring=false
if [ -f /data/dump.rdb ] && [ ! -d /data/appendonlydir ]; then
  restoring=true
fi
{
  # The default user takes the current password and, after a rotation, the previous one (REDIS_PREVIOUS_PASSWORD,
  # unset before the first rotation), so a restart does not end the grace of clients that have not rolled yet.
  if [ -n "${REDIS_PREVIOUS_PASSWORD:-}" ]; then
    printf 'user default on resetpass ">%s" ">%s" ~* &* +@all\n' "$REDIS_PASSWORD" "$REDIS_PREVIOUS_PASSWORD"
  else
    printf 'requirepass "%s"\n' "$REDIS_PASSWORD"
  fi
  printf 'masterauth "%s"\n' "$REDIS_PASSWORD"
  echo 'dir /data'
  if [ "$restoring" = true ]; then echo 'appendonly no'; else echo 'appendonly yes'; fi
  case "$tls_mode" in
    required) echo 'port 0'; echo 'tls-port 6379' ;;
    enabled) echo 'tls-port 6380' ;;
  esac
  if [ "$tls_mode" != disabled ]; then
    echo 'tls-cert-file /tls/tls.crt'
    echo 'tls-key-file /tls/tls.key'
    echo 'tls-ca-cert-file /tls/ca.crt'
    echo 'tls-auth-clients no'
    echo 'tls-replication yes'
  fi
  case "${AUDIT_LEVEL:-disabled}" in
    basic | comprehensive) echo 'loglevel verbose' ;;
  esac
  if [ "${HOSTNAME##*-}" != "0" ]; then
    echo "replicaof ${PRIMARY_HOST} ${primary_port}"
  fi
} > /tmp/redis.conf
if [ "$restoring" = true ]; then
  (
    export REDISCLI_AUTH="$REDIS_PASSWORD" # redis-cli reads it from the environment, not argv
    until [ "$(local_cli ping 2>/dev/null)" = PONG ]; do sleep 1; done
    local_cli CONFIG SET appendonly yes >/dev/null
  ) &
fi
if [ "$tls_mode" != disabled ]; then
  # Redis reads the certificate at start and when a tls-* setting is set (CONFIG SET reloads the files even with
  # the same paths), not when the kubelet puts a renewed one into /tls: set them again when it changes.
  (
    export REDISCLI_AUTH="$REDIS_PASSWORD"
    fingerprint() { cat /tls/tls.crt /tls/ca.crt 2>/dev/null | cksum; }
    last="$(fingerprint)"
    while sleep "${TLS_RELOAD_SECONDS:-30}"; do
      now="$(fingerprint)"
      if [ "$now" != "$last" ] && [ "$(local_cli CONFIG SET tls-cert-file /tls/tls.crt tls-key-file /tls/tls.key \
        tls-ca-cert-file /tls/ca.crt 2>&1)" = OK ]; then
        echo "tls-reload: the certificate in /tls changed: redis reloaded it"
        last="$now"
      fi
    done
  ) &
fi
exec redis-server /tmp/redis.conf
