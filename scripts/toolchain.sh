#!/usr/bin/env bash
# Build or find the pinned Pulumi toolchain (issue 7). `make toolchain` runs this; `make up` and
# `make test` depend on it. Versions: toolchain/versions.env, nowhere else.
#
# Makes available, with scripts/pulumi-env.sh sourced:
#   pulumi                      CLI, v$PULUMI_VERSION
#   pulumi-language-python      Python language host (+ the pulumi-language-python-exec launcher)
#   plugin kubernetes           v$PULUMI_KUBERNETES_VERSION, installed in $PULUMI_HOME/plugins
#   plugin random               v$PULUMI_RANDOM_VERSION, installed in $PULUMI_HOME/plugins
#   helm                        v$HELM_VERSION
#
# A tool already present at the pinned version (on PATH, or a plugin in $PULUMI_HOME or in your
# own ~/.pulumi) is used as it is. Anything else is built from Go modules through the Go module
# proxy into .tools/ (git-ignored) with the wrapper modules under toolchain/, reusing Go's module
# and build caches. Measured on the 2-core machine, with other builds running: everything from
# empty Go caches (downloads included) 19 min; a fresh .tools with warm Go caches ~1.5 min; a run
# with everything present ~1 s.
#
# Usage: bash scripts/toolchain.sh [--force]     (--force rebuilds everything it builds)
#        bash scripts/toolchain.sh helmfile   only helmfile v$HELMFILE_VERSION into .tools/bin, for the
#                                             benchmark (bench/comparison.py); `make toolchain` never builds it
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

FORCE=0
ONLY=""
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    helmfile) ONLY=helmfile ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "toolchain.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

# shellcheck source=../toolchain/versions.env
source toolchain/versions.env
# PATH (.tools/bin first), PULUMI_HOME, no update checks or plugin downloads.
# shellcheck source=pulumi-env.sh
source scripts/pulumi-env.sh

TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"
BUILD="$TOOLS/build"
STAMPS="$TOOLS/stamps"
LOGS="$TOOLS/logs"
mkdir -p "$BIN" "$BUILD" "$STAMPS" "$LOGS" "$PULUMI_HOME/plugins"

# One run at a time (make targets may start it concurrently).
exec 9>"$TOOLS/.toolchain.lock"
flock 9

# Go: never fetch another Go toolchain; the sum database does not answer for some of the pulumi
# modules here, so their hashes come from the committed go.sum files (checked on every build).
export GOTOOLCHAIN=local
export GONOSUMDB="${GONOSUMDB:+$GONOSUMDB,}github.com/pulumi"

START=$(date +%s)
say() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die() { printf 'toolchain.sh: error: %s\n' "$*" >&2; exit 1; }

need_go() {
  command -v go >/dev/null 2>&1 || die "Go (>= 1.25) is needed to build $1; install it, or put $1 at the pinned version on PATH"
}

# run_long LABEL LOGFILE CMD...: run a long command quietly, with a heartbeat every 30 s and the
# log's tail on failure.
run_long() {
  local label="$1" logfile="$2"
  shift 2
  local t0 pid rc
  t0=$(date +%s)
  "$@" >"$logfile" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    for _ in $(seq 30); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 1
    done
    kill -0 "$pid" 2>/dev/null && note "... $label: $(($(date +%s) - t0)) s so far"
  done
  rc=0
  wait "$pid" || rc=$?
  if [ "$rc" != 0 ]; then
    tail -n 40 "$logfile" >&2
    die "$label failed (exit $rc); full log: $logfile"
  fi
  note "$label: done in $(($(date +%s) - t0)) s"
}

# required_version DIR MODULE: the version DIR/go.mod requires MODULE at.
required_version() {
  awk -v m="$2" '($1 == m) { print $2; exit } ($1 == "require" && $2 == m) { print $3; exit }' "$1/go.mod"
}

