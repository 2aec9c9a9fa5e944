"""Monitoring of one system (`dataTier.monitoring`, `postgresClusters.<name>.monitoring`, `corePipeline.monitoring`,
`orderPlatform.monitoring`): Prometheus exporters,
the Prometheus Operator objects that scrape them (ServiceMonitor) and alert on them (PrometheusRule), and the
labels the operator's Prometheus selects those objects by (kube-prometheus-stack: `release: <its release>`).

Off by default (dev); staging and prod switch it on in their stack files.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from .base import StrictModel

# Kubernetes label syntax: an optional DNS-subdomain prefix and a name of at most 63 characters; values the same
# name syntax (or empty).
_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_LABEL_KEY = re.compile(rf"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?{_LABEL_NAME}$")
_LABEL_VALUE = re.compile(rf"^({_LABEL_NAME})?$")


def _label_key(value: str) -> str:
    if not _LABEL_KEY.match(value) or len(value.partition("/")[0]) > 253:
        raise ValueError(
            f"{value!r} is not a Kubernetes label key: [prefix/]name, the name at most 63 letters, digits, "
            "'-', '_' or '.', starting and ending with a letter or digit (e.g. release)"
        )
    return value


def _label_value(value: str) -> str:
    if not _LABEL_VALUE.match(value):
        raise ValueError(
            f"{value!r} is not a Kubernetes label value: at most 63 letters, digits, '-', '_' or '.', starting "
            "and ending with a letter or digit (e.g. kube-prometheus-stack)"
        )
    return value


LabelKey = Annotated[str, AfterValidator(_label_key)]
LabelValue = Annotated[str, AfterValidator(_label_value)]


class ScrapeConfig(StrictModel):
    """A service's Prometheus Operator objects: a ServiceMonitor for its own metrics endpoint (`serviceMonitor`),
    alert rules (`prometheusRule`), and the labels (`selectorLabels`) both carry so the operator's Prometheus picks
    them up (kube-prometheus-stack selects `release: <its release name>`)."""

    serviceMonitor: bool = False
    prometheusRule: bool = False
    selectorLabels: dict[LabelKey, LabelValue] = Field(default_factory=dict)


class MonitoringConfig(ScrapeConfig):
    """A data store's: exporter sidecars (`metrics`) as well, which its ServiceMonitors scrape and its rules read."""

    metrics: bool = False
    # Grafana dashboards (ConfigMaps the Grafana sidecar loads), one per kind of database.
    dashboards: bool = False

    @model_validator(mode="after")
    def _objects_need_metrics(self) -> MonitoringConfig:
        if self.dashboards and not self.serviceMonitor:
            raise ValueError("dashboards is true but serviceMonitor is false: the dashboards would stay empty")
        if self.serviceMonitor and not self.metrics:
            raise ValueError("serviceMonitor is true but metrics is false: there would be nothing to scrape")
        if self.prometheusRule and not self.serviceMonitor:
            raise ValueError(
                "prometheusRule is true but serviceMonitor is false: the alerts would watch metrics nobody scrapes"
            )
        return self
