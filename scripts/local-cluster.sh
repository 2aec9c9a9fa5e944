#!/usr/bin/env bash
# Local Kubernetes control plane on loopback for nexus-platform.
#
#   scripts/local-cluster.sh build       find or build the binaries (kube-apiserver,
#                                        kube-controller-manager, kube-scheduler, kubectl,
#                                        etcd, kwok) into .tools/bin
#   scripts/local-cluster.sh start       start etcd + kube-apiserver + kube-controller-manager
#                                        + kube-scheduler + kwok (fake nodes), or reuse a
#                                        healthy running cluster; `start --fresh` wipes data
#   scripts/local-cluster.sh stop        stop every process of the cluster (data is kept)
#   scripts/local-cluster.sh reset       stop and delete all state (etcd data, certs)
#   scripts/local-cluster.sh status      exit 0 when running and healthy
#   scripts/local-cluster.sh kubeconfig  print the admin kubeconfig path
#   scripts/local-cluster.sh env         print `export KUBECONFIG=...` and PATH for the tools
#
# Everything listens on 127.0.0.1 only. Pods never run: kwok marks pods scheduled onto
# its fake nodes Running/Ready, binds PVCs of the default StorageClass to fake
# PersistentVolumes and applies PVC resizes, so Deployments, StatefulSets and PVCs report
# ready. Versions and ports: toolchain/versions.env. State: .local-cluster/ (ignored).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSIONS_FILE="$ROOT/toolchain/versions.env"
# shellcheck disable=SC1090
[ -f "$VERSIONS_FILE" ] && . "$VERSIONS_FILE"

K8S_VERSION="${LOCAL_K8S_VERSION:-v1.34.2}"
ETCD_VERSION="${LOCAL_ETCD_VERSION:-v3.6.4}"
KWOK_VERSION="${LOCAL_KWOK_VERSION:-v0.8.0}"
APISERVER_PORT="${LOCAL_APISERVER_PORT:-16443}"
ETCD_CLIENT_PORT="${LOCAL_ETCD_CLIENT_PORT:-16379}"
ETCD_PEER_PORT="${LOCAL_ETCD_PEER_PORT:-16380}"
KCM_PORT="${LOCAL_KCM_PORT:-16257}"
SCHEDULER_PORT="${LOCAL_SCHEDULER_PORT:-16259}"
KWOK_PORT="${LOCAL_KWOK_PORT:-16247}"

TOOLS_BIN="${LOCAL_CLUSTER_TOOLS_BIN:-$ROOT/.tools/bin}"
TOOLS_SHARE="$ROOT/.tools/share"
STATE="${LOCAL_CLUSTER_DIR:-$ROOT/.local-cluster}"
PKI="$STATE/pki"
LOGS="$STATE/logs"
RUN="$STATE/run"
KUBECONFIG_PATH="$STATE/kubeconfig"
K8S_MOD_DIR="$ROOT/toolchain/k8s"
KWOK_MOD_DIR="$ROOT/toolchain/k8s/kwok"

SERVICE_CIDR="10.96.0.0/16"
SERVICE_IP="10.96.0.1"
POD_CIDR="10.244.0.1/16"        # addresses written into pod status only; nothing dials them
STORAGE_CLASS="standard"
FAKE_NODES=(kwok-node-0 kwok-node-1)
# Stop order (reverse start order).
COMPONENTS=(kwok kube-scheduler kube-controller-manager kube-apiserver etcd)

K8S_MINOR="${K8S_VERSION#v}"; K8S_MINOR="${K8S_MINOR%.*}"          # 1.34
KWOK_MINOR="${KWOK_VERSION#v}"; KWOK_MINOR="${KWOK_MINOR%.*}"       # 0.8

log() { printf '[local-cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1fs", b-a}'; }

# ---------------------------------------------------------------------------
# Binaries
# ---------------------------------------------------------------------------
# version_of NAME PATH -> prints the version reported by the binary (empty if unknown)
version_of() {
  local name="$1" bin="$2" out
  case "$name" in
    etcd) out="$("$bin" --version 2>/dev/null | awk '/etcd Version:/{print "v"$3}')" ;;
    kwok) out="$("$bin" --version 2>/dev/null | grep -oE 'v?[0-9]+\.[0-9]+\.[0-9]+' | head -1)"; [ -n "$out" ] && out="v${out#v}" ;;
    kubectl) out="$("$bin" version --client 2>/dev/null | awk '/Client Version:/{print $3}')" ;;
    *) out="$("$bin" --version 2>/dev/null | awk '/Kubernetes/{print $2}')" ;;
  esac
  printf '%s' "$out"
}

