#!/bin/bash
# Start mongod as a replica-set member. Only pod 0 bootstraps the root and service users (the image's
# initdb runs when its data directory is empty); the other members join empty and receive the users by
# initial sync, so they must not create their own.
set -euo pipefail
if [ "${HOSTNAME##*-}" != "0" ]; then
  unset MONGO_INITDB_ROOT_USERNAME MONGO_INITDB_ROOT_PASSWORD
fi
args=(mongod --replSet "${REPLICA_SET}" --bind_ip_all --keyFile /keyfile/keyfile)
# TLS (tls.mode -> TLS_MODE preferTLS or requireTLS): mongod wants key and certificate in one file, built from
# the certificate Secret into memory, readable by mongod only. Clients log in with passwords, so none needs a
# certificate; members still authenticate to each other with the keyfile, and check each other's certificate
# (the one file is their client certificate too). The image's initdb runs its temporary mongod on 127.0.0.1
# with allowTLS, so the bootstrap scripts connect as before. Read at start: a renewed certificate takes a
# restart (README "TLS").
if [ -n "${TLS_MODE:-}" ]; then
  (umask 077 && cat /tls/tls.key /tls/tls.crt > /tls-store/server.pem)
  args+=(--tlsMode "$TLS_MODE" --tlsCertificateKeyFile /tls-store/server.pem --tlsCAFile /tls/ca.crt
    --tlsAllowConnectionsWithoutCertificates)
fi
# audit.level comprehensive (LOG_COMMANDS): the community server has no audit log; command verbosity 1 makes
# mongod log every operation (its "Slow query" JSON line, whatever its duration): the command and its namespace,
# and the connection ("ctx") whose "Authentication succeeded" line names the user.
if [ "${LOG_COMMANDS:-false}" = "true" ]; then
  args+=(--setParameter 'logComponentVerbosity={"command":{"verbosity":1}}')
fi
exec docker-entrypoint.sh "${args[@]}"
