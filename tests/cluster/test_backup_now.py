"""`python -m backups backup-now` against a real API server and its controllers (the tier's own local cluster,
where kwok plays the kubelet and completes a Job's pod): the CLI makes a Job from the chart's backup CronJob
as rendered, owned by it, waits for it to complete and reports; the CronJob controller then counts it as the
CronJob's last successful run (what the late-backup alert reads from kube-state-metrics).

The CronJob is dev's with backups switched on (the volume only; no bucket to list afterwards), suspended so
that the controller starts no run of its own, with the ServiceAccount its pods run as. Its namespace is this
test's, not one the program creates.
"""

from __future__ import annotations

import io
import time

import pytest

from backups import cli
from backups.kube import Kube
from components.nexus_database import chart_values
from platform_config.base import Environment
from platform_config.data_tier import DataTierConfig
from tests.cluster.conftest import KUBECTL
from tooling.helm import find, render
from tooling.stacks import stack_config

pytestmark = pytest.mark.cluster

NAMESPACE = "backup-now-test"


@pytest.fixture
def backup_cronjob(kubectl):
    config = DataTierConfig.model_validate({**stack_config("dev")["dataTier"], "backup": {"enabled": True}})
    values = chart_values(config, Environment.DEV, delete_data_on_destroy=False)
    manifests = render("nexus-database", values, release="nexus-database", namespace=NAMESPACE)
    [cronjob] = [c for c in find(manifests, "CronJob") if c["metadata"]["name"] == "product-postgres-backup"]
    # The Job's pods run as the CronJob's own ServiceAccount: without it the API server refuses them.
    [account] = [a for a in find(manifests, "ServiceAccount") if a["metadata"]["name"] == "product-postgres-backup"]
    cronjob = {**cronjob, "spec": {**cronjob["spec"], "suspend": True}}
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "product-postgres-backups"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    kubectl.run("create", "namespace", NAMESPACE)
    try:
        kubectl.apply(NAMESPACE, account, claim, cronjob)
        yield kubectl.get("cronjob", NAMESPACE, "product-postgres-backup")
    finally:
        kubectl.run("delete", "namespace", NAMESPACE, "--wait=false")


def test_backup_now_runs_a_job_of_the_cronjob_waits_for_it_and_the_cronjob_counts_it(
    backup_cronjob, kubectl, kubeconfig, monkeypatch
):
    monkeypatch.setenv("KUBECONFIG", kubeconfig)
    out = io.StringIO()
    kube = Kube(NAMESPACE, kubectl=str(KUBECTL))
    code = cli.main(
        ["backup-now", "product-postgres", "--stack", "dev", "--timeout", "120"], out=out, kube_factory=lambda _: kube
    )
    assert code == cli.EXIT_OK, out.getvalue()
    [job] = [
        j for j in kubectl.items("job", NAMESPACE) if j["metadata"]["name"].startswith("product-postgres-backup-now-")
    ]
    owner = job["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"]) == (
        "CronJob",
        "product-postgres-backup",
        backup_cronjob["metadata"]["uid"],
    )
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert any(c["type"] == "Complete" and c["status"] == "True" for c in job["status"]["conditions"])

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = kubectl.get("cronjob", NAMESPACE, "product-postgres-backup").get("status") or {}
        if status.get("lastSuccessfulTime"):
            break
        time.sleep(2)
    assert status.get("lastSuccessfulTime"), f"the CronJob did not count the manual run: {status}"
