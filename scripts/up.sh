#!/usr/bin/env bash
# Deploy a stack: `make up [STACK=dev]` runs this after building the toolchain and sourcing
# scripts/pulumi-env.sh.
#
# - A kubeconfig is configured ($KUBECONFIG, ~/.kube/config, or kubernetes.kubeconfig/context in
#   Pulumi.STACK.yaml): `pulumi up --stack STACK` against that cluster, as is.
# - None is: start the loopback control plane (scripts/local-cluster.sh) and deploy the derived,
#   git-ignored stack STACK-local (scripts/local-cluster/local_stack.py): the committed config plus
#   the local kubeconfig, the Bitnami chart's TEST DOUBLE (its registry is unreachable here), the
#   cluster's `standard` StorageClass where the stack names one the cluster lacks, and generated
#   operator secrets where the stack requires them (staging, prod; dev generates its own).
# Then: the stack outputs with secrets masked and a one-screen summary of what runs.
set -euo pipefail
# (enters the repository and sources scripts/pulumi-env.sh)
# shellcheck source=local-cluster/target.sh
source "$(dirname "${BASH_SOURCE[0]}")/local-cluster/target.sh"

STACK="${1:-dev}"
[ -f "Pulumi.$STACK.yaml" ] || { echo "up.sh: no stack file Pulumi.$STACK.yaml" >&2; exit 2; }
# Operator-set secrets the committed stack files cannot carry; staging/prod refuse to run without them.
mapfile -t OPERATOR_SECRETS < <("$NEXUS_PYTHON" -m platform_config operator-secrets)
T0=$SECONDS

if nexus_kubeconfig_configured "$STACK"; then
  DEPLOY="$STACK"
  KCTL_KUBECONFIG="${KUBECONFIG:-$HOME/.kube/config}"
  nexus_log "a kubeconfig is configured: deploying stack $DEPLOY to that cluster"
else
  DEPLOY="$STACK-local"
  nexus_log "no kubeconfig configured (no \$KUBECONFIG, no ~/.kube/config, none in Pulumi.$STACK.yaml):" \
    "starting the local control plane on 127.0.0.1 (scripts/local-cluster.sh)"
  if ! bash scripts/local-cluster.sh status >/dev/null 2>&1; then
    bash scripts/local-cluster.sh build
    KCTL_KUBECONFIG="$(bash scripts/local-cluster.sh start)"
    touch "$NEXUS_STARTED_MARKER"
  else
    echo "local control plane already running: reusing it" >&2
    KCTL_KUBECONFIG="$(bash scripts/local-cluster.sh kubeconfig)"
  fi
  CLASSES="$(KUBECONFIG="$KCTL_KUBECONFIG" kubectl get storageclass -o jsonpath='{.items[*].metadata.name}' | tr ' ' ',')"
  nexus_log "deriving stack $DEPLOY from Pulumi.$STACK.yaml (git-ignored Pulumi.$DEPLOY.yaml)"
  "$NEXUS_PYTHON" scripts/local-cluster/local_stack.py "$STACK" "$KCTL_KUBECONFIG" "$CLASSES" >/dev/null
fi

