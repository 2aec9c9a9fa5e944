#!/usr/bin/env bash
# The real servers the data-plane tier (tests/dataplane, `pytest -m dataplane`) runs our pods' programs
# against, installed on a fresh machine. Idempotent: a second run only checks.
#
#   bash scripts/dataplane-servers.sh install   # Debian packages + jars from Maven Central (cached)
#   bash scripts/dataplane-servers.sh check     # exit 1, naming what is missing
#
# Debian (apt): PostgreSQL 15 (postgresql-15), Redis 7.0 (redis-server, redis-tools), Prometheus and the
#   postgres/redis exporters, rclone 1.60 (the backup pods' S3 client: the uploader image is pinned to it),
#   pgBackRest 2.45 (prod's WAL archive and point-in-time recovery).
#   Their package scripts would start system services (a redis on :6379 ...): a policy-rc.d forbids that
#   for the duration of the install, so nothing is left running.
# Maven Central (mvn copy-dependencies, local repository cached in .tools/dataplane/m2):
#   Apache Kafka 3.9.0 with its ZooKeeper 3.8 (tooling/dataplane/maven/kafka/pom.xml) -> .tools/dataplane/kafka/lib
#   the Prometheus JMX exporter agent of the Confluent images' cp-base-new layer (tooling/dataplane/maven/cp-base-new/pom.xml)
#     -> .tools/dataplane/cp-base-new/lib
#   S3Proxy 2.6.0, the S3-compatible object store (tooling/dataplane/maven/s3proxy/pom.xml) -> .tools/dataplane/s3proxy/lib
# The harness (tooling/dataplane/servers.py) finds them there and at the Debian paths.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(postgresql-15 postgresql-client-15 redis-server redis-tools prometheus
  prometheus-postgres-exporter prometheus-redis-exporter maven default-jre-headless nodejs
  rclone pgbackrest busybox)
DATAPLANE_DIR=.tools/dataplane
M2="$DATAPLANE_DIR/m2"

missing_apt() {
  local pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || echo "$pkg"
  done
}

install_apt() {
  local missing
  mapfile -t missing < <(missing_apt)
  [ "${#missing[@]}" -eq 0 ] && return 0
  echo "==> apt-get install ${missing[*]}"
  local policy=/usr/sbin/policy-rc.d created_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 0755 "$policy" && created_policy=1
  fi
  # shellcheck disable=SC2064
  trap "[ -n '$created_policy' ] && rm -f '$policy'" EXIT
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

copy_jars() {
  local name="$1" lib="$DATAPLANE_DIR/$1/lib" pom="tooling/dataplane/maven/$1/pom.xml" stamp
  stamp="$lib/.pom.sha256"
  if [ -f "$stamp" ] && sha256sum --status -c "$stamp" 2>/dev/null; then
    return 0
  fi
  echo "==> $name jars from Maven Central into $lib"
  rm -rf "$lib"
  mvn -q -B -Dstyle.color=never -f "$pom" -Dmaven.repo.local="$PWD/$M2" dependency:copy-dependencies \
    -DoutputDirectory="$PWD/$lib" -DincludeScope=runtime
  sha256sum "$pom" > "$stamp"
}

check() {
  local problems=()
  local pkg
  while read -r pkg; do [ -n "$pkg" ] && problems+=("apt package $pkg"); done < <(missing_apt)
  for name in kafka s3proxy cp-base-new; do
    [ -f "$DATAPLANE_DIR/$name/lib/.pom.sha256" ] || problems+=("$DATAPLANE_DIR/$name/lib")
  done
  if [ "${#problems[@]}" -gt 0 ]; then
    printf 'missing: %s\n' "${problems[@]}" >&2
    echo "run: bash scripts/dataplane-servers.sh install" >&2
    return 1
  fi
  echo "data-plane servers installed"
}

case "${1:-}" in
  install)
    install_apt
    mkdir -p "$DATAPLANE_DIR"
    copy_jars kafka
    copy_jars s3proxy
    copy_jars cp-base-new
    check
    ;;
  check) check ;;
  *)
    echo "usage: $0 install|check" >&2
    exit 2
    ;;
esac
