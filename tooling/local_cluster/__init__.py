"""The local Kubernetes control plane on loopback: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok (fake nodes), and cert-manager's controller beside them (certificates issued into
Secrets), built from Go at the versions toolchain/versions.env pins.

    python -m tooling.local_cluster [--instance default|test] COMMAND

    build        find or build the binaries into .tools/bin
    start        start the cluster or reuse a healthy running one (starting cert-manager's controller if it
                 is down; `--fresh` wipes the data first); prints the admin kubeconfig's path
    stop         stop every process of the cluster (data is kept)
    reset        stop and delete the instance's state (etcd data, certificates, logs)
    status       exit 0 when running and healthy
    kubeconfig   print the admin kubeconfig path
    env          print `export KUBECONFIG=...` and a PATH with the tools
    clean        `make clean`: remove the local state, refusing while the local backend has deployed stacks

Everything listens on 127.0.0.1 only. Pods never run: kwok marks pods on its fake nodes Running/Ready,
binds claims of the default StorageClass to fake volumes and applies their resizes, so Deployments,
StatefulSets and PVCs report ready. cert-manager's controller (SelfSigned and CA issuers) runs on the
host against the API server, as the control plane's controllers do; its CRDs are installed at start.
`scripts/local-cluster/README.md` tells the rest.
"""

from tooling.local_cluster.cluster import ClusterError, LocalCluster
from tooling.local_cluster.config import Instance, instance

__all__ = ["ClusterError", "Instance", "LocalCluster", "instance"]
