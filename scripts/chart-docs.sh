#!/usr/bin/env bash
# The parameter tables of our charts' READMEs, generated from the `## @param` metadata in each values.yaml by
# Bitnami's readme-generator-for-helm (npm), so the docs cannot drift from the values.
#
#   scripts/chart-docs.sh install    install the pinned generator into .tools/node (git-ignored; no-op when present)
#   scripts/chart-docs.sh generate   rewrite the "## Parameters" section of every chart's README.md
#   scripts/chart-docs.sh check      exit 1, with a diff, when a committed README is not what the generator writes
set -euo pipefail

GENERATOR_VERSION=2.7.2
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="$ROOT/.tools/node"
GENERATOR="$PREFIX/node_modules/.bin/readme-generator"
CHARTS=(nexus-database core-pipeline fluxiondb api-gateway order-command-service order-query-service)

installed_version() {
  node -p "require('$PREFIX/node_modules/@bitnami/readme-generator-for-helm/package.json').version" 2>/dev/null || true
}

install() {
  if [[ -x "$GENERATOR" && "$(installed_version)" == "$GENERATOR_VERSION" ]]; then
    return 0
  fi
  mkdir -p "$PREFIX"
  npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error \
    "@bitnami/readme-generator-for-helm@$GENERATOR_VERSION" >&2
}

# generate_into <chart> <readme>: write the chart's parameter table into <readme>.
generate_into() {
  local out
  if ! out="$("$GENERATOR" --values "$ROOT/charts/$1/values.yaml" --readme "$2" 2>&1)"; then
    printf '%s: readme-generator failed:\n%s\n' "$1" "$out" >&2
    return 1
  fi
}

generate() {
  install
  for chart in "${CHARTS[@]}"; do
    generate_into "$chart" "$ROOT/charts/$chart/README.md"
  done
}

check() {
  install
  local tmp status=0
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  for chart in "${CHARTS[@]}"; do
    cp "$ROOT/charts/$chart/README.md" "$tmp/$chart.md"
    generate_into "$chart" "$tmp/$chart.md"
    if ! diff -u "$ROOT/charts/$chart/README.md" "$tmp/$chart.md"; then
      echo "charts/$chart/README.md: the parameter table is stale; run scripts/chart-docs.sh generate" >&2
      status=1
    fi
  done
  return "$status"
}

case "${1:-}" in
  install | generate | check) "$1" ;;
  *)
    echo "usage: $0 install|generate|check" >&2
    exit 2
    ;;
esac
