#!/bin/bash
# Init container (tls.mode enabled or required): the hba file the server reads (`--hba_file`), written at every
# start, so the mode holds for a data directory whose own pg_hba.conf dates from its first start. The rules of that
# file (the image's initdb and entrypoint, postgres-init.sh's replication entry), with TLS:
#   enabled   TCP clients with or without TLS (host);
#   required  TCP clients only over TLS (hostssl): plaintext is refused (hostnossl ... reject), loopback included, so
#             the pod's exporter uses TLS too; pg_isready probes need no login. The pod's Unix socket stays trusted
#             (the image's initdb scripts and the tls-reload sidecar; nothing outside the pod reaches it).
# The image's loopback `trust` lines are not kept: every TCP login needs its password.
set -euo pipefail
case "${TLS_MODE:-}" in
  enabled) tcp=host ;;
  required) tcp=hostssl ;;
  *) echo "postgres-hba.sh: TLS_MODE must be enabled or required, not '${TLS_MODE:-}'" >&2; exit 2 ;;
esac
{
  echo "# Written by postgres-hba.sh (tls.mode ${TLS_MODE}) at the pod's start."
  echo "# TYPE    DATABASE     USER        ADDRESS  METHOD"
  echo "local     all          all                  trust"
  echo "local     replication  all                  trust"
  printf '%-9s %-12s %-11s %-8s %s\n' "$tcp" all all all scram-sha-256
  printf '%-9s %-12s %-11s %-8s %s\n' "$tcp" replication replicator all scram-sha-256
  if [ "$TLS_MODE" = required ]; then
    printf '%-9s %-12s %-11s %-8s %s\n' hostnossl all all all reject
    printf '%-9s %-12s %-11s %-8s %s\n' hostnossl replication all all reject
  fi
} > "${HBA_FILE}.partial"
mv "${HBA_FILE}.partial" "$HBA_FILE"
