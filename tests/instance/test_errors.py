"""Bad input never crashes or hot-loops: Error with a message, then recovery by itself."""

from __future__ import annotations

import base64
import json
from typing import Any

from kubernetes_asyncio.client import ApiClient, CoreV1Api, CustomObjectsApi

from odoo_operator.sandbox.postgres import PostgresServer
from tests.instance.conftest import (
    Operator,
    cluster_entry,
    running_instance,
    write_clusters,
    write_secret,
)
from tests.runtime.helpers import sample
from tests.runtime.tcpproxy import TcpProxy


def _message(obj: dict[str, Any]) -> str:
    return str(obj["status"].get("message"))


async def test_unknown_cluster_then_fixed(
    operator: Operator, postgres_server: PostgresServer
) -> None:
    await operator.create("shop", {"database": {"cluster": "elsewhere"}})
    obj = await operator.wait_for_phase("shop", "Error")
    assert "spec.database.cluster: unknown cluster 'elsewhere'" in _message(obj)
    assert "has: main" in _message(obj)
    assert (await operator.wait_for_event("ClusterUnresolved")).type == "Warning"
    registry = operator.manager.metrics.registry
    assert sample(registry, "odoo_operator_instances", phase="Error") == 1
    await write_clusters(
        operator.api,
        operator.settings.operator_namespace,
        {
            "main": cluster_entry(postgres_server),
            "elsewhere": cluster_entry(postgres_server, default=False),
        },
    )
    obj = await operator.wait_for_phase("shop", "Uninitialized")
    assert "message" not in obj["status"] or "OdooInitJob" in _message(obj)


async def test_malformed_or_missing_clusters_secret_then_fixed(
    operator: Operator, postgres_server: PostgresServer
) -> None:
    namespace = operator.settings.operator_namespace
    await write_clusters(operator.api, namespace, "main: [not, a, map")
    await operator.create("shop", {})
    obj = await operator.wait_for_phase("shop", "Error")
    assert _message(obj) == "clusters Secret postgres-clusters: key clusters.yaml is not valid YAML"
    await write_clusters(operator.api, namespace, {"main": {"host": "db", "adminUser": "a"}})
    obj = await operator.wait_for(
        "shop", lambda o: "adminPassword must be" in str(o["status"].get("message")), "message"
    )
    assert _message(obj) == (
        "clusters Secret postgres-clusters, key clusters.yaml: cluster 'main': "
        "adminPassword must be a non-empty string"
    )
    await CoreV1Api(operator.api).delete_namespaced_secret("postgres-clusters", namespace)
    await operator.wait_for(
        "shop", lambda o: "not found" in str(o["status"].get("message")), "missing Secret"
    )
    await write_clusters(operator.api, namespace, {"main": cluster_entry(postgres_server)})
    obj = await operator.wait_for_phase("shop", "Uninitialized")
    assert obj["spec"]["database"]["cluster"] == "main"  # defaulted once resolvable


async def test_unreachable_postgres_then_back(
    operator: Operator, postgres_server: PostgresServer
) -> None:
    proxy = TcpProxy(postgres_server.port)
    await proxy.start()
    try:
        await write_clusters(
            operator.api,
            operator.settings.operator_namespace,
            {"main": cluster_entry(postgres_server, port=proxy.port)},
        )
        proxy.refuse = True  # what a stopped server looks like from here: nobody answers
        await operator.create("shop", {})
        obj = await operator.wait_for_phase("shop", "Error")
        assert _message(obj).startswith(
            f"PostgreSQL cluster main (127.0.0.1:{proxy.port}): ensuring role odoo."
        )
        assert (await operator.wait_for_event("PostgresUnavailable")).type == "Warning"
        proxy.refuse = False
        await operator.wait_for_phase("shop", "Uninitialized", within=60)
    finally:
        await proxy.stop()


async def test_refusing_postgres_and_missing_pull_secret(
    operator: Operator, postgres_server: PostgresServer
) -> None:
    namespace = operator.settings.operator_namespace
    await write_clusters(
        operator.api, namespace, {"main": cluster_entry(postgres_server, adminPassword="wrong")}
    )
    await operator.create("shop", {"imagePullSecret": "registry"})
    obj = await operator.wait_for_phase("shop", "Error")
    assert "Secret registry not found in the operator namespace" in _message(obj)
    await write_secret(operator.api, namespace, "registry", {".dockerconfigjson": "{}"})
    obj = await operator.wait_for(
        "shop",
        lambda o: "password authentication failed" in str(o["status"].get("message")),
        "refused",
    )
    assert "wrong" not in _message(obj)
    await write_clusters(operator.api, namespace, {"main": cluster_entry(postgres_server)})
    await operator.wait_for_phase("shop", "Uninitialized")
    copy = await CoreV1Api(operator.api).read_namespaced_secret("registry", operator.namespace)
    assert copy.data == {".dockerconfigjson": "e30="}


async def test_config_options_cannot_inject_lines(operator: Operator) -> None:
    await operator.create("shop", {"configOptions": {"workers": "2\nadmin_passwd = x"}})
    obj = await operator.wait_for_phase("shop", "Error")
    assert _message(obj) == "spec.configOptions.workers: a value must be one line (no newline)"


async def test_no_secret_value_outside_secrets(
    operator: Operator, postgres_server: PostgresServer, api_client: ApiClient, capfd: Any
) -> None:
    await running_instance(
        operator,
        "shop",
        {
            "adminPassword": "admin-pw-123456",
            "webhook": {"url": "http://127.0.0.1:9/x", "token": "tok-987654"},
        },
    )
    await operator.create("other", {"database": {"cluster": "nowhere"}})
    await operator.wait_for_phase("other", "Error")
    core = CoreV1Api(api_client)
    user = await core.read_namespaced_secret("shop-odoo-user", operator.namespace)
    secrets_values = [
        base64.b64decode(user.data["password"]).decode(),
        "admin-pw-123456",
        postgres_server.password,
    ]
    config_maps = await core.list_namespaced_config_map(operator.namespace)
    events = await operator.events()
    instances = await CustomObjectsApi(api_client).list_namespaced_custom_object(
        "bemade.org", "v1alpha1", operator.namespace, "odooinstances"
    )
    statuses = json.dumps([item.get("status") for item in instances["items"]])
    logs = "".join(capfd.readouterr())
    places = {
        "config maps": json.dumps([c.data for c in config_maps.items]),
        "events": json.dumps([(e.note, e.reason) for e in events]),
        "status": statuses,
        "logs": logs,
    }
    assert logs  # the operator did log
    for value in secrets_values:
        for place, text in places.items():
            assert value not in text, f"a secret value in {place}"
    assert "tok-987654" not in logs
