#!/bin/bash
# Sidecar (tls.mode enabled or required): PostgreSQL reads its certificate and key at start and on a reload
# (SIGHUP), not when cert-manager renews them. The kubelet replaces a renewed Secret's files in the volume; when
# the certificate changes, this asks the server to reload (pg_reload_conf() over the pod's Unix socket). A reload
# that cannot load the new files keeps serving the old ones (and logs why).
set -uo pipefail
dir="${TLS_DIR:-/tls}"
fingerprint() { sha256sum "$dir/tls.crt" "$dir/ca.crt" 2>/dev/null | cut -d' ' -f1 | tr -d '\n'; }
last="$(fingerprint)"
while sleep "${INTERVAL_SECONDS:-30}"; do
  now="$(fingerprint)"
  if [ "$now" != "$last" ] &&
    psql -X -q -At -h /var/run/postgresql -U postgres -d postgres -c 'SELECT pg_reload_conf()' >/dev/null; then
    echo "$(date -u +%FT%TZ) tls-reload: the certificate in ${dir} changed: the server reloaded it"
    last="$now"
  fi
done
