"""The chart's operator as a local process: its RBAC objects, permissions and command line.

- `Permission`: one verb on one resource (or subresource) of one API group, in a ClusterRole
  or Role; `permissions(role)` lists every one a rendered role grants, `without(role, p)`
  is the role with exactly that one removed (a rule naming several resources or verbs is
  split, the rest kept);
- `operator_command(deployment, ...)`: the argv and env of the rendered Deployment's
  container, as a local process. Only what cannot be the same outside a pod is replaced:
  the three listening ports (a pod has its own network namespace, here every run shares
  the machine's), the webhook certificate directory (in the pod, the Secret cert-manager
  fills is mounted there) and the API credentials (in the pod, the ServiceAccount token is
  mounted and found in-cluster; here the same token is in a kubeconfig given by
  `KUBECONFIG`). Env from the downward API is resolved as the kubelet does; any other
  `valueFrom`, or an arg this module does not know how to carry over, fails loudly.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENTRYPOINT = [sys.executable, "-m", "odoo_operator"]  # the image's `odoo-operator`
REPLACED_FLAGS = (
    "--metrics-bind-address",
    "--health-probe-bind-address",
    "--webhook-port",
    "--webhook-cert-dir",
)


@dataclass(frozen=True, order=True)
class Permission:
    role: str  # ClusterRole or Role
    api_group: str
    resource: str  # may be "<plural>/<subresource>"
    verb: str

    def __str__(self) -> str:
        group = f".{self.api_group}" if self.api_group else ""
        return f"{self.role}:{self.verb}:{self.resource}{group}"


def permissions(role: dict[str, Any]) -> list[Permission]:
    found = [
        Permission(role["kind"], group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    ]
    return sorted(set(found))


def without(role: dict[str, Any], removed: Permission) -> dict[str, Any]:
    """`role` granting every permission it grants but `removed`."""
    rules: list[dict[str, Any]] = []
    for permission in permissions(role):
        if permission == removed:
            continue
        rules.append(
            {
                "apiGroups": [permission.api_group],
                "resources": [permission.resource],
                "verbs": [permission.verb],
            }
        )
    return {**role, "rules": rules}


def _resolve_field(path: str, pod_namespace: str) -> str:
    if path == "metadata.namespace":
        return pod_namespace
    raise AssertionError(f"env fieldRef {path}: resolve it here as the kubelet would")


def container_env(container: dict[str, Any], pod_namespace: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for variable in container.get("env") or ():
        if "value" in variable:
            env[variable["name"]] = variable["value"]
            continue
        field_ref = (variable.get("valueFrom") or {}).get("fieldRef")
        if field_ref is None:
            raise AssertionError(f"env {variable['name']}: only fieldRef is resolved here")
        env[variable["name"]] = _resolve_field(field_ref["fieldPath"], pod_namespace)
    return env


def operator_command(
    deployment: dict[str, Any],
    *,
    kubeconfig: Path,
    ports: tuple[int, int, int],
    cert_dir: Path,
    environ: dict[str, str],
) -> tuple[list[str], dict[str, str]]:
    """argv and env of the Deployment's container; `ports`: metrics, health, webhook."""
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    metrics, health, webhook = ports
    replacements = {
        "--metrics-bind-address": f"127.0.0.1:{metrics}",
        "--health-probe-bind-address": f"127.0.0.1:{health}",
        "--webhook-port": str(webhook),
        "--webhook-cert-dir": str(cert_dir),
    }
    assert "command" not in container, "the chart sets a command: run it, not the entrypoint"
    args: list[str] = []
    for arg in container["args"]:
        flag = arg.split("=", 1)[0]
        assert flag == "run" or "=" in arg or flag.startswith("--"), arg
        args.append(f"{flag}={replacements[flag]}" if flag in replacements else arg)
    missing = [flag for flag in REPLACED_FLAGS if not any(a.startswith(flag) for a in args)]
    assert not missing, f"the Deployment no longer sets {missing}: update this module"
    env = {
        **container_env(container, deployment["metadata"]["namespace"]),
        "KUBECONFIG": str(kubeconfig),
        "PATH": environ["PATH"],
        "HOME": str(cert_dir.parent),
    }
    return [*ENTRYPOINT, *args], env
