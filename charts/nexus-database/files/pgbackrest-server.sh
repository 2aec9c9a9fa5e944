#!/bin/bash
# Sidecar of each PostgreSQL pod with point-in-time recovery on (backup.pointInTime): the pgBackRest server through
# which the backup Job's base-backup container reads PGDATA (pgBackRest copies files where they are). TLS, the
# pod's certificate; only the backup Job's client certificate is admitted (PGBACKREST_TLS_SERVER_AUTH).
# On pod 0 (the primary) it first creates the stanza in the repository when it is missing, so archive_command
# ships WAL from the first minutes on rather than from the first nightly backup.
set -euo pipefail
if [ "${HOSTNAME##*-}" = "0" ]; then
  until pg_isready --quiet --host "$PGBACKREST_PG1_SOCKET_PATH" --port "$PGBACKREST_PG1_PORT"; do
    sleep 2
  done
  # Not fatal: the backup Job creates it too, and until then WAL waits in pg_wal (archive_command retries).
  pgbackrest --log-level-console=info stanza-create ||
    echo "pgbackrest-server.sh: stanza-create failed; WAL stays in pg_wal until a backup Job creates the stanza" >&2
fi
exec pgbackrest --log-level-console=info server
