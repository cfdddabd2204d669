"""A small CRD (status subresource, printer column) for testing the bed itself."""

from __future__ import annotations

import secrets
from typing import Any

GROUP = "testbed.example.com"


def widget_crd(plural: str | None = None) -> tuple[dict[str, Any], str]:
    """A namespaced CRD with a unique plural (CRDs are cluster-wide; tests share a server)."""
    plural = plural or f"widgets{secrets.token_hex(3)}"
    kind = plural.capitalize()
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "plural": plural,
                "singular": plural,
                "kind": kind,
                "listKind": f"{kind}List",
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "size": {"type": "integer"},
                                        "note": {"type": "string"},
                                        "enabled": {"type": "boolean"},
                                    },
                                },
                                "status": {
                                    "type": "object",
                                    "properties": {"phase": {"type": "string"}},
                                },
                            },
                        }
                    },
                }
            ],
        },
    }
    return crd, kind
