"""The chart under test, rendered by the real `helm`."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.tools import ChartTools, chart_tools

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "odoo-operator"

Render = Callable[..., list[dict[str, Any]]]

# Every value of values.yaml set to something other than its default.
EVERY_VALUE: dict[str, Any] = {
    "operator": {
        "image": "registry.example.com/odoo-operator:v9.9.9",
        "imagePullPolicy": "Always",
        "imagePullSecrets": ["registry-credentials"],
        "replicas": 3,
        "leaderElection": True,
        "leaseDuration": 60,
        "renewDeadline": 40,
        "retryPeriod": 8,
        "resources": {"requests": {"cpu": "100m", "memory": "200Mi"}, "limits": {"memory": "1Gi"}},
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 1, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
             "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "odoo-operator"}}}}]}},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops",
                         "effect": "NoSchedule"}],
        "podAnnotations": {"example.com/team": "hosting"},
        "podLabels": {"team": "hosting"},
        "logFormat": "text",
        "logLevel": "debug",
        "watchNamespace": "odoo",
        "maxConcurrentReconciles": 8,
        "jobHistoryLimit": 3,
    },
    "serviceAccount": {"name": "odoo-operator-sa", "annotations": {"example.com/a": "b"}},
    "defaults": {
        "odooImage": "odoo:17.0",
        "storageClass": "fast-rwx",
        "storageSize": "5Gi",
        "ingressClass": "nginx",
        "ingressIssuer": "letsencrypt-prod",
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "4Gi"}},
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "pool", "operator": "In", "values": ["odoo"]}]}]}}},
        "tolerations": [{"key": "pool", "operator": "Equal", "value": "odoo",
                         "effect": "NoSchedule"}],
    },
    "postgresClustersSecretRef": {"name": "pg-clusters"},
    "postgresClusters": {
        "main": {"host": "pg.db.svc", "port": 5432, "adminUser": "postgres",
                 "adminPassword": "s3cret", "default": True},
        "analytics": {"host": "pg2.db.svc", "port": 5433, "adminUser": "admin",
                      "adminPassword": "an0ther", "default": False},
    },
    "webhook": {
        "enabled": True,
        "port": 10443,
        "timeoutSeconds": 5,
        "namespaceSelector": {"matchLabels": {"odoo": "yes"}},
        "certManager": {"enabled": True, "duration": "720h", "caDuration": "43800h"},
        "certSecretName": "",
        "caBundle": "",
    },
    "metrics": {
        "port": 9090,
        "serviceMonitor": {"enabled": True, "interval": "15s", "labels": {"release": "prom"}},
    },
    "health": {"port": 9091},
}  # fmt: skip


@pytest.fixture(scope="session")
def tools() -> ChartTools:
    return chart_tools()


def helm(tools: ChartTools, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(tools.helm), *args], capture_output=True, text=True, timeout=120, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed: {result.stderr}")
    return result


@pytest.fixture
def render(tools: ChartTools, tmp_path: Path) -> Render:
    """`helm template` with the given values; the manifests as dicts."""

    def _render(
        values: dict[str, Any] | None = None,
        *,
        release: str = "odoo-operator",
        namespace: str = "odoo-operator",
        sets: tuple[str, ...] = (),
    ) -> list[dict[str, Any]]:
        values_file = tmp_path / "values.json"
        values_file.write_text(json.dumps(values or {}))
        args = ["template", release, str(CHART), "--namespace", namespace, "-f", str(values_file)]
        for assignment in sets:
            args += ["--set", assignment]
        out = helm(tools, *args).stdout
        return [doc for doc in yaml.safe_load_all(out) if doc]

    return _render


def find(manifests: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [
        m
        for m in manifests
        if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)
    ]
    assert len(matches) == 1, f"{kind} {name or ''}: {len(matches)} found"
    return matches[0]