# compatible NAME VERSION -> 0 when VERSION may be used for NAME
compatible() {
  local name="$1" v="${2#v}"
  [ -n "$v" ] || return 1
  case "$name" in
    etcd) [[ "$v" =~ ^3\.(5|6)\. ]] ;;                 # kube-apiserver 1.34 supports etcd 3.5/3.6
    kwok) [[ "$v" == "$KWOK_MINOR".* ]] ;;
    kubectl) [[ "$v" =~ ^1\.(3[3-5])\. ]] ;;           # +-1 minor skew
    *) [[ "$v" == "$K8S_MINOR".* ]] ;;                 # control plane: same minor
  esac
}

pinned_version() {
  case "$1" in etcd) echo "$ETCD_VERSION" ;; kwok) echo "$KWOK_VERSION" ;; *) echo "$K8S_VERSION" ;; esac
}

# find_bin NAME -> prints a usable path: .tools/bin when it holds the pinned version, else a
# compatible one on PATH. Results are cached for the run.
declare -A FOUND=()
find_bin() {
  local name="$1" cand v
  if [ -n "${FOUND[$name]:-}" ]; then printf '%s' "${FOUND[$name]}"; return 0; fi
  cand="$TOOLS_BIN/$name"
  if [ -x "$cand" ] && [ "$(version_of "$name" "$cand")" = "$(pinned_version "$name")" ]; then
    FOUND[$name]="$cand"; printf '%s' "$cand"; return 0
  fi
  local IFS=: dir
  for dir in $PATH; do
    [ -n "$dir" ] && [ "$dir" != "$TOOLS_BIN" ] && [ -x "$dir/$name" ] || continue
    v="$(version_of "$name" "$dir/$name")"
    if compatible "$name" "$v"; then FOUND[$name]="$dir/$name"; printf '%s' "$dir/$name"; return 0; fi
  done
  return 1
}

# A binary is rebuilt unless .tools/bin has the pinned version or PATH a compatible one.
have_bin() { find_bin "$1" >/dev/null; }

go_build_env() {
  command -v go >/dev/null || die "go is not installed; it is needed to build $1"
}

build_k8s() {
  local missing=() n
  for n in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    have_bin "$n" || missing+=("$n")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  go_build_env "${missing[*]}"
  local minor="${K8S_MINOR#1.}" pkgs=() t0
  for n in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$n"); done
  local ld="-s -w"
  ld+=" -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1"
  ld+=" -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
  ld+=" -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1"
  ld+=" -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  log "building ${missing[*]} $K8S_VERSION from toolchain/k8s (cold: about 10 CPU-minutes, 6-16 min on 2 cores; with a warm Go cache: ~30 s)"
  t0="$(now)"
  mkdir -p "$TOOLS_BIN"
  (cd "$K8S_MOD_DIR" && go build -o "$TOOLS_BIN/" -ldflags "$ld" "${pkgs[@]}") || die "go build of ${missing[*]} failed"
  unset "FOUND[kube-apiserver]" "FOUND[kube-controller-manager]" "FOUND[kube-scheduler]" "FOUND[kubectl]"
  log "built ${missing[*]} in $(elapsed "$t0")"
}

build_etcd() {
  have_bin etcd && return 0
  go_build_env etcd
  local t0; t0="$(now)"
  log "building etcd $ETCD_VERSION (go.etcd.io/etcd/server/v3, via toolchain/k8s)"
  mkdir -p "$TOOLS_BIN"
  (cd "$K8S_MOD_DIR" && go build -o "$TOOLS_BIN/etcd" -ldflags "-s -w" go.etcd.io/etcd/server/v3) || die "go build of etcd failed"
  log "built etcd in $(elapsed "$t0")"
}

