"""Client set-up: where the configuration comes from, timeouts, request metrics."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import aiohttp
import pytest
import yaml
from kubernetes_asyncio.client import CoreV1Api, V1ConfigMap, V1ObjectMeta

from odoo_operator.runtime.client import (
    MAX_CONNECTIONS,
    ApiError,
    ClientConfigError,
    _proxy_from_environment,
    connect,
)
from odoo_operator.runtime.metrics import RuntimeMetrics
from odoo_operator.runtime.objects import freeze
from odoo_operator.runtime.resources import CONFIG_MAPS, NAMESPACES
from odoo_operator.sandbox.controlplane import ControlPlane
from tests.runtime.helpers import eventually
from tests.runtime.tcpproxy import TcpProxy


def count(metrics: RuntimeMetrics, code: str, method: str) -> float:
    value = metrics.registry.get_sample_value(
        "rest_client_requests_total", {"code": code, "method": method}
    )
    return value or 0.0


async def test_kubeconfig_flag_then_env_then_in_cluster(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    metrics = RuntimeMetrics(process_metrics=False)
    no_env: dict[str, str] = {"HOME": str(tmp_path)}
    # 1. the --kubeconfig path, even when KUBECONFIG points elsewhere
    env = {**no_env, "KUBECONFIG": str(tmp_path / "missing")}
    client = await connect(control_plane.kubeconfig, metrics, environ=env)
    assert client.source is not None
    assert client.source.kind == "kubeconfig"
    await client.list(NAMESPACES)
    await client.close()
    # 2. KUBECONFIG
    env = {**no_env, "KUBECONFIG": str(control_plane.kubeconfig)}
    client = await connect(None, metrics, environ=env)
    assert client.source is not None
    assert client.source.detail == str(control_plane.kubeconfig)
    await client.list(NAMESPACES)
    await client.close()
    # 3. in-cluster: service account files + KUBERNETES_SERVICE_HOST/PORT
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text(control_plane.token)
    config = yaml.safe_load(control_plane.kubeconfig.read_text())
    ca = base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"])
    (account / "ca.crt").write_bytes(ca)
    env = {**no_env, "KUBERNETES_SERVICE_HOST": "127.0.0.1"}
    env["KUBERNETES_SERVICE_PORT"] = str(control_plane.port)
    client = await connect(None, metrics, environ=env, service_account_dir=account)
    assert client.source is not None
    assert client.source.kind == "in-cluster"
    await client.list(NAMESPACES)
    await client.close()
    assert count(metrics, "200", "GET") == 3


async def test_missing_configuration_is_a_clear_error(tmp_path: Path) -> None:
    metrics = RuntimeMetrics(process_metrics=False)
    with pytest.raises(ClientConfigError, match=r"^kubeconfig .*nope: no such file"):
        await connect(tmp_path / "nope", metrics, environ={})
    with pytest.raises(ClientConfigError, match="KUBECONFIG="):
        await connect(None, metrics, environ={"KUBECONFIG": str(tmp_path / "nope")})
    with pytest.raises(ClientConfigError, match="no Kubernetes configuration"):
        await connect(None, metrics, environ={"HOME": str(tmp_path)})
    account = tmp_path / "empty-account"
    account.mkdir()
    env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "1"}
    with pytest.raises(ClientConfigError, match="in-cluster"):
        await connect(None, metrics, environ=env, service_account_dir=account)


async def test_a_kubeconfig_argument_may_list_several_paths(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    """As in KUBECONFIG (and so `--kubeconfig`, whose environment variable it is)."""
    paths = f"{tmp_path / 'missing'}:{control_plane.kubeconfig}"
    client = await connect(paths, RuntimeMetrics(process_metrics=False), environ={})
    try:
        assert client.source is not None
        assert client.source.detail == paths
        await client.list(NAMESPACES)
    finally:
        await client.close()


async def test_every_request_is_counted_with_code_and_method(
    control_plane: ControlPlane, namespace: str
) -> None:
    metrics = RuntimeMetrics(process_metrics=False)
    client = await connect(control_plane.kubeconfig, metrics)
    try:
        await client.create(CONFIG_MAPS, {"metadata": {"name": "c", "namespace": namespace}})
        for _ in range(2):
            with pytest.raises(ApiError) as error:
                await client.get(CONFIG_MAPS, "absent", namespace)
        assert error.value.not_found
        assert "absent" in error.value.message
        # The typed kubernetes_asyncio APIs on the same ApiClient are counted too.
        await CoreV1Api(client.api_client).read_namespace(namespace)
        await client.delete(CONFIG_MAPS, "c", namespace)
    finally:
        await client.close()
    assert count(metrics, "201", "POST") == 1
    assert count(metrics, "404", "GET") == 2
    assert count(metrics, "200", "GET") == 1
    assert count(metrics, "200", "DELETE") == 1
    assert metrics.write_requests() == 2


async def test_frozen_bodies_and_typed_models_are_both_sent_whole(
    control_plane: ControlPlane, namespace: str
) -> None:
    """Frozen dicts and tuples go out as JSON untouched; generated models still convert."""
    client = await connect(control_plane.kubeconfig, RuntimeMetrics(process_metrics=False))
    try:
        frozen = freeze(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "frozen", "namespace": namespace, "finalizers": ["a/b"]},
                "data": {"k": "v"},
            }
        )
        created = await client.create(CONFIG_MAPS, frozen)
        assert (created["metadata"]["finalizers"], created["data"]) == (["a/b"], {"k": "v"})
        model = V1ConfigMap(metadata=V1ObjectMeta(name="model"), data={"m": "n"})
        await CoreV1Api(client.api_client).create_namespaced_config_map(namespace, model)
        assert (await client.get(CONFIG_MAPS, "model", namespace))["data"] == {"m": "n"}
    finally:
        await client.close()


async def test_a_request_that_gets_no_answer_times_out(
    runtime_plane: ControlPlane, proxy: TcpProxy, proxied_kubeconfig: Path
) -> None:
    metrics = RuntimeMetrics(process_metrics=False)
    client = await connect(proxied_kubeconfig, metrics, request_timeout=1.5)
    try:
        await client.list(NAMESPACES)  # a pooled connection through the proxy
        proxy.stall()
        request = asyncio.create_task(client.list(NAMESPACES))
        # Only the client's own timeout can end it: the proxy never answers.
        done, _ = await asyncio.wait({request}, timeout=60)
        if not done:
            request.cancel()
        assert done == {request}, "the stalled request never timed out"
        with pytest.raises((TimeoutError, aiohttp.ClientError)):
            request.result()
    finally:
        await client.close()
    assert count(metrics, "<error>", "GET") == 1


def test_proxy_read_once_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The session no longer reads the environment per request: the proxy is taken here."""
    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert _proxy_from_environment("https://10.0.0.1:6443") == (None, None)
    monkeypatch.setenv("HTTPS_PROXY", "http://user:secret@proxy.example:3128")
    proxy, auth = _proxy_from_environment("https://10.0.0.1:6443")
    assert str(proxy) == "http://proxy.example:3128"
    assert auth == aiohttp.BasicAuth("user", "secret")
    monkeypatch.setenv("NO_PROXY", "10.0.0.1")
    assert _proxy_from_environment("https://10.0.0.1:6443") == (None, None)


