#!/bin/sh
# Write redis.conf into the pod's private /tmp (the password never appears in argv), then start.
# Pod 0 is the primary; the others replicate from it.
set -eu
umask 077
{
  printf 'requirepass "%s"\n' "$REDIS_PASSWORD"
  printf 'masterauth "%s"\n' "$REDIS_PASSWORD"
  echo 'dir /data'
  echo 'appendonly yes'
  if [ "${HOSTNAME##*-}" != "0" ]; then
    echo "replicaof ${PRIMARY_HOST} 6379"
  fi
} > /tmp/redis.conf
exec redis-server /tmp/redis.conf