build_kwok() {
  have_bin kwok || {
    go_build_env kwok
    local t0; t0="$(now)"
    log "building kwok $KWOK_VERSION (sigs.k8s.io/kwok/cmd/kwok, via toolchain/k8s/kwok)"
    mkdir -p "$TOOLS_BIN"
    (cd "$KWOK_MOD_DIR" && go build -o "$TOOLS_BIN/kwok" \
      -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" sigs.k8s.io/kwok/cmd/kwok) \
      || die "go build of kwok failed"
    log "built kwok in $(elapsed "$t0")"
  }
  kwok_stages_file >/dev/null
}

# The stages kwok runs with: its default node and pod stages (as kwokctl uses them) plus its
# volume stages, taken from the kwok module at the pinned version and copied to .tools/share.
kwok_stages_file() {
  local out="$TOOLS_SHARE/kwok-$KWOK_VERSION-stages"
  if [ ! -d "$out" ] || [ ! -f "$out/.complete" ]; then
    local dir
    dir="$(cd "$KWOK_MOD_DIR" && GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' sigs.k8s.io/kwok 2>/dev/null || true)"
    if [ -z "$dir" ] || [ ! -d "$dir/kustomize/stage" ]; then
      (cd "$KWOK_MOD_DIR" && GOFLAGS=-mod=mod go mod download sigs.k8s.io/kwok) >&2 || die "cannot download the kwok module for its stages"
      dir="$(cd "$KWOK_MOD_DIR" && GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
    fi
    rm -rf "$out"; mkdir -p "$out"
    cp "$dir/kustomize/stage/node/fast/node-initialize.yaml" \
       "$dir/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" \
       "$dir/kustomize/stage/pod/fast/pod-ready.yaml" \
       "$dir/kustomize/stage/pod/fast/pod-complete.yaml" \
       "$dir/kustomize/stage/pod/fast/pod-delete.yaml" \
       "$dir/kustomize/stage/volume/fast/pvc-provision.yaml" \
       "$dir/kustomize/stage/volume/fast/pv-bind.yaml" \
       "$dir/kustomize/stage/volume/fast/pvc-delete.yaml" \
       "$dir/kustomize/stage/volume/fast/pv-delete.yaml" "$out/"
    chmod u+w "$out"/*.yaml
    touch "$out/.complete"
  fi
  printf '%s' "$out"
}

cmd_build() {
  local t0; t0="$(now)"
  build_etcd
  build_k8s
  build_kwok
  local n
  for n in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok; do
    printf '  %-24s %-10s %s\n' "$n" "$(version_of "$n" "$(find_bin "$n")")" "$(find_bin "$n")" >&2
  done
  log "binaries ready ($(elapsed "$t0"))"
}

# ---------------------------------------------------------------------------
# Certificates and kubeconfigs (openssl)
# ---------------------------------------------------------------------------
gen_key() { openssl ecparam -name prime256v1 -genkey -noout -out "$1" 2>/dev/null; chmod 600 "$1"; }

# gen_cert NAME SUBJECT EXTS  (signed by the cluster CA)
gen_cert() {
  local name="$1" subj="$2" ext="$3"
  gen_key "$PKI/$name.key"
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  printf '%s\n' "$ext" > "$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

ensure_pki() {
  if [ -f "$PKI/.complete" ]; then return 0; fi
  command -v openssl >/dev/null || die "openssl is needed (apt-get install -y openssl)"
  log "generating certificates and service-account keys in ${PKI#"$ROOT"/}"
  rm -rf "$PKI"; mkdir -p "$PKI"; chmod 700 "$PKI"
  gen_key "$PKI/ca.key"
  openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=nexus-local-ca" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$PKI/ca.crt" 2>/dev/null
  local server_ext client_ext
  server_ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth"
  client_ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
  gen_cert apiserver "/CN=kube-apiserver" "$server_ext
subjectAltName=IP:127.0.0.1,IP:$SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  gen_cert etcd "/CN=etcd" "$server_ext
subjectAltName=IP:127.0.0.1,DNS:localhost"
  gen_cert apiserver-etcd-client "/CN=kube-apiserver-etcd-client" "$client_ext"
  gen_cert admin "/O=system:masters/CN=nexus-local-admin" "$client_ext"
  gen_cert kube-controller-manager "/CN=system:kube-controller-manager" "$client_ext"
  gen_cert kube-scheduler "/CN=system:kube-scheduler" "$client_ext"
  gen_cert kwok "/O=system:masters/CN=kwok-controller" "$client_ext"
  # Service account token signing key pair (RSA: accepted by every consumer).
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  chmod 600 "$PKI"/*.key
  rm -f "$PKI/ca.srl"
  touch "$PKI/.complete"
}

b64() { base64 -w0 < "$1"; }

# write_kubeconfig FILE CERTNAME USER
write_kubeconfig() {
  local file="$1" cert="$2" user="$3"
  umask 077
  cat > "$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: nexus-local
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(b64 "$PKI/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(b64 "$PKI/$cert.crt")
    client-key-data: $(b64 "$PKI/$cert.key")
contexts:
- name: nexus-local
  context:
    cluster: nexus-local
    user: $user
current-context: nexus-local
EOF
}

ensure_kubeconfigs() {
  write_kubeconfig "$KUBECONFIG_PATH" admin nexus-local-admin
  write_kubeconfig "$STATE/kube-controller-manager.kubeconfig" kube-controller-manager system:kube-controller-manager
  write_kubeconfig "$STATE/kube-scheduler.kubeconfig" kube-scheduler system:kube-scheduler
  write_kubeconfig "$STATE/kwok.kubeconfig" kwok kwok-controller
}

# ---------------------------------------------------------------------------
# Processes: each component runs in its own session/process group (setsid); its pid, which
# is also its process group id, is kept in run/NAME.pid.
# ---------------------------------------------------------------------------
# pid_of NAME -> the recorded pid, only if that process is still this cluster's component
# (a stale pid file after a reboot may name an unrelated process).
pid_of() {
  local f="$RUN/$1.pid" p
  [ -f "$f" ] || return 0
  p="$(cat "$f")"
  case "$( { tr '\0' ' ' < "/proc/$p/cmdline"; } 2>/dev/null || true)" in
    *"$STATE/"*) printf '%s' "$p" ;;
  esac
}
alive() { local p; p="$(pid_of "$1")"; [ -n "$p" ] && kill -0 "$p" 2>/dev/null && [ "$(ps -o stat= -p "$p" 2>/dev/null | cut -c1)" != "Z" ]; }

launch() {
  local name="$1"; shift
  mkdir -p "$LOGS" "$RUN"
  [ -f "$LOGS/$name.log" ] && mv -f "$LOGS/$name.log" "$LOGS/$name.log.1"
  printf '===== %s start %s =====\n' "$name" "$(date -u +%FT%TZ)" > "$LOGS/$name.log"
  setsid "$@" </dev/null >> "$LOGS/$name.log" 2>&1 9>&- &
  echo $! > "$RUN/$name.pid"
}

# Processes whose command line mentions this cluster's state folder: only ever ours.
strays() {
  local p cmd
  for p in /proc/[0-9]*; do
    p="${p#/proc/}"
    [ "$p" = "$$" ] && continue
    cmd="$( { tr '\0' ' ' < "/proc/$p/cmdline"; } 2>/dev/null || true)"
    case "$cmd" in *"$STATE/"*) ;; *) continue ;; esac
    case "$(basename "${cmd%% *}")" in etcd|kube-apiserver|kube-controller-manager|kube-scheduler|kwok) ;; *) continue ;; esac
    echo "$p"
  done
}

# stop_group NAME... : TERM the process groups together, wait up to 10s, then KILL.
stop_group() {
  local n p i pids=()
  for n in "$@"; do
    p="$(pid_of "$n")"
    if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
      log "stopping $n (pid $p)"
      kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
      pids+=("$p")
    fi
  done
  for p in "${pids[@]}"; do
    for i in $(seq 1 100); do kill -0 -- "-$p" 2>/dev/null || kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    if kill -0 -- "-$p" 2>/dev/null || kill -0 "$p" 2>/dev/null; then
      log "process group $p did not exit after 10s; killing it"
      kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
      for i in $(seq 1 50); do kill -0 -- "-$p" 2>/dev/null || break; sleep 0.1; done
    fi
  done
  for n in "$@"; do rm -f "$RUN/$n.pid"; done
}

cmd_stop() {
  local any=0 p n
  for n in "${COMPONENTS[@]}"; do alive "$n" && any=1; done
  # controllers first (together), then the API server, then etcd
  stop_group kwok kube-scheduler kube-controller-manager
  stop_group kube-apiserver
  stop_group etcd
  for p in $(strays); do
    any=1; log "stopping leftover process $p"; kill -TERM "$p" 2>/dev/null || true
  done
  sleep 0.2
  for p in $(strays); do kill -KILL "$p" 2>/dev/null || true; done
  if [ "$any" = 1 ]; then log "stopped"; else log "not running"; fi
}

kubectl_bin() { find_bin kubectl >/dev/null || die "kubectl not found; run: $0 build"; printf '%s' "${FOUND[kubectl]}"; }
kc() { "$KUBECTL" --kubeconfig "$KUBECONFIG_PATH" --request-timeout=10s "$@"; }

# wait_for DESC TIMEOUT_S COMMAND... ; fails fast when a component died meanwhile
wait_for() {
  local desc="$1" timeout="$2"; shift 2
  local t0 dead n; t0="$(date +%s)"
  until "$@" >/dev/null 2>&1; do
    for n in "${STARTED[@]}"; do
      alive "$n" || { log "$n exited; last log lines:"; tail -n 25 "$LOGS/$n.log" >&2; die "$n failed to start"; }
    done
    if [ $(( $(date +%s) - t0 )) -ge "$timeout" ]; then die "timed out after ${timeout}s waiting for $desc"; fi
    sleep 0.5
  done
}

etcd_healthy() {
  curl -sf --max-time 2 --cacert "$PKI/ca.crt" --cert "$PKI/apiserver-etcd-client.crt" \
    --key "$PKI/apiserver-etcd-client.key" "https://127.0.0.1:$ETCD_CLIENT_PORT/health" | grep -q '"health":"true"'
}
apiserver_ready() { [ "$(kc get --raw=/readyz 2>/dev/null)" = "ok" ]; }
component_healthy() { curl -skf --max-time 2 "https://127.0.0.1:$1/healthz" | grep -q ok; }

healthy() {
  local n
  for n in "${COMPONENTS[@]}"; do alive "$n" || return 1; done
  [ -f "$KUBECONFIG_PATH" ] && apiserver_ready
}

cmd_status() {
  local n rc=0
  for n in etcd kube-apiserver kube-controller-manager kube-scheduler kwok; do
    if alive "$n"; then printf '  %-24s running (pid %s)\n' "$n" "$(pid_of "$n")"
    else printf '  %-24s stopped\n' "$n"; rc=1; fi
  done
  find_bin kubectl >/dev/null || true
  if [ "$rc" = 0 ] && KUBECTL="$(kubectl_bin)" && apiserver_ready; then
    echo "  api server               https://127.0.0.1:$APISERVER_PORT ready"
    echo "  kubeconfig               $KUBECONFIG_PATH"
    kc get nodes 2>/dev/null | sed 's/^/  /' || true
    return 0
  fi
  return 1
}

bootstrap_objects() {
  local nodes="" n
  for n in "${FAKE_NODES[@]}"; do
    nodes+="---
apiVersion: v1
kind: Node
metadata:
  name: $n
  annotations:
    node.alpha.kubernetes.io/ttl: \"0\"
    kwok.x-k8s.io/node: fake
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: $n
    kubernetes.io/os: linux
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: \"\"
    type: kwok
    topology.kubernetes.io/zone: local
status:
  allocatable: {cpu: \"32\", memory: 256Gi, pods: \"110\", ephemeral-storage: 1Ti}
  capacity: {cpu: \"32\", memory: 256Gi, pods: \"110\", ephemeral-storage: 1Ti}
"
  done
  kc apply -f - >/dev/null <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: $STORAGE_CLASS
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kwok.x-k8s.io/volume
reclaimPolicy: Delete
volumeBindingMode: Immediate
allowVolumeExpansion: true
$nodes
EOF
}

write_kwok_config() {
  local src; src="$(kwok_stages_file)"
  {
    cat <<EOF
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  nodeLeaseDurationSeconds: 40
  nodeLeaseParallelism: 4
  nodePlayStageParallelism: 4
  podPlayStageParallelism: 4
  podsOnNodeSyncParallelism: 1
EOF
    local f
    for f in "$src"/*.yaml; do
      echo "---"
      # volume stages select PVCs/PVs of kwok's own class name; ours is the default class
      sed "s/'kwok-volume'/'$STORAGE_CLASS'/g" "$f"
    done
    # PVC resize: there is no real volume, so report the requested size as the PVC's capacity.
    # (kwok's apply step creates before it patches, so the PV's spec cannot be patched here.)
    cat <<EOF
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pvc-resize
spec:
  resourceRef:
    apiGroup: v1
    kind: PersistentVolumeClaim
  selector:
    matchExpressions:
    - cel:
        expression: >-
          self.spec.storageClassName == '$STORAGE_CLASS'
    - cel:
        expression: >-
          !has(self.metadata.deletionTimestamp)
    - cel:
        expression: >-
          self.status.phase == 'Bound'
    - cel:
        expression: >-
          has(self.spec.volumeName) && has(self.status.capacity) && self.status.capacity.storage != self.spec.resources.requests.storage
  steps:
  - patch:
      root: status
      subresource: status
      template: |
        capacity:
        {{ YAML .spec.resources.requests 1 }}
EOF
    # No cloud: give LoadBalancer Services and Ingresses a loopback address so that tools
    # awaiting one (Pulumi awaits both) finish. Nothing listens there.
    cat <<EOF
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: service-load-balancer
spec:
  resourceRef:
    apiGroup: v1
    kind: Service
  selector:
    matchExpressions:
    - cel:
        expression: >-
          self.spec.type == 'LoadBalancer' && !has(self.metadata.deletionTimestamp) && !has(self.status.loadBalancer.ingress)
  steps:
  - patch:
      root: status
      subresource: status
      template: |
        loadBalancer:
          ingress:
          - ip: 127.0.0.1
            ipMode: VIP
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: ingress-load-balancer
spec:
  resourceRef:
    apiGroup: networking.k8s.io/v1
    kind: Ingress
  selector:
    matchExpressions:
    - cel:
        expression: >-
          !has(self.metadata.deletionTimestamp) && !has(self.status.loadBalancer.ingress)
  steps:
  - patch:
      root: status
      subresource: status
      template: |
        loadBalancer:
          ingress:
          - ip: 127.0.0.1
EOF
  } > "$STATE/kwok.yaml"
}

cmd_start() {
  local fresh=0 a
  for a in "$@"; do case "$a" in --fresh) fresh=1 ;; *) die "unknown option: $a" ;; esac; done
  local t0; t0="$(now)"
  STARTED=()
  cmd_build_quiet
  KUBECTL="$(kubectl_bin)"
  mkdir -p "$STATE"
  if [ "$fresh" = 0 ] && healthy; then
    log "already running and healthy: reusing it (https://127.0.0.1:$APISERVER_PORT)"
    echo "$KUBECONFIG_PATH"
    return 0
  fi
  local n partial=0
  for n in "${COMPONENTS[@]}"; do [ -f "$RUN/$n.pid" ] && partial=1; done
  [ -n "$(strays)" ] && partial=1
  if [ "$partial" = 1 ]; then log "found a stopped or unhealthy cluster: replacing it"; cmd_stop; fi
  if [ "$fresh" = 1 ]; then log "--fresh: deleting cluster state"; rm -rf "$STATE/etcd" "$PKI" "$STATE/kwok.yaml"; fi
  trap 'rc=$?; if [ $rc -ne 0 ]; then log "start failed: stopping what was started (logs: ${LOGS#"$ROOT"/})"; cmd_stop; fi' EXIT
  check_ports
  ensure_pki
  ensure_kubeconfigs
  write_kwok_config
  local bin_etcd bin_api bin_kcm bin_sched bin_kwok
  bin_etcd="${FOUND[etcd]}"; bin_api="${FOUND[kube-apiserver]}"; bin_kcm="${FOUND[kube-controller-manager]}"
  bin_sched="${FOUND[kube-scheduler]}"; bin_kwok="${FOUND[kwok]}"

  log "starting etcd on 127.0.0.1:$ETCD_CLIENT_PORT"
  mkdir -p "$STATE/etcd"; chmod 700 "$STATE/etcd"
  launch etcd "$bin_etcd" --name nexus-local --data-dir "$STATE/etcd" \
    --listen-client-urls "https://127.0.0.1:$ETCD_CLIENT_PORT" --advertise-client-urls "https://127.0.0.1:$ETCD_CLIENT_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "nexus-local=http://127.0.0.1:$ETCD_PEER_PORT" \
    --cert-file "$PKI/etcd.crt" --key-file "$PKI/etcd.key" --client-cert-auth --trusted-ca-file "$PKI/ca.crt" \
    --quota-backend-bytes 2147483648 --snapshot-count 10000 --log-level warn
  STARTED+=(etcd)
  wait_for "etcd" 60 etcd_healthy

  log "starting kube-apiserver on https://127.0.0.1:$APISERVER_PORT"
  launch kube-apiserver "$bin_api" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
    --etcd-servers "https://127.0.0.1:$ETCD_CLIENT_PORT" --etcd-cafile "$PKI/ca.crt" \
    --etcd-certfile "$PKI/apiserver-etcd-client.crt" --etcd-keyfile "$PKI/apiserver-etcd-client.key" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" --client-ca-file "$PKI/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" --endpoint-reconciler-type none \
    --authorization-mode RBAC --allow-privileged=true --profiling=false
  STARTED+=(kube-apiserver)
  wait_for "kube-apiserver /readyz" 120 apiserver_ready
  log "kube-apiserver ready ($(elapsed "$t0"))"

  log "starting kube-controller-manager, kube-scheduler and kwok"
  launch kube-controller-manager "$bin_kcm" \
    --kubeconfig "$STATE/kube-controller-manager.kubeconfig" \
    --authentication-kubeconfig "$STATE/kube-controller-manager.kubeconfig" \
    --authorization-kubeconfig "$STATE/kube-controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$KCM_PORT" --leader-elect=false \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --use-service-account-credentials=true --service-cluster-ip-range "$SERVICE_CIDR" \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --controllers '*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller' --profiling=false
  STARTED+=(kube-controller-manager)
  launch kube-scheduler "$bin_sched" \
    --kubeconfig "$STATE/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig "$STATE/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig "$STATE/kube-scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$SCHEDULER_PORT" --leader-elect=false --profiling=false
  STARTED+=(kube-scheduler)
  bootstrap_objects
  launch kwok "$bin_kwok" --kubeconfig "$STATE/kwok.kubeconfig" --config "$STATE/kwok.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --manage-nodes-with-label-selector= --manage-single-node= \
    --disregard-status-with-annotation-selector kwok.x-k8s.io/status=custom --disregard-status-with-label-selector= \
    --cidr "$POD_CIDR" --node-ip 127.0.0.1 --node-port "$KWOK_PORT" --server-address "127.0.0.1:$KWOK_PORT"
  STARTED+=(kwok)

  wait_for "kube-controller-manager /healthz" 60 component_healthy "$KCM_PORT"
  wait_for "kube-scheduler /healthz" 60 component_healthy "$SCHEDULER_PORT"
  for n in "${FAKE_NODES[@]}"; do
    wait_for "node $n Ready" 60 sh -c "'$KUBECTL' --kubeconfig '$KUBECONFIG_PATH' get node $n -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"
  done
  wait_for "default service account" 60 kc -n default get serviceaccount default
  trap - EXIT
  log "cluster ready in $(elapsed "$t0"): export KUBECONFIG=$KUBECONFIG_PATH"
  echo "$KUBECONFIG_PATH"
}

cmd_build_quiet() {
  local n missing=0
  for n in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok; do have_bin "$n" || missing=1; done
  if [ "$missing" = 1 ]; then cmd_build; else kwok_stages_file >/dev/null; fi
  for n in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok; do
    find_bin "$n" >/dev/null || die "$n is still missing after the build"
  done
}

check_ports() {
  local p
  for p in "$ETCD_CLIENT_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" "$KCM_PORT" "$SCHEDULER_PORT" "$KWOK_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      die "port 127.0.0.1:$p is already in use by another program (set LOCAL_*_PORT in toolchain/versions.env)"
    fi
  done
}

cmd_reset() {
  cmd_stop
  rm -rf "$STATE"
  log "deleted ${STATE#"$ROOT"/}"
}

cmd_env() {
  echo "export KUBECONFIG=$KUBECONFIG_PATH"
  echo "export PATH=$TOOLS_BIN:\$PATH"
}

# One start/stop/reset at a time (the lock is not inherited by the components).
lock() {
  mkdir -p "$STATE"
  exec 9>"$STATE/.lock"
  if command -v flock >/dev/null && ! flock -n 9; then
    log "another local-cluster.sh is starting or stopping the cluster; waiting"
    flock 9
  fi
}

case "${1:-}" in
  start|stop|reset) lock ;;
esac
case "${1:-}" in
  build) shift; cmd_build "$@" ;;
  start) shift; cmd_start "$@" ;;
  stop) cmd_stop ;;
  reset) cmd_reset ;;
  status) cmd_status ;;
  kubeconfig) echo "$KUBECONFIG_PATH" ;;
  env) cmd_env ;;
  *) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 2 ;;
esac
