"""The security profile of a stack (`nexus-platform:security`): TLS in transit and audit logging.

    nexus-platform:security:
      tls:
        mode: required            # disabled | enabled | required
        issuer: {kind: ClusterIssuer, name: nexus-ca}
      audit: comprehensive        # disabled | basic | comprehensive

TLS: every server of the data tier and the Bitnami cluster gets a cert-manager `Certificate` from the issuer
named here. `enabled` offers TLS and still accepts plaintext (the step a running stack takes first, so clients
can move over); `required` refuses plaintext from the network. The issuer is the operator's: point
`issuer` at their own (a private CA, Vault, ...), or leave `createPrivateCa` on and the program creates a
self-signed root and a CA ClusterIssuer of that name (components/certificates.py).

RBAC is not a setting: every workload runs as a ServiceAccount of its own whose token is never mounted
(no pod of this program calls the Kubernetes API), in every environment, and the policy pack refuses the
default ServiceAccount and mounted tokens in staging and prod.

Audit logging says what each server logs (README "Audit logging"): `basic` connections, disconnections,
failed logins and schema changes; `comprehensive` every statement or command as well.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from .base import StrictModel


class TlsMode(StrEnum):
    DISABLED = "disabled"
    ENABLED = "enabled"
    REQUIRED = "required"


class AuditLevel(StrEnum):
    DISABLED = "disabled"
    BASIC = "basic"
    COMPREHENSIVE = "comprehensive"


# cert-manager's duration syntax as this program accepts it: hours (cert-manager takes Go durations).
_HOURS = re.compile(r"^[1-9][0-9]*h$")


def _hours(value: str) -> str:
    if not _HOURS.match(value):
        raise ValueError(f"{value!r} is not a duration in hours: use a whole number of hours such as 2160h (90 days)")
    return value


Hours = Annotated[str, AfterValidator(_hours)]
# A Kubernetes object name (DNS subdomain).
_OBJECT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def _object_name(value: str) -> str:
    if not _OBJECT_NAME.match(value):
        raise ValueError(f"{value!r} is not a Kubernetes object name: lowercase letters, digits, '-' and '.'")
    return value


ObjectName = Annotated[str, AfterValidator(_object_name)]


class IssuerRef(StrictModel):
    """The cert-manager issuer every Certificate of the stack names."""

    kind: Literal["ClusterIssuer", "Issuer"] = "ClusterIssuer"
    name: ObjectName = "nexus-ca"


class TlsConfig(StrictModel):
    mode: TlsMode = TlsMode.DISABLED
    issuer: IssuerRef = Field(default_factory=IssuerRef)
    # Create `issuer` as a private CA (a self-signed root in cert-manager's cluster resource namespace).
    createPrivateCa: bool = True
    # Where cert-manager keeps a ClusterIssuer's CA Secret (its --cluster-resource-namespace).
    clusterResourceNamespace: ObjectName = "cert-manager"
    duration: Hours = "2160h"
    renewBefore: Hours = "360h"

    @model_validator(mode="after")
    def _private_ca_is_cluster_wide(self) -> TlsConfig:
        if self.createPrivateCa and self.issuer.kind != "ClusterIssuer":
            raise ValueError(
                "createPrivateCa makes a ClusterIssuer (servers live in several namespaces): set issuer.kind to "
                "ClusterIssuer, or createPrivateCa to false and name your own Issuer"
            )
        if int(self.renewBefore[:-1]) >= int(self.duration[:-1]):
            raise ValueError(f"renewBefore ({self.renewBefore}) must be shorter than duration ({self.duration})")
        return self

    @property
    def enabled(self) -> bool:
        return self.mode != TlsMode.DISABLED

    @property
    def required(self) -> bool:
        return self.mode == TlsMode.REQUIRED


class SecurityConfig(StrictModel):
    tls: TlsConfig = Field(default_factory=TlsConfig)
    audit: AuditLevel = AuditLevel.DISABLED


__all__ = ["AuditLevel", "IssuerRef", "SecurityConfig", "TlsConfig", "TlsMode"]
