"""Where the webhook listens for each kind, and the webhooks the API server must call.

One path per kind, controller-runtime's pattern: `/validate-<group with dashes>-<version>-
<lowercase kind>`, e.g. `/validate-bemade-org-v1alpha1-odooinstance`. `webhooks()` is the
`webhooks` list of the ValidatingWebhookConfiguration (CREATE and UPDATE of each kind,
`failurePolicy: Fail`, no side effects, AdmissionReview v1) for any client config; the
tests register it with a loopback URL, and a test checks the Helm chart's copy against it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from odoo_operator.api import GROUP, KINDS, VERSION

TIMEOUT_SECONDS = 10  # the API server's default; the server's own request limit is below it


def path(kind: str) -> str:
    return f"/validate-{GROUP.replace('.', '-')}-{VERSION}-{kind.lower()}"


PATHS: dict[str, str] = {path(model.KIND): model.KIND for model in KINDS}  # path -> kind


def webhook_name(plural: str) -> str:
    return f"validate-{plural}.{GROUP}"


def webhooks(
    client_config: Callable[[str], dict[str, Any]],
    *,
    namespace_selector: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One webhook per kind; `client_config(path)` says how to reach that path."""
    hooks = []
    for model in KINDS:
        hook: dict[str, Any] = {
            "name": webhook_name(model.PLURAL),
            "admissionReviewVersions": ["v1"],
            "clientConfig": client_config(path(model.KIND)),
            "rules": [
                {
                    "apiGroups": [GROUP],
                    "apiVersions": [VERSION],
                    "operations": ["CREATE", "UPDATE"],
                    "resources": [model.PLURAL],
                    "scope": "Namespaced",
                }
            ],
            "failurePolicy": "Fail",
            "sideEffects": "None",
            "timeoutSeconds": TIMEOUT_SECONDS,
        }
        if namespace_selector is not None:
            hook["namespaceSelector"] = namespace_selector
        hooks.append(hook)
    return hooks
