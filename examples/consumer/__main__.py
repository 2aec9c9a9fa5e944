"""orders-reporting: an app team's deployment that takes its configuration from nexus-platform's outputs.

The platform stack is read through a StackReference (config `platformStack`), so credentials arrive as
Pulumi secrets and stay secrets: they are written into this app's own Kubernetes Secret (secretKeyRef
cannot reach the platform's namespaces) and the Deployment only references that Secret.
"""

import pulumi
import pulumi_kubernetes as k8s
from app_env import CONSUMED_OUTPUTS, app_env, container_env

NAMESPACE = "orders-reporting"
SECRET_NAME = "orders-reporting-env"
LABELS = {"app.kubernetes.io/name": "orders-reporting", "app.kubernetes.io/part-of": "orders-reporting"}

config = pulumi.Config()
platform = pulumi.StackReference("platform", stack_name=config.require("platformStack"))
postgres_cluster = config.get("postgresCluster") or "orders"
image = config.get("image") or "ghcr.io/example/orders-reporting:1.4.2"
# Set when the platform stack serves TLS (its output `tls.mode` is not "disabled"): the app asks the platform's
# issuer for a Certificate in its own namespace, whose ca.crt it verifies the servers against.
trust_platform_ca = config.get_bool("trustPlatformCa") or False

outputs = pulumi.Output.all(*(platform.get_output(name) for name in CONSUMED_OUTPUTS)).apply(
    lambda values: dict(zip(CONSUMED_OUTPUTS, values, strict=True))
)
env = outputs.apply(lambda o: app_env(o, postgres_cluster))

namespace = k8s.core.v1.Namespace(NAMESPACE, metadata={"name": NAMESPACE, "labels": LABELS})
in_namespace = pulumi.ResourceOptions(depends_on=[namespace])

secret = k8s.core.v1.Secret(
    SECRET_NAME,
    metadata={"name": SECRET_NAME, "namespace": NAMESPACE, "labels": LABELS},
    type="Opaque",
    # Explicit, though the platform reports these outputs as secret and the SDK marks stringData secret too.
    string_data=pulumi.Output.secret(env.apply(lambda e: e.secret)),
    opts=in_namespace,
)

tls_volumes, tls_mounts, tls_objects = [], [], []
if trust_platform_ca:
    tls = platform.get_output("tls")
    tls_objects.append(
        k8s.apiextensions.CustomResource(
            f"{NAMESPACE}-certificate",
            api_version="cert-manager.io/v1",
            kind="Certificate",
            metadata={"name": f"{NAMESPACE}-tls", "namespace": NAMESPACE, "labels": LABELS},
            spec={
                "secretName": f"{NAMESPACE}-tls",
                "commonName": NAMESPACE,
                "usages": ["client auth", "digital signature", "key encipherment"],
                "issuerRef": {
                    "group": "cert-manager.io",
                    "kind": tls.apply(lambda t: t["issuerKind"]),
                    "name": tls.apply(lambda t: t["issuerName"]),
                },
            },
            opts=in_namespace,
        )
    )
    # Only the CA, never the certificate's key.
    tls_volumes.append(
        {"name": "tls-ca", "secret": {"secretName": f"{NAMESPACE}-tls", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}
    )
    tls_mounts.append({"name": "tls-ca", "mountPath": "/tls", "readOnly": True})

# The env list holds plain values and Secret references only (container_env never sees a credential's
# value), so it may be shown in diffs even though it was derived from secret outputs.
container = {
    "name": "app",
    "image": image,
    "env": pulumi.Output.unsecret(env.apply(lambda e: container_env(e, SECRET_NAME))),
    "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "250m", "memory": "128Mi"}},
    "securityContext": {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    },
    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, *tls_mounts],
}

deployment = k8s.apps.v1.Deployment(
    NAMESPACE,
    metadata={"name": NAMESPACE, "namespace": NAMESPACE, "labels": LABELS},
    spec={
        "replicas": 2,
        "selector": {"matchLabels": LABELS},
        "template": {
            "metadata": {"labels": LABELS},
            "spec": {
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": 10001,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [container],
                "volumes": [{"name": "tmp", "emptyDir": {}}, *tls_volumes],
            },
        },
    },
    opts=pulumi.ResourceOptions(depends_on=[namespace, secret, *tls_objects]),
)

k8s.policy.v1.PodDisruptionBudget(
    NAMESPACE,
    metadata={"name": NAMESPACE, "namespace": NAMESPACE, "labels": LABELS},
    spec={"minAvailable": 1, "selector": {"matchLabels": LABELS}},
    opts=in_namespace,
)

# A worker with no Service: nothing may connect to it.
k8s.networking.v1.NetworkPolicy(
    f"{NAMESPACE}-deny-ingress",
    metadata={"name": "deny-ingress", "namespace": NAMESPACE, "labels": LABELS},
    spec={"podSelector": {}, "policyTypes": ["Ingress"]},
    opts=in_namespace,
)

pulumi.export("namespace", NAMESPACE)
pulumi.export("secretName", SECRET_NAME)
pulumi.export("platformEnvironment", env.apply(lambda e: e.plain["APP_ENV"]))
