#!/bin/bash
# Teach a running PostgreSQL its next credentials, authenticated with the ones it has now (the rotation Job
# of components/rotation.py; it runs before the Secret the clients read changes, so no client is ever handed
# a password the server does not accept yet).
#
# Environment (passwords only ever in the environment, read by psql's \getenv, never on a command line):
#   PGHOST, PGPORT, PGDATABASE       the primary, and a database every login may connect to
#   ADMIN_USER                       the superuser (postgres)
#   CURRENT_ADMIN_PASSWORD           the admin password the live Secret holds now; unset when that Secret does
#                                    not exist yet, i.e. a new stack whose database will be initialised with
#                                    the next credentials: then there is nothing to rotate
#   NEXT_ADMIN_PASSWORD              the admin password to set (unset: the admin password is not rotated)
#   APP_BASE_USER                    the service user owning the data; APP_USER is the login clients get next:
#   APP_USER, NEXT_APP_PASSWORD      the base user itself, or its alternate (<base>_alt, a login that acts as
#                                    the base user), so the login clients hold now keeps working until the
#                                    next rotation. Unset APP_USER: no service user here.
#   REPLICATION_USER, NEXT_REPLICATION_PASSWORD   the streaming-replication role (unset: none)
#   PGSSLMODE, PGSSLROOTCERT         with TLS on (tls.mode enabled or required): verify-full and the servers' CA
#                                    (libpq reads them; TLS_CA_FILE alone sets both)
#
# Idempotent and safe to kill at any point: every statement sets what should be; the admin password changes
# last, and the admin login is tried with the next password first, so a re-run after a kill that left the new
# admin password in place still gets in. It exits non-zero (and the Secret stays as it is) unless every next
# credential has been verified by logging in with it.
set -euo pipefail

log() { printf '%s rotate-postgres: %s\n' "$(date -u +%FT%TZ)" "$*"; }

if [ -z "${CURRENT_ADMIN_PASSWORD+set}" ]; then
  log "no live credentials Secret yet: the database will be created with the next credentials; nothing to rotate"
  exit 0
fi

export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-10}"
if [ -n "${TLS_CA_FILE:-}" ]; then
  export PGSSLMODE="${PGSSLMODE:-verify-full}" PGSSLROOTCERT="${PGSSLROOTCERT:-$TLS_CA_FILE}"
fi
admin_login() { # $1: the password to try
  PGPASSWORD="$1" psql -X -q -At -U "$ADMIN_USER" -c 'SELECT 1' >/dev/null 2>&1
}

# Which admin password the server takes now: the next one (a re-run after the admin password was set), else
# the current one. Neither: the server is not up yet (retry) or something else changed it (fail loudly).
admin_password=""
for attempt in 1 2 3 4 5 6; do
  if [ -n "${NEXT_ADMIN_PASSWORD:-}" ] && admin_login "$NEXT_ADMIN_PASSWORD"; then
    admin_password="$NEXT_ADMIN_PASSWORD"
    break
  fi
  if admin_login "$CURRENT_ADMIN_PASSWORD"; then
    admin_password="$CURRENT_ADMIN_PASSWORD"
    break
  fi
  log "attempt $attempt: the server at $PGHOST:$PGPORT accepts neither admin password yet; retrying"
  sleep "${RETRY_SECONDS:-5}"
done
if [ -z "$admin_password" ]; then
  log "the server accepts neither the current nor the next admin password: refusing to change anything"
  exit 1
fi
export PGPASSWORD="$admin_password"

if [ -n "${APP_USER:-}" ]; then
  log "setting the password of login $APP_USER (service user $APP_BASE_USER)"
  psql -X -q -v ON_ERROR_STOP=1 -U "$ADMIN_USER" -v app_user="$APP_USER" -v base_user="$APP_BASE_USER" <<'SQL'
-- audit (log_statement ddl/all, pgaudit) would log the password: not this session's statements (superuser
-- settings; pgaudit.log is a mere placeholder where pgaudit is not loaded).
SET log_statement = 'none';
SET pgaudit.log = 'none';
\getenv app_password NEXT_APP_PASSWORD
SELECT format('CREATE ROLE %I LOGIN', :'app_user')
  WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = :'app_user') \gexec
-- The alternate login acts as the base user: a member of it that switches to it on login, so what it creates
-- is owned by the base user and the two logins are interchangeable.
SELECT format('GRANT %I TO %I', :'base_user', :'app_user'), format('ALTER ROLE %I SET role = %L', :'app_user', :'base_user')
  WHERE :'app_user' <> :'base_user' \gexec
ALTER ROLE :"app_user" WITH LOGIN PASSWORD :'app_password';
SQL
fi

if [ -n "${REPLICATION_USER:-}" ] && [ -n "${NEXT_REPLICATION_PASSWORD:-}" ]; then
  log "setting the password of replication role $REPLICATION_USER"
  psql -X -q -v ON_ERROR_STOP=1 -U "$ADMIN_USER" -v role="$REPLICATION_USER" <<'SQL'
-- audit (log_statement ddl/all, pgaudit) would log the password: not this session's statements (superuser
-- settings; pgaudit.log is a mere placeholder where pgaudit is not loaded).
SET log_statement = 'none';
SET pgaudit.log = 'none';
\getenv replication_password NEXT_REPLICATION_PASSWORD
ALTER ROLE :"role" WITH PASSWORD :'replication_password';
SQL
fi

if [ -n "${NEXT_ADMIN_PASSWORD:-}" ] && [ "$admin_password" != "$NEXT_ADMIN_PASSWORD" ]; then
  log "setting the admin password"
  psql -X -q -v ON_ERROR_STOP=1 -U "$ADMIN_USER" -v role="$ADMIN_USER" <<'SQL'
-- audit (log_statement ddl/all, pgaudit) would log the password: not this session's statements (superuser
-- settings; pgaudit.log is a mere placeholder where pgaudit is not loaded).
SET log_statement = 'none';
SET pgaudit.log = 'none';
\getenv admin_password NEXT_ADMIN_PASSWORD
ALTER ROLE :"role" WITH PASSWORD :'admin_password';
SQL
fi

# Verify every next credential by logging in with it (replication roles log in to the replication protocol).
verify() { # $1 user, $2 password, $3 extra connection parameter
  PGPASSWORD="$2" psql -X -q -At "dbname=${PGDATABASE:-postgres} user=$1 $3" -c 'SELECT 1' >/dev/null
}
if [ -n "${NEXT_ADMIN_PASSWORD:-}" ]; then verify "$ADMIN_USER" "$NEXT_ADMIN_PASSWORD" ""; fi
if [ -n "${APP_USER:-}" ]; then verify "$APP_USER" "$NEXT_APP_PASSWORD" ""; fi
if [ -n "${REPLICATION_USER:-}" ] && [ -n "${NEXT_REPLICATION_PASSWORD:-}" ]; then
  PGPASSWORD="$NEXT_REPLICATION_PASSWORD" psql -X -q "dbname=replication replication=true user=$REPLICATION_USER" \
    -c 'IDENTIFY_SYSTEM' >/dev/null
fi
log "done: the server takes the next credentials"
