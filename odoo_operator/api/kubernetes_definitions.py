"""The Kubernetes OpenAPI definitions we embed, vendored from a well-kept source.

Source: the `kubernetes-validate` package, which ships Kubernetes' own OpenAPI definitions
(with their descriptions, required fields and list/map markers) per Kubernetes version. We
take Kubernetes v1.36, the API version of our `kubernetes_asyncio` 36 client, so what users
may write in a spec is what the operator's client can send. Only the closure of `ROOTS` is
kept, verbatim, in `kubernetes_definitions.json`: the running operator needs no extra package.

Guarantees:
- `vendored()` returns exactly what `extract(...)` took from the source; a test compares the
  committed file with a fresh extraction, and `python -m odoo_operator.docgen` refreshes it;
- `source()` is the only code that needs `kubernetes-validate` (a test dependency).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

KUBERNETES_VERSION = "v1.36.0"
SOURCE_PACKAGE = "kubernetes-validate"
FILE_NAME = "kubernetes_definitions.json"

CORE = "io.k8s.api.core.v1."
ROOTS = (
    f"{CORE}ResourceRequirements",
    f"{CORE}Affinity",
    f"{CORE}Toleration",
    f"{CORE}EnvVar",
    f"{CORE}EnvFromSource",
)


def extract(all_definitions: dict[str, Any]) -> dict[str, Any]:
    """The definitions reachable from `ROOTS`, verbatim, sorted by name."""
    kept: dict[str, Any] = {}
    pending = list(ROOTS)
    while pending:
        name = pending.pop()
        if name not in kept:
            kept[name] = all_definitions[name]
            pending += _references(kept[name])
    return dict(sorted(kept.items()))


def _references(schema: Any) -> list[str]:
    if isinstance(schema, dict):
        found = [schema["$ref"].rsplit("/", 1)[-1]] if "$ref" in schema else []
        for value in schema.values():
            found += _references(value)
        return found
    if isinstance(schema, list):
        return [ref for item in schema for ref in _references(item)]
    return []


def source() -> dict[str, Any]:
    """Our closure, read from the installed `kubernetes-validate`."""
    path = (
        resources.files("kubernetes_validate")
        / "kubernetes-json-schema"
        / f"{KUBERNETES_VERSION}-local"
        / "_definitions.json"
    )
    return extract(json.loads(path.read_text())["$defs"])


def render(definitions: dict[str, Any]) -> str:
    """The text of the vendored file."""
    document = {
        "source": f"{SOURCE_PACKAGE}, Kubernetes {KUBERNETES_VERSION}",
        "definitions": definitions,
    }
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


@cache
def vendored() -> dict[str, Any]:
    text = (resources.files("odoo_operator.api") / FILE_NAME).read_text()
    definitions: dict[str, Any] = json.loads(text)["definitions"]
    return definitions
