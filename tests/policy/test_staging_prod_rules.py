"""Staging and prod run only pinned images and serve every Ingress over TLS (policy/rules.py)."""

from __future__ import annotations

import pytest
import rules

from tests.policy.manifests import at, deployment, ingress

pytestmark = pytest.mark.unit

IMAGE = "spec.template.spec.containers.0.image"


@pytest.mark.parametrize(
    "image",
    [
        "docker.io/bitnamilegacy/postgresql:17.6.0-debian-12-r0",
        "registry.example.com:5000/orders/api:1.4.2",
        "registry.example.com/orders/api@sha256:" + "a" * 64,
    ],
)
def test_an_image_pinned_to_a_tag_or_digest_passes(image):
    assert rules.images_pinned(at(deployment(), IMAGE, image)) == []


def test_an_image_tagged_latest_is_a_violation():
    problems = rules.images_pinned(at(deployment(), IMAGE, "registry.example.com/orders/api:latest"))
    assert problems == [
        "Deployment orders/api: container 'api' image 'registry.example.com/orders/api:latest' uses 'latest'; pin a "
        "version tag or digest"
    ]


@pytest.mark.parametrize("image", ["nginx", "registry.example.com:5000/orders/api"])
def test_an_untagged_image_is_a_violation_even_behind_a_registry_port(image):
    problems = rules.images_pinned(at(deployment(), IMAGE, image))
    assert problems == [
        f"Deployment orders/api: container 'api' image {image!r} has no tag; pin a version tag or digest"
    ]


def test_an_ingress_with_tls_for_its_hosts_passes():
    assert rules.ingress_tls(ingress()) == []


def test_an_ingress_without_tls_is_a_violation():
    assert rules.ingress_tls(ingress(tls_hosts=())) == [
        "Ingress orders/api has no spec.tls; every Ingress must serve HTTPS"
    ]


def test_an_ingress_host_missing_from_its_tls_hosts_is_a_violation():
    obj = ingress(hosts=("a.nexus.example.com", "b.nexus.example.com"), tls_hosts=("a.nexus.example.com",))
    assert rules.ingress_tls(obj) == ["Ingress orders/api: host 'b.nexus.example.com' has no TLS entry in spec.tls"]


def test_a_wildcard_tls_host_covers_one_subdomain_level():
    obj = ingress(hosts=("orders.nexus.example.com",), tls_hosts=("*.nexus.example.com",))
    assert rules.ingress_tls(obj) == []


def test_objects_other_than_ingresses_are_ignored_by_the_tls_rule():
    assert rules.ingress_tls(deployment()) == []