async def test_requests_beyond_the_connection_limit_wait_for_a_free_connection(
    runtime_plane: ControlPlane, proxy: TcpProxy, proxied_kubeconfig: Path
) -> None:
    """Watches hold their connection: MAX_CONNECTIONS of them are open, the rest wait
    (they never reach the server) and go out, in turn, as connections are freed."""
    client = await connect(proxied_kubeconfig, RuntimeMetrics(process_metrics=False))
    held: list[aiohttp.ClientResponse] = []
    extra = 5

    async def open_watch() -> None:
        query = {"watch": True, "timeoutSeconds": 600}
        # A timeout longer than the test: a waiting request must wait, not time out.
        path = NAMESPACES.path(None)
        held.append(await client.send("GET", path, query=query, request_timeout=600))

    watches = [asyncio.create_task(open_watch()) for _ in range(MAX_CONNECTIONS + extra)]
    try:
        await eventually(lambda: len(held) >= MAX_CONNECTIONS, within=240, what="watches open")
        assert len(held) == MAX_CONNECTIONS
        assert proxy.attempts == MAX_CONNECTIONS  # the others never connected
        for response in held[:extra]:
            response.close()  # frees its connection for one waiting request
        await eventually(lambda: all(w.done() for w in watches), within=240, what="all served")
        assert proxy.attempts == MAX_CONNECTIONS + extra
        assert proxy.open_connections <= MAX_CONNECTIONS
    finally:
        for watch in watches:
            watch.cancel()
        for response in held:
            response.close()
        await client.close()
