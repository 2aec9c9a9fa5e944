#!/bin/bash
# Run by the image's initdb on pod 0 (once, on an empty data directory): the service user owning its
# database, and the replication role standbys clone with. Safe to run again (a re-initialisation, a restore
# into a used volume): roles are created only when missing, their passwords set to the Secret's current
# ones, and the pg_hba entry written once. Passwords arrive as psql variables from the environment (a
# Secret), never in a command line.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v app_user="$APP_USERNAME" -v app_password="$APP_PASSWORD" \
  -v replication_password="$REPLICATION_PASSWORD" -v database="$POSTGRES_DB" <<'SQL'
-- audit.level basic/comprehensive log DDL (log_statement): not this session's, which holds passwords.
SET log_statement = 'none';
SELECT format('CREATE ROLE %I', :'app_user')
  WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = :'app_user') \gexec
ALTER ROLE :"app_user" WITH LOGIN PASSWORD :'app_password';
ALTER DATABASE :"database" OWNER TO :"app_user";
SELECT 'CREATE ROLE replicator'
  WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'replicator') \gexec
ALTER ROLE replicator WITH REPLICATION LOGIN PASSWORD :'replication_password';
SQL
entry="host replication replicator all scram-sha-256"
grep -qxF "$entry" "$PGDATA/pg_hba.conf" || echo "$entry" >> "$PGDATA/pg_hba.conf"
