#!/bin/sh
# Write redis.conf into the pod's private /tmp (the password never appears in argv), then start.
# Pod 0 is the primary; the others replicate from it.
set -eu
umask 077
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
  if [ "${HOSTNAME##*-}" != "0" ]; then
    echo "replicaof ${PRIMARY_HOST} 6379"
  fi
} > /tmp/redis.conf
if [ "$restoring" = true ]; then
  (
    export REDISCLI_AUTH="$REDIS_PASSWORD" # redis-cli reads it from the environment, not argv
    until [ "$(redis-cli -h 127.0.0.1 ping 2>/dev/null)" = PONG ]; do sleep 1; done
    redis-cli -h 127.0.0.1 CONFIG SET appendonly yes >/dev/null
  ) &
fi
exec redis-server /tmp/redis.conf
