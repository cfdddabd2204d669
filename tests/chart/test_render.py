"""The chart as `helm lint` and `helm template` see it: valid Kubernetes objects, the
operator's flags from the values, a hardened pod, RBAC without wildcards, and the webhook
list the code defines."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner

from odoo_operator.cli import main
from odoo_operator.controllers.settings import OperatorSettings
from odoo_operator.run import process
from odoo_operator.runtime.options import ManagerOptions
from odoo_operator.webhook.paths import webhooks
from tests.chart.conftest import CHART, EVERY_VALUE, Render, find, helm
from tests.chart.tools import ChartTools

# Kinds of CRDs, which kubernetes-validate has no schema for.
CRD_KINDS = {"Issuer", "Certificate", "ServiceMonitor"}
KUBERNETES_VERSIONS = ("1.26.0", kubernetes_validate.latest_version())
CERT_MANAGER_FREE = {
    "webhook": {
        "certManager": {"enabled": False},
        "certSecretName": "webhook-tls",
        "caBundle": base64.b64encode(b"-----BEGIN CERTIFICATE-----\n").decode(),
    }
}


def test_helm_lint_strict_is_clean(tools: ChartTools) -> None:
    result = helm(tools, "lint", "--strict", str(CHART))
    assert "[WARNING]" not in result.stdout, result.stdout
    assert "[ERROR]" not in result.stdout, result.stdout
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


@pytest.mark.parametrize(
    "values",
    [{}, EVERY_VALUE, CERT_MANAGER_FREE],
    ids=["defaults", "every-value", "no-cert-manager"],
)
def test_every_manifest_is_a_valid_kubernetes_object(
    render: Render, values: dict[str, Any]
) -> None:
    manifests = render(values)
    checked = [m for m in manifests if m["kind"] not in CRD_KINDS]
    assert len(checked) >= 9
    for manifest in checked:
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(manifest, version, strict=True)


def _settings(manifests: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> Any:
    """What `odoo-operator run` makes of the Deployment's args and env: the runtime's
    options and the operator's settings, as one namespace of attributes."""
    container = find(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    namespace = find(manifests, "Deployment")["metadata"]["namespace"]
    env = {e["name"]: namespace for e in container["env"] if e["name"] == "OPERATOR_NAMESPACE"}
    assert container["args"][0] == "run"
    received: list[SimpleNamespace] = []

    async def record(options: ManagerOptions, settings: OperatorSettings) -> int:
        received.append(SimpleNamespace(**dict(options), **dict(settings)))
        return 0

    monkeypatch.setattr(process, "serve", record)
    result = CliRunner().invoke(main, container["args"], env=env)
    assert result.exit_code == 0, result.output
    return received[0]


def test_every_value_reaches_its_flag(render: Render, monkeypatch: pytest.MonkeyPatch) -> None:
    manifests = render(EVERY_VALUE)
    settings = _settings(manifests, monkeypatch)
    defaults, operator = EVERY_VALUE["defaults"], EVERY_VALUE["operator"]
    assert settings.default_odoo_image == defaults["odooImage"]
    assert settings.default_storage_class == defaults["storageClass"]
    assert settings.default_storage_size == defaults["storageSize"]
    assert settings.default_ingress_class == defaults["ingressClass"]
    assert settings.default_ingress_issuer == defaults["ingressIssuer"]
    assert settings.default_resources == defaults["resources"]
    assert settings.default_affinity == defaults["affinity"]
    assert settings.default_tolerations == defaults["tolerations"]
    assert settings.postgres_clusters_secret == "pg-clusters"
    assert settings.operator_namespace == "odoo-operator"
    assert settings.job_history_limit == operator["jobHistoryLimit"]
    assert settings.watch_namespace == operator["watchNamespace"]
    assert settings.max_concurrent_reconciles == operator["maxConcurrentReconciles"]
    assert settings.leader_elect is True
    timings = (settings.lease_duration, settings.renew_deadline, settings.retry_period)
    assert timings == tuple(operator[k] for k in ("leaseDuration", "renewDeadline", "retryPeriod"))
    assert settings.metrics_bind_address == ":9090"
    assert settings.health_probe_bind_address == ":9091"
    assert settings.webhook_port == 10443
    assert (settings.log_format, settings.log_level) == ("text", "debug")
    deployment = find(manifests, "Deployment")
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert settings.operator_image == image == operator["image"]
    assert deployment["spec"]["replicas"] == 3


def test_defaults_give_the_spec_defaults(render: Render, monkeypatch: pytest.MonkeyPatch) -> None:
    manifests = render(sets=("defaults.ingressClass=nginx", "defaults.ingressIssuer=le"))
    settings = _settings(manifests, monkeypatch)
    assert (settings.default_odoo_image, settings.default_storage_size) == ("odoo:18.0", "2Gi")
    assert settings.postgres_clusters_secret == "postgres-clusters"
    assert (settings.default_ingress_class, settings.default_ingress_issuer) == ("nginx", "le")
    assert settings.default_resources is None
    timings = (settings.lease_duration, settings.renew_deadline, settings.retry_period)
    assert timings == (15.0, 10.0, 2.0)  # SPEC's
    assert settings.webhook_cert_dir == Path("/tmp/k8s-webhook-server/serving-certs")
    assert settings.operator_image == "ghcr.io/bemade/odoo-operator:0.1.0.dev0"


def test_the_pod_is_hardened(render: Render) -> None:
    pod = find(render(), "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert pod["terminationGracePeriodSeconds"] >= 35  # above the manager's 30 s grace
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["requests"]
    assert container["resources"]["limits"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["webhook-cert"]["readOnly"] is True


def test_rbac_names_every_verb_and_resource(render: Render) -> None:
    manifests = render()
    for kind in ("ClusterRole", "Role"):
        for rule in find(manifests, kind)["rules"]:
            for key in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[key], rule
    lease = find(manifests, "Role")
    assert lease["metadata"]["namespace"] == "odoo-operator"
    assert lease["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
         "verbs": ["get", "create", "update"]}
    ]  # fmt: skip
    assert not any(
        "leases" in rule["resources"] for rule in find(manifests, "ClusterRole")["rules"]
    )


def _comparable(hooks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**hook, "clientConfig": {"path": hook["clientConfig"]["service"]["path"]}}
        for hook in hooks
    ]


def test_the_webhooks_are_the_ones_the_code_serves(render: Render) -> None:
    manifests = render()
    configuration = find(manifests, "ValidatingWebhookConfiguration")
    expected = webhooks(lambda path: {"service": {"path": path}})
    assert _comparable(configuration["webhooks"]) == _comparable(expected)
    service = find(manifests, "Service", "odoo-operator-webhook")
    (port,) = service["spec"]["ports"]
    for hook in configuration["webhooks"]:
        assert hook["clientConfig"]["service"]["name"] == service["metadata"]["name"]
        assert hook["clientConfig"]["service"]["port"] == port["port"]
    container = find(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert named[port["targetPort"]] == 9443
    assert "--webhook-port=9443" in container["args"]
    annotation = configuration["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
    certificate = find(manifests, "Certificate", "odoo-operator-webhook-cert")
    assert annotation == "odoo-operator/odoo-operator-webhook-cert"
    assert certificate["spec"]["dnsNames"][0] == "odoo-operator-webhook.odoo-operator.svc"
    assert certificate["spec"]["issuerRef"]["name"] == "odoo-operator-ca"


def test_without_cert_manager_the_ca_bundle_and_secret_come_from_values(render: Render) -> None:
    manifests = render(CERT_MANAGER_FREE)
    assert not [m for m in manifests if m["kind"] in ("Certificate", "Issuer")]
    configuration = find(manifests, "ValidatingWebhookConfiguration")
    assert "annotations" not in configuration["metadata"]
    for hook in configuration["webhooks"]:
        assert hook["clientConfig"]["caBundle"] == CERT_MANAGER_FREE["webhook"]["caBundle"]
    volumes = find(manifests, "Deployment")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "webhook-cert", "secret": {"secretName": "webhook-tls"}} in volumes


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"webhook": {"certManager": {"enabled": False}, "certSecretName": "s"}},
         "webhook.caBundle is required when webhook.certManager.enabled is false"),
        ({"postgresClusters": {"a": {"host": "h", "adminUser": "u", "adminPassword": "p"}}},
         "postgresClusters: exactly one cluster must have default: true (found 0)"),
        ({"defaults": {"storageSize": "lots"}}, "at '/defaults/storageSize'"),
        ({"operator": {"replica": 2}}, "additional properties 'replica' not allowed"),
        ({"operator": {"leaseDuration": 10}},
         "operator.leaseDuration > operator.renewDeadline > operator.retryPeriod is needed, "
         "got 10 / 10 / 2"),
        ({"operator": {"retryPeriod": 0.5}}, "at '/operator/retryPeriod'"),
    ],
)  # fmt: skip
def test_bad_values_fail_with_a_message_naming_them(
    tools: ChartTools, tmp_path: Any, values: dict[str, Any], message: str
) -> None:
    values_file = tmp_path / "values.json"
    values_file.write_text(json.dumps(values))
    result = helm(tools, "template", "x", str(CHART), "-f", str(values_file), check=False)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


def test_the_clusters_secret_holds_the_clusters_from_values(render: Render) -> None:
    manifests = render(EVERY_VALUE)
    secret = find(manifests, "Secret", "pg-clusters")
    clusters = yaml.safe_load(base64.b64decode(secret["data"]["clusters.yaml"]))
    assert clusters == EVERY_VALUE["postgresClusters"]
    assert not [m for m in render() if m["kind"] == "Secret"]  # none unless asked


def test_leader_election_off_drops_the_lease_role(
    render: Render, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifests = render({"operator": {"leaderElection": False}, "webhook": {"enabled": False}})
    assert not [m for m in manifests if m["kind"] in ("Role", "RoleBinding")]
    assert not [m for m in manifests if m["kind"] == "ValidatingWebhookConfiguration"]
    settings = _settings(manifests, monkeypatch)
    assert (settings.leader_elect, settings.webhook_port) == (False, 0)
