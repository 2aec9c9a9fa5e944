"""Smoke test for the backup issue's object store (tooling/dataplane/s3.py: S3Proxy over a local directory,
and why it was chosen): it starts, answers S3 with signature v4, stores and returns an object, and refuses
a wrong key. No pod of ours talks to an object store yet; this is the server later tests will drive.
"""

from __future__ import annotations

import dataclasses

import pytest

from tooling.dataplane import s3
from tooling.dataplane.pods import Network


@pytest.fixture(scope="module")
def store(session_root, supervisor):
    root = session_root / "s3"
    root.mkdir()
    supervisor.run_as and supervisor.run_as.own(root)
    address = Network(root, 250).allocate()

    def mkdir(path):
        path.mkdir(parents=True, exist_ok=True)
        supervisor.run_as and supervisor.run_as.own(path)
        return path

    server = s3.start_s3proxy(
        supervisor, root, address, access_key="backup-writer", secret_key="s3-secret", mkdir=mkdir
    )
    yield server
    supervisor.stop(server.server)


def test_object_store_keeps_an_object_put_with_signature_v4(store):
    assert store.request("PUT", "/backups")[0] == 200
    dump = b"PGDMP" + bytes(range(256)) * 64
    assert store.request("PUT", "/backups/product-postgres/20261202T020000Z.dump", dump)[0] == 200
    status, body = store.request("GET", "/backups/product-postgres/20261202T020000Z.dump")
    assert status == 200 and body == dump
    status, listing = store.request("GET", "/backups")
    assert status == 200 and b"product-postgres/20261202T020000Z.dump" in listing


def test_object_store_refuses_a_wrong_secret_key(store):
    intruder = dataclasses.replace(store, secret_key="not-the-secret")
    status, body = intruder.request("PUT", "/intruder")
    assert status == 403 and (b"SignatureDoesNotMatch" in body or b"AccessDenied" in body), (status, body)
