#!/usr/bin/env bash
# The local Kubernetes control plane on 127.0.0.1 (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kwok) and cert-manager's controller beside it:
# build | start [--fresh] | stop | reset | status | kubeconfig | env | clean.
# The program is tooling/local_cluster (run without a command for its help); this wrapper only picks the
# project's Python, so `make`, scripts/up.sh and scripts/down.sh can call it by path.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="$ROOT/.venv/bin/python"
[ -x "$PYTHON" ] || PYTHON="$(command -v python3)"
cd "$ROOT"
exec "$PYTHON" -m tooling.local_cluster "$@"
