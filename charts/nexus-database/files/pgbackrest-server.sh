#!/bin/bash
# Sidecar of each PostgreSQL pod with point-in-time recovery on (backup.pointInTime): the pgBackRest server through
# which the backup Job's base-backup container reads PGDATA (pgBackRest copies files where they are). TLS, the
# pod's certificate; only the backup Job's client certificate is admitted (PGBACKREST_TLS_SERVER_AUTH).
# On pod 0 (the primary) it first creates the stanza in the repository when it is missing, so archive_command
# ships WAL from the first minutes on rather than from the first nightly backup.
# pgBackRest reads its certificate, key and CA when the server starts, not when cert-manager renews them (the
# kubelet replaces the Secret's files in the volume): when they change, the server is restarted on the new ones,
# so a renewed certificate is served before the old one expires, without restarting the pod.
set -euo pipefail
if [ "${HOSTNAME##*-}" = "0" ]; then
  until pg_isready --quiet --host "$PGBACKREST_PG1_SOCKET_PATH" --port "$PGBACKREST_PG1_PORT"; do
    sleep 2
  done
  # Not fatal: the backup Job creates it too, and until then WAL waits in pg_wal (archive_command retries).
  pgbackrest --log-level-console=info stanza-create ||
    echo "pgbackrest-server.sh: stanza-create failed; WAL stays in pg_wal until a backup Job creates the stanza" >&2
fi
fingerprint() {
  sha256sum "$PGBACKREST_TLS_SERVER_CERT_FILE" "$PGBACKREST_TLS_SERVER_KEY_FILE" "$PGBACKREST_TLS_SERVER_CA_FILE" \
    2>/dev/null | cut -d' ' -f1 | tr -d '\n'
}
server=""
trap '[ -n "$server" ] && kill -TERM "$server" 2>/dev/null; wait; exit 0' TERM INT
while :; do
  last="$(fingerprint)"
  pgbackrest --log-level-console=info server &
  server=$!
  while kill -0 "$server" 2>/dev/null; do
    sleep "${INTERVAL_SECONDS:-30}" &
    wait $! || true
    if [ "$(fingerprint)" != "$last" ]; then
      echo "$(date -u +%FT%TZ) pgbackrest-server.sh: the certificate changed: restarting the server on it"
      kill -TERM "$server"
      wait "$server" || true
      continue 2
    fi
  done
  # The server stopped on its own: the container ends with its status, and the kubelet restarts it.
  status=0
  wait "$server" || status=$?
  exit "$status"
done
