#!/bin/bash
# Run once by the image's initdb on pod 0: the service user owning its database, and the replication
# role standbys clone with. Passwords arrive as psql variables from the environment (a Secret).
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v app_user="$APP_USERNAME" -v app_password="$APP_PASSWORD" \
  -v replication_password="$REPLICATION_PASSWORD" -v database="$POSTGRES_DB" <<'SQL'
CREATE ROLE :"app_user" WITH LOGIN PASSWORD :'app_password';
ALTER DATABASE :"database" OWNER TO :"app_user";
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'replication_password';
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
