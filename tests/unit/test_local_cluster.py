"""tooling.local_cluster without starting a cluster: which instance gets which folder and ports (the
environment wins over toolchain/versions.env, the test instance never shares a port or a folder with make
up's), the certificates the components trust, kwok's configuration, and the error for a port in use."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from tooling.local_cluster import ClusterError, LocalCluster, instance
from tooling.local_cluster.config import read_env_file, settings
from tooling.local_cluster.objects import STORAGE_CLASS, kwok_config
from tooling.local_cluster.pki import KUBECONFIGS, ensure_pki, write_kubeconfigs
from tooling.paths import REPO_ROOT

pytestmark = pytest.mark.unit


def test_the_environment_wins_over_versions_env() -> None:
    pinned = read_env_file(REPO_ROOT / "toolchain" / "versions.env")["LOCAL_APISERVER_PORT"]
    assert settings({})["LOCAL_APISERVER_PORT"] == pinned
    assert settings({"LOCAL_APISERVER_PORT": "17443"})["LOCAL_APISERVER_PORT"] == "17443"
    assert instance("default", {"LOCAL_APISERVER_PORT": "17443"}).ports.apiserver == 17443


def test_the_test_instance_shares_no_folder_and_no_port_with_make_ups() -> None:
    default, test = instance("default", {}), instance("test", {})
    assert default.state_dir == REPO_ROOT / ".local-cluster"
    assert test.state_dir == REPO_ROOT / ".local-cluster-test"
    assert not {p for _, p in default.ports.items()} & {p for _, p in test.ports.items()}
    assert instance("test", {"LOCAL_TEST_PORT_OFFSET": "300"}).ports.apiserver == default.ports.apiserver + 300


def test_an_unknown_instance_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown local cluster instance 'prod'"):
        instance("prod", {})


def test_every_certificate_is_issued_by_the_cluster_ca_with_the_names_its_clients_dial(tmp_path: Path) -> None:
    assert ensure_pki(tmp_path / "pki")
    assert not ensure_pki(tmp_path / "pki")  # made once
    ca = x509.load_pem_x509_certificate((tmp_path / "pki" / "ca.crt").read_bytes())
    for name in ("apiserver", "etcd", "apiserver-etcd-client", "admin", "kube-controller-manager", "kwok"):
        cert = x509.load_pem_x509_certificate((tmp_path / "pki" / f"{name}.crt").read_bytes())
        cert.verify_directly_issued_by(ca)
    apiserver = x509.load_pem_x509_certificate((tmp_path / "pki" / "apiserver.crt").read_bytes())
    alt = apiserver.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in alt.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "10.96.0.1"}
    assert "kubernetes.default.svc.cluster.local" in alt.get_values_for_type(x509.DNSName)
    admin = x509.load_pem_x509_certificate((tmp_path / "pki" / "admin.crt").read_bytes())
    assert "O=system:masters" in admin.subject.rfc4514_string()
    assert ((tmp_path / "pki" / "ca.key").stat().st_mode & 0o777) == 0o600


def test_kubeconfigs_name_the_loopback_server_and_embed_their_certificates(tmp_path: Path) -> None:
    ensure_pki(tmp_path / "pki")
    write_kubeconfigs(tmp_path, "https://127.0.0.1:16443")
    for filename in KUBECONFIGS:
        config = yaml.safe_load((tmp_path / filename).read_text())
        assert config["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:16443"
        assert config["users"][0]["user"]["client-key-data"]
        assert ((tmp_path / filename).stat().st_mode & 0o777) == 0o600


def test_kwoks_volume_stages_select_the_default_storage_class(tmp_path: Path) -> None:
    (tmp_path / "pvc-provision.yaml").write_text(
        "kind: Stage\nmetadata: {name: pvc-provision}\nspec:\n  expr: self.spec.storageClassName == 'kwok-volume'\n"
    )
    documents = list(yaml.safe_load_all(kwok_config(tmp_path)))
    assert documents[0]["kind"] == "KwokConfiguration"
    names = [d["metadata"]["name"] for d in documents[1:]]
    assert names == ["pvc-provision", "pvc-resize", "service-load-balancer", "ingress-load-balancer"]
    text = kwok_config(tmp_path)
    assert "'kwok-volume'" not in text
    assert f"storageClassName == '{STORAGE_CLASS}'" in text


def test_a_port_in_use_is_named_with_the_setting_that_moves_it(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"LOCAL_APISERVER_PORT": str(port), "LOCAL_CLUSTER_DIR": str(tmp_path)}
        with pytest.raises(ClusterError, match=rf"127\.0\.0\.1:{port} \(kube-apiserver\).*LOCAL_APISERVER_PORT"):
            LocalCluster(instance("default", env), log=lambda _: None).check_ports()
