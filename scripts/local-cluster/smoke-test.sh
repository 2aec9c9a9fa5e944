#!/usr/bin/env bash
# Smoke test of the local control plane (scripts/local-cluster.sh): a Deployment and a
# StatefulSet with a volumeClaimTemplate become ready on kwok's fake nodes, a PVC is
# expanded, and deleting the StatefulSet keeps its PVCs. Needs a running cluster
# (`scripts/local-cluster.sh start`). LoadBalancer Services and Ingresses get an address. Prints "N passed, N failed" and exits non-zero on failure.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LC="$ROOT/scripts/local-cluster.sh"
KUBECONFIG_PATH="$("$LC" kubeconfig)"
KUBECTL="${KUBECTL:-$ROOT/.tools/bin/kubectl}"
[ -x "$KUBECTL" ] || KUBECTL="$(command -v kubectl)"
NS="smoke-$$"
PASSED=0; FAILED=0

k() { "$KUBECTL" --kubeconfig "$KUBECONFIG_PATH" --request-timeout=20s "$@"; }
ok() { PASSED=$((PASSED + 1)); echo "ok   - $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL - $*"; }
check() { local desc="$1"; shift; if "$@"; then ok "$desc"; else fail "$desc"; fi; }
# eventually TIMEOUT CMD... : retry until it succeeds
eventually() { local t="$1"; shift; local end=$(( $(date +%s) + t )); until "$@" >/dev/null 2>&1; do [ "$(date +%s)" -ge "$end" ] && return 1; sleep 0.5; done; }
jp() { k -n "$NS" get "$1" -o jsonpath="$2"; }
eq() { [ "$("${@:2}")" = "$1" ]; }

cleanup() { k delete namespace "$NS" --wait=false >/dev/null 2>&1 || true; }
trap cleanup EXIT

"$LC" status >/dev/null || { echo "local cluster is not running: $LC start"; echo "0 passed, 1 failed"; exit 1; }
T0=$(date +%s)

k create namespace "$NS" >/dev/null
check "namespace created" eq Active k get namespace "$NS" -o jsonpath="{.status.phase}"
eventually 30 k -n "$NS" get serviceaccount default

k -n "$NS" apply -f - >/dev/null <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: nginx:1.27, ports: [{containerPort: 80}], readinessProbe: {httpGet: {path: /, port: 80}}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 5432}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - name: db
        image: postgres:16
        volumeMounts: [{name: data, mountPath: /var/lib/postgresql/data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
EOF

check "deployment rollout completes" k -n "$NS" rollout status deployment/web --timeout=90s
check "deployment readyReplicas=2" eq 2 jp deployment/web '{.status.readyReplicas}'
check "pods are scheduled onto fake nodes" eventually 30 sh -c "'$KUBECTL' --kubeconfig '$KUBECONFIG_PATH' -n $NS get pods -l app=web -o jsonpath='{.items[*].spec.nodeName}' | grep -q kwok-node"
check "service web has 2 ready endpoints" eventually 30 sh -c "[ \"\$('$KUBECTL' --kubeconfig '$KUBECONFIG_PATH' -n $NS get endpointslices -l kubernetes.io/service-name=web -o jsonpath='{range .items[*].endpoints[*]}{.conditions.ready}{\"\\n\"}{end}' | grep -c true)\" = 2 ]"
check "statefulset rollout completes" k -n "$NS" rollout status statefulset/db --timeout=120s
check "statefulset readyReplicas=2" eq 2 jp statefulset/db '{.status.readyReplicas}'
check "PVC data-db-0 is Bound with the default StorageClass" eq "Bound standard" jp pvc/data-db-0 '{.status.phase} {.spec.storageClassName}'
check "PVC data-db-1 is Bound" eq Bound jp pvc/data-db-1 '{.status.phase}'

k -n "$NS" patch pvc data-db-0 --type merge -p '{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}' >/dev/null
check "PVC expansion accepted (spec 2Gi)" eq 2Gi jp pvc/data-db-0 '{.spec.resources.requests.storage}'
check "PVC capacity becomes 2Gi" eventually 30 eq 2Gi jp pvc/data-db-0 '{.status.capacity.storage}'

check "scale statefulset to 3" k -n "$NS" scale statefulset/db --replicas=3
check "statefulset readyReplicas=3" eventually 60 eq 3 jp statefulset/db '{.status.readyReplicas}'

k -n "$NS" apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: web-lb}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  rules:
  - host: web.nexus.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
EOF
check "LoadBalancer Service gets a (loopback) address" eventually 30 eq 127.0.0.1 jp service/web-lb '{.status.loadBalancer.ingress[0].ip}'
check "Ingress gets a (loopback) address" eventually 30 eq 127.0.0.1 jp ingress/web '{.status.loadBalancer.ingress[0].ip}'

k -n "$NS" delete statefulset db --wait=true --timeout=60s >/dev/null
k -n "$NS" delete deployment web --wait=true --timeout=60s >/dev/null
check "workload pods are gone" eventually 60 eq "" jp pods '{.items[*].metadata.name}'
check "PVCs stay after the StatefulSet is deleted" eq "data-db-0 data-db-1 data-db-2" jp pvc '{.items[*].metadata.name}'
check "PVCs still Bound" eq "Bound Bound Bound" jp pvc '{.items[*].status.phase}'

echo "smoke test took $(( $(date +%s) - T0 ))s"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