# sync_module DIR MODULE VERSION...: make the wrapper module DIR require each MODULE at VERSION
# (versions.env is the source of truth; go.mod/go.sum are its lock files).
sync_module() {
  local dir="$1"
  shift
  local changed=0
  while [ $# -ge 2 ]; do
    if [ "$(required_version "$dir" "$1")" != "$2" ]; then
      need_go "$dir"
      note "$dir/go.mod: $1 -> $2 (from toolchain/versions.env)"
      (cd "$dir" && go mod edit -require="$1@$2")
      changed=1
    fi
    shift 2
  done
  if [ "$changed" = 1 ]; then
    (cd "$dir" && GOFLAGS=-mod=mod go mod tidy)
    note "updated $dir/go.mod and go.sum: review the replace lines against the new upstream go.mod, then commit them"
  fi
}

# go_module_dir DIR MODULE: the module cache folder of MODULE as DIR's go.mod pins it (downloads it
# through the proxy if the cache lacks it; the hash is checked against DIR/go.sum).
go_module_dir() {
  local d
  d=$(cd "$1" && go list -mod=readonly -m -f '{{.Dir}}' "$2" 2>/dev/null || true)
  if [ -z "$d" ] || [ ! -d "$d" ]; then
    (cd "$1" && go mod download "$2") >&2
    d=$(cd "$1" && go list -mod=readonly -m -f '{{.Dir}}' "$2")
  fi
  printf '%s\n' "$d"
}

# src_hash DIR: fingerprint of a wrapper module's sources (a change there means a rebuild).
src_hash() { (cd "$1" && cat go.mod go.sum ./*.go 2>/dev/null | sha256sum | cut -c1-16); }

stamp_ok() { [ "$FORCE" = 0 ] && [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp_set() { printf '%s\n' "$2" >"$STAMPS/$1"; }

# helmfile, on demand only (`bash scripts/toolchain.sh helmfile`; the benchmark calls it): built from
# github.com/helmfile/helmfile at HELMFILE_VERSION through the wrapper module toolchain/helmfile, whose
# go.mod repeats helmfile's versioned k8s.io replaces. It calls `helm` (ours, .tools/bin/helm).
build_helmfile() {
  local want="$HELMFILE_VERSION" hash
  hash="$want-$(src_hash toolchain/helmfile)"
  if stamp_ok helmfile "$hash" && [ -x "$BIN/helmfile" ]; then
    note "using $BIN/helmfile"
    return
  fi
  need_go "helmfile"
  [ "$(required_version toolchain/helmfile github.com/helmfile/helmfile)" = "v$want" ] ||
    die "toolchain/helmfile/go.mod does not require github.com/helmfile/helmfile v$want (versions.env)"
  run_long "go build helmfile" "$LOGS/helmfile.log" \
    bash -c "cd toolchain/helmfile && go build -mod=readonly -trimpath \
      -ldflags '-s -w -X go.szostok.io/version.version=v$want' -o '$BIN/helmfile' github.com/helmfile/helmfile"
  "$BIN/helmfile" --version >/dev/null 2>&1 || die "the built helmfile does not run"
  stamp_set helmfile "$hash"
}
if [ "$ONLY" = helmfile ]; then
  say "helmfile v$HELMFILE_VERSION (on demand, for the benchmark)"
  build_helmfile
  exit 0
fi

# plugin_path KIND NAME VERSION HOME: where the engine looks for that plugin under HOME.
plugin_path() { printf '%s/plugins/%s-%s-v%s/pulumi-%s-%s\n' "$4" "$1" "$2" "$3" "$1" "$2"; }

# install_plugin KIND NAME VERSION FILE: install a plugin binary into $PULUMI_HOME offline.
install_plugin() {
  pulumi plugin install "$1" "$2" "v$3" --file "$4" --reinstall >"$LOGS/plugin-$2.log" 2>&1 ||
    { cat "$LOGS/plugin-$2.log" >&2; die "pulumi plugin install $1 $2 v$3 --file $4 failed"; }
}

# have_plugin KIND NAME VERSION STAMP: present in $PULUMI_HOME and built from the pinned inputs (or
# put there by someone else: then it is used as it is).
have_plugin() {
  local p
  p=$(plugin_path "$1" "$2" "$3" "$PULUMI_HOME")
  [ "$FORCE" = 0 ] && [ -x "$p" ] && [ ! -e "$(dirname "$p").partial" ] &&
    { [ ! -f "$STAMPS/plugin-$2" ] || [ "$(cat "$STAMPS/plugin-$2")" = "$4" ]; }
}

# from_user_home KIND NAME VERSION: a plugin at the pinned version in the user's own Pulumi home.
from_user_home() {
  local p
  p=$(plugin_path "$1" "$2" "$3" "$NEXUS_USER_PULUMI_HOME")
  if [ "$FORCE" = 0 ] && [ "$NEXUS_USER_PULUMI_HOME" != "$PULUMI_HOME" ] && [ -x "$p" ]; then
    install_plugin "$1" "$2" "$3" "$p"
    rm -f "$STAMPS/plugin-$2"
    note "plugin $2 v$3: installed from $p"
    return 0
  fi
  return 1
}

# ---------------------------------------------------------------------------------------------
say "pulumi CLI v$PULUMI_VERSION"
sync_module toolchain/cli \
  github.com/pulumi/pulumi/pkg/v3 "v$PULUMI_VERSION" \
  github.com/pulumi/pulumi/sdk/v3 "v$PULUMI_VERSION"
cli_stamp="$PULUMI_VERSION $(src_hash toolchain/cli)"
if [ "$FORCE" = 0 ] && command -v pulumi >/dev/null 2>&1 &&
  [ "$(pulumi version 2>/dev/null)" = "v$PULUMI_VERSION" ] &&
  { [ "$(command -v pulumi)" != "$BIN/pulumi" ] || stamp_ok cli "$cli_stamp"; }; then
  note "using $(command -v pulumi)"
else
  need_go "the pulumi CLI"
  note "building github.com/pulumi/pulumi/pkg/v3/cmd/pulumi (first build ~8-15 min on 2 cores)"
  run_long "go build pulumi" "$LOGS/pulumi.log" \
    bash -c "cd toolchain/cli && go build -mod=readonly \
      -ldflags '-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION' \
      -o '$BIN/pulumi.new' github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
  mv -f "$BIN/pulumi.new" "$BIN/pulumi"
  [ "$(pulumi version)" = "v$PULUMI_VERSION" ] || die "built pulumi reports $(pulumi version), not v$PULUMI_VERSION"
  stamp_set cli "$cli_stamp"
fi

# ---------------------------------------------------------------------------------------------
say "pulumi-language-python"
sync_module toolchain/langhost github.com/pulumi/pulumi/sdk/v3 "v$PULUMI_VERSION"
langhost="$(command -v pulumi-language-python 2>/dev/null || true)"
if [ "$FORCE" = 0 ] && [ -n "$langhost" ] && [ "$langhost" != "$BIN/pulumi-language-python" ]; then
  note "using $langhost"
elif [ "$FORCE" = 0 ] && [ -x "$BIN/pulumi-language-python" ] && [ -f "$BIN/pulumi-language-python-exec" ] &&
  [ "$("$BIN/pulumi-language-python" --version)" = "$PULUMI_LANGHOST_VERSION" ] &&
  stamp_ok langhost "$PULUMI_LANGHOST_VERSION $(src_hash toolchain/langhost)"; then
  note "using $BIN/pulumi-language-python ($PULUMI_LANGHOST_VERSION)"
else
  need_go "pulumi-language-python"
  run_long "go build pulumi-language-python" "$LOGS/langhost.log" \
    bash -c "cd toolchain/langhost && go build -mod=readonly \
      -ldflags '-s -w -X main.version=$PULUMI_LANGHOST_VERSION' -o '$BIN/pulumi-language-python.new' ."
  mv -f "$BIN/pulumi-language-python.new" "$BIN/pulumi-language-python"
  sdkdir="$(go_module_dir toolchain/langhost github.com/pulumi/pulumi/sdk/v3)"
  install -m 0755 "$sdkdir/python/cmd/pulumi-language-python-exec" "$BIN/pulumi-language-python-exec"
  stamp_set langhost "$PULUMI_LANGHOST_VERSION $(src_hash toolchain/langhost)"
fi
# Python dynamic providers (components/storage.py: StorageGuard) run through this shim from sdk/v3.
if [ "$FORCE" = 1 ] || [ ! -x "$BIN/pulumi-resource-pulumi-python" ]; then
  need_go "pulumi-resource-pulumi-python"
  sdkdir="$(go_module_dir toolchain/langhost github.com/pulumi/pulumi/sdk/v3)"
  install -m 0755 "$sdkdir/python/dist/pulumi-resource-pulumi-python" "$BIN/pulumi-resource-pulumi-python"
  note "installed the Python dynamic-provider shim"
fi

# ---------------------------------------------------------------------------------------------
say "plugin kubernetes v$PULUMI_KUBERNETES_VERSION"
sync_module toolchain/kubernetes \
  "$PULUMI_KUBERNETES_PROVIDER_MODULE" "$PULUMI_KUBERNETES_PROVIDER_MODULE_VERSION" \
  github.com/pulumi/pulumi-kubernetes/sdk/v4 "$PULUMI_KUBERNETES_SDK_GO_VERSION"
k8s_stamp="$PULUMI_KUBERNETES_VERSION $(src_hash toolchain/kubernetes)"
if have_plugin resource kubernetes "$PULUMI_KUBERNETES_VERSION" "$k8s_stamp"; then
  note "using $(plugin_path resource kubernetes "$PULUMI_KUBERNETES_VERSION" "$PULUMI_HOME")"
elif from_user_home resource kubernetes "$PULUMI_KUBERNETES_VERSION"; then
  :
else
  need_go "the kubernetes plugin"
  src="$(go_module_dir toolchain/kubernetes "$PULUMI_KUBERNETES_PROVIDER_MODULE")/cmd/pulumi-resource-kubernetes"
  out="$BUILD/kubernetes"
  rm -rf "$out" && mkdir -p "$out"
  # The command embeds schema-embed.json and terraform-mapping-embed.json, which the upstream
  # build generates (go generate) from the schema.json and terraform-mapping.json the module
  # ships: the schema with its version set, both re-serialised compactly. Do the same here, in a
  # throwaway copy of the command's package (the module cache is read-only).
  cp toolchain/kubernetes/go.mod toolchain/kubernetes/go.sum "$out/"
  install -m 0644 "$src/main.go" "$out/main.go"
  python3 - "$src" "$out" "$PULUMI_KUBERNETES_VERSION" <<'EOF'
import json, os, sys
src, out, version = sys.argv[1:4]
schema = json.load(open(os.path.join(src, "schema.json")))
schema["version"] = version
with open(os.path.join(out, "schema-embed.json"), "w") as f:
    json.dump(schema, f, separators=(",", ":"))
mapping = json.load(open(os.path.join(src, "terraform-mapping.json")))
with open(os.path.join(out, "terraform-mapping-embed.json"), "w") as f:
    json.dump(mapping, f, separators=(",", ":"))
EOF
  note "building $PULUMI_KUBERNETES_PROVIDER_MODULE/cmd/pulumi-resource-kubernetes@$PULUMI_KUBERNETES_PROVIDER_MODULE_VERSION (first build ~10-20 min on 2 cores)"
  run_long "go build pulumi-resource-kubernetes" "$LOGS/kubernetes.log" \
    bash -c "cd '$out' && go build -mod=readonly \
      -ldflags '-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$PULUMI_KUBERNETES_VERSION' \
      -o '$out/pulumi-resource-kubernetes' ."
  install_plugin resource kubernetes "$PULUMI_KUBERNETES_VERSION" "$out/pulumi-resource-kubernetes"
  rm -f "$out/pulumi-resource-kubernetes"
  stamp_set plugin-kubernetes "$k8s_stamp"
fi

# ---------------------------------------------------------------------------------------------
say "plugin random v$PULUMI_RANDOM_VERSION"
sync_module toolchain/random-standin github.com/pulumi/pulumi/sdk/v3 "v$PULUMI_VERSION"
random_stamp="$PULUMI_RANDOM_VERSION $PULUMI_RANDOM_IMPL $(src_hash toolchain/random-standin)"
random_note=""
[ "$(cat "$STAMPS/plugin-random" 2>/dev/null)" = "$random_stamp" ] && random_note=" (stand-in)"
if have_plugin resource random "$PULUMI_RANDOM_VERSION" "$random_stamp"; then
  note "using $(plugin_path resource random "$PULUMI_RANDOM_VERSION" "$PULUMI_HOME")"
elif from_user_home resource random "$PULUMI_RANDOM_VERSION"; then
  :
elif [ "$PULUMI_RANDOM_IMPL" = standin ]; then
  need_go "the random plugin stand-in"
  note "STAND-IN: the real random provider module is not served by the Go module proxy here (see toolchain/versions.env)"
  out="$BUILD/random"
  mkdir -p "$out"
  run_long "go build pulumi-resource-random (stand-in)" "$LOGS/random.log" \
    bash -c "cd toolchain/random-standin && go build -mod=readonly \
      -ldflags '-s -w -X main.version=$PULUMI_RANDOM_VERSION' -o '$out/pulumi-resource-random' ."
  install_plugin resource random "$PULUMI_RANDOM_VERSION" "$out/pulumi-resource-random"
  rm -f "$out/pulumi-resource-random"
  stamp_set plugin-random "$random_stamp"
  random_note=" (stand-in)"
else
  die "no way to build the random plugin: PULUMI_RANDOM_IMPL=$PULUMI_RANDOM_IMPL (expected: standin)"
fi

# ---------------------------------------------------------------------------------------------
say "helm v$HELM_VERSION"
if [ "$FORCE" = 0 ] && command -v helm >/dev/null 2>&1 &&
  [ "$(helm version --template '{{.Version}}' 2>/dev/null)" = "v$HELM_VERSION" ]; then
  note "using $(command -v helm)"
else
  need_go "helm"
  note "building helm.sh/helm/v3/cmd/helm@v$HELM_VERSION (first build ~5-10 min on 2 cores)"
  run_long "go install helm" "$LOGS/helm.log" \
    env GOBIN="$BIN" go install \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
    "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
  [ "$(helm version --template '{{.Version}}')" = "v$HELM_VERSION" ] || die "built helm is not v$HELM_VERSION"
fi

# ---------------------------------------------------------------------------------------------
# The Python SDK pins must ask for exactly these plugin versions.
if [ -f requirements.txt ]; then
  for pin in "pulumi==$PULUMI_VERSION" "pulumi-kubernetes==$PULUMI_KUBERNETES_VERSION" "pulumi-random==$PULUMI_RANDOM_VERSION"; do
    if ! grep -Eiq "^${pin//./\\.}([[:space:]]|;|#|\$)" requirements.txt; then
      printf 'toolchain.sh: WARNING: requirements.txt does not pin %s (toolchain/versions.env); the engine would ask for a plugin version that is not installed\n' "$pin" >&2
    fi
  done
fi

say "toolchain ready in $(($(date +%s) - START)) s: $(pulumi version) | language host $(command -v pulumi-language-python) | plugins kubernetes v$PULUMI_KUBERNETES_VERSION, random v$PULUMI_RANDOM_VERSION$random_note | helm $(helm version --template '{{.Version}}')"
