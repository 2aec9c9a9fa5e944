#!/bin/sh
# Teach every running Redis server the next password while it keeps the current one (the rotation Job of
# components/rotation.py; it runs before the Secret the clients read changes). A Redis user may hold several
# passwords, so after this run each server accepts exactly two: the next one and the one clients hold now,
# which keeps working for clients that have not rolled yet, until the next rotation retires it.
#
# Environment (passwords only in the environment and on redis-cli's stdin, never in argv):
#   REDIS_HOSTS        every server, the primary and each replica (ACLs are per server, not replicated)
#   REDIS_PORT         the port to reach them on: with TLS (TLS_CA_FILE set) their TLS port (tls.mode enabled: 6380,
#                      required: 6379)
#   TLS_CA_FILE        the servers' CA (tls.mode enabled or required): redis-cli --tls, the certificate checked against
#                      it (redis-cli does not check the host name); unset: plaintext
#   CURRENT_PASSWORD   the password the live Secret holds now; unset when that Secret does not exist yet (a new
#                      stack: the servers will start with the next password, nothing to rotate)
#   NEXT_PASSWORD      the password to add
# Idempotent: killed at any point and run again, it converges on the same two passwords; the user never has
# fewer than the two clients may hold (the next one is added before any other is removed).
set -eu

log() { printf '%s rotate-redis: %s\n' "$(date -u +%FT%TZ)" "$*"; }

if [ -z "${CURRENT_PASSWORD+set}" ]; then
  log "no live credentials Secret yet: the servers will start with the next password; nothing to rotate"
  exit 0
fi

port="${REDIS_PORT:-6379}"
# redis-cli on $host, over TLS when TLS_CA_FILE is set.
rcli() {
  if [ -n "${TLS_CA_FILE:-}" ]; then
    redis-cli --tls --cacert "$TLS_CA_FILE" --no-auth-warning -h "$host" -p "$port" "$@"
  else
    redis-cli --no-auth-warning -h "$host" -p "$port" "$@"
  fi
}
# redis-cli as the default user with password $AUTH (redis-cli reads REDISCLI_AUTH from the environment).
cli() { REDISCLI_AUTH="$AUTH" rcli "$@"; }
accepts() { [ "$(REDISCLI_AUTH="$1" rcli ping 2>/dev/null)" = PONG ]; }
sha256() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

keep_next=$(sha256 "$NEXT_PASSWORD")
keep_current=$(sha256 "$CURRENT_PASSWORD")
for host in $REDIS_HOSTS; do
  AUTH=""
  attempt=0
  while [ -z "$AUTH" ]; do
    if accepts "$NEXT_PASSWORD"; then AUTH="$NEXT_PASSWORD"
    elif accepts "$CURRENT_PASSWORD"; then AUTH="$CURRENT_PASSWORD"
    else
      attempt=$((attempt + 1))
      if [ "$attempt" -ge "${ATTEMPTS:-6}" ]; then
        log "$host accepts neither the current nor the next password: refusing to change anything"
        exit 1
      fi
      log "attempt $attempt: $host answers with neither password yet; retrying"
      sleep "${RETRY_SECONDS:-5}"
    fi
  done
  # -x appends stdin as the command's last argument: `ACL SETUSER default >next`, `CONFIG SET masterauth next`.
  printf '>%s' "$NEXT_PASSWORD" | cli -x ACL SETUSER default >/dev/null
  printf '>%s' "$CURRENT_PASSWORD" | cli -x ACL SETUSER default >/dev/null
  # Replicas authenticate to the primary with masterauth when they reconnect: the next password from now on.
  printf '%s' "$NEXT_PASSWORD" | cli -x CONFIG SET masterauth >/dev/null
  # Retire every other password (by its SHA-256, which ACL GETUSER lists and `!<hash>` removes).
  for hash in $(cli ACL GETUSER default | grep -E '^[0-9a-f]{64}$' || true); do
    if [ "$hash" != "$keep_next" ] && [ "$hash" != "$keep_current" ]; then
      cli ACL SETUSER default "!$hash" >/dev/null
    fi
  done
  AUTH="$NEXT_PASSWORD"
  accepts "$NEXT_PASSWORD" || { log "$host does not accept the next password after the change"; exit 1; }
  log "$host: takes the next password and still the current one"
done
log "done"