# Namespaces that hold data outlive `make down` (retained on destroy), and so do their claims. Another
# stack's objects would collide with them (a claim's size owned by the old stack's field manager), so
# refuse, naming them, rather than delete data behind the user's back.
if [ "$DEPLOY" != "$STACK" ] && [ -f "$NEXUS_DEPLOYED_RECORD" ] && [ "$(head -1 "$NEXUS_DEPLOYED_RECORD")" != "$DEPLOY" ]; then
  PREVIOUS="$(head -1 "$NEXUS_DEPLOYED_RECORD")"
  LEFT=()
  while read -r ns; do
    [ -n "$ns" ] && KUBECONFIG="$KCTL_KUBECONFIG" kubectl get namespace "$ns" >/dev/null 2>&1 && LEFT+=("$ns")
  done < <(tail -n +2 "$NEXUS_DEPLOYED_RECORD")
  if [ ${#LEFT[@]} -gt 0 ]; then
    echo "up.sh: the local cluster still holds namespaces of stack $PREVIOUS (${LEFT[*]}): retained with their" >&2
    echo "       data on destroy, they would collide with $DEPLOY. Run \`make down STACK=${PREVIOUS%-local}\` if it is" >&2
    echo "       still deployed, then wipe the local cluster with \`scripts/local-cluster.sh reset\` (deletes that data)." >&2
    exit 1
  fi
fi

if ! pulumi stack select "$DEPLOY" --non-interactive >/dev/null 2>&1; then
  nexus_log "creating stack $DEPLOY on $PULUMI_BACKEND_URL"
  if [ "${NEXUS_PULUMI_LOCAL_BACKEND:-0}" = 1 ]; then
    pulumi stack init "$DEPLOY" --secrets-provider passphrase --non-interactive
  else
    pulumi stack init "$DEPLOY" --non-interactive
  fi
fi

if [ "$DEPLOY" != "$STACK" ] && [ "$STACK" != dev ]; then
  for key in "${OPERATOR_SECRETS[@]}"; do
    # (`config get` of an unset key prints nothing and may still exit 0)
    if [ -z "$(pulumi config get "nexus-platform:$key" --stack "$DEPLOY" --non-interactive 2>/dev/null)" ]; then
      echo "local stack: generating operator secret nexus-platform:$key (set by an operator on real stacks)" >&2
      pulumi config set --secret "nexus-platform:$key" "$("$NEXUS_PYTHON" -c 'import secrets; print(secrets.token_hex(24))')" --stack "$DEPLOY" --non-interactive
    fi
  done
fi

nexus_log "pulumi up --stack $DEPLOY"
pulumi up --yes --stack "$DEPLOY" --non-interactive --suppress-outputs

nexus_log "stack outputs ($DEPLOY; secrets masked, reveal with: pulumi stack output --show-secrets --stack $DEPLOY)"
pulumi stack output --stack "$DEPLOY" --non-interactive

nexus_log "what runs (kubectl, KUBECONFIG=$KCTL_KUBECONFIG)"
export KUBECONFIG="$KCTL_KUBECONFIG"
# The namespaces this stack's state holds, so a shared cluster's other tenants are left out.
mapfile -t NAMESPACES < <(pulumi stack export --stack "$DEPLOY" --non-interactive |
  "$NEXUS_PYTHON" -c 'import json,sys; d=json.load(sys.stdin)["deployment"].get("resources") or []; print("\n".join(sorted({r["outputs"]["metadata"]["name"] for r in d if r["type"]=="kubernetes:core/v1:Namespace"})))')
printf 'namespaces: %s\n' "${NAMESPACES[*]:-none}"
[ "$DEPLOY" != "$STACK" ] && printf '%s\n' "$DEPLOY" "${NAMESPACES[@]}" >"$NEXUS_DEPLOYED_RECORD"
printf '%-26s %-12s %-36s %s\n' NAMESPACE KIND NAME READY
for ns in "${NAMESPACES[@]}"; do
  kubectl get deployments,statefulsets -n "$ns" --no-headers \
    -o custom-columns='KIND:.kind,NAME:.metadata.name,READY:.status.readyReplicas,WANT:.spec.replicas' 2>/dev/null |
    awk -v ns="$ns" '{r=($3=="<none>")?0:$3; printf "%-26s %-12s %-36s %s/%s\n", ns, $1, $2, r, $4}'
done
SERVICES=0; PVCS=0; BOUND=0
for ns in "${NAMESPACES[@]}"; do
  SERVICES=$((SERVICES + $(kubectl get services -n "$ns" --no-headers 2>/dev/null | wc -l)))
  PVCS=$((PVCS + $(kubectl get pvc -n "$ns" --no-headers 2>/dev/null | wc -l)))
  BOUND=$((BOUND + $(kubectl get pvc -n "$ns" --no-headers 2>/dev/null | awk '$2=="Bound"' | wc -l)))
done
echo "services: $SERVICES   persistent volume claims: $PVCS ($BOUND bound)"
echo "stack $DEPLOY deployed in $((SECONDS - T0)) s. Remove it with: make down STACK=$STACK"
