"""The connection to the API server: configuration, timeouts, request metrics, JSON calls.

Guarantees:
- configuration comes from, in this order: the kubeconfig path(s) given, `KUBECONFIG`,
  the in-cluster service account, `~/.kube/config`; when none exists the error says so;
- every request that leaves the process has a timeout (`request_timeout` unless the
  caller passes its own) and is counted in `rest_client_requests_total{code,method}`
  when it ends, with code `<error>` when no HTTP status came back. This holds for the
  runtime's own calls and for the typed `kubernetes_asyncio` APIs built on the same
  `ApiClient`, because the counting sits in its transport;
- `KubeClient` speaks JSON dicts (no generated models) and raises `ApiError` carrying the
  server's Status (code, reason, message) for every non-2xx answer, including 201-less
  quirks of the generated client (an apply that creates answers 201 and is parsed here);
- at most `MAX_CONNECTIONS` connections to the API server are open at once (HTTP/1.1:
  one per request in flight, and each watch holds one while it runs); a request beyond
  that waits for a free connection, inside its timeout. kubernetes_asyncio's 100 cost
  14 MB more RSS at 1,000 instances and converged no faster (docs/performance.md).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from kubernetes_asyncio.client import ApiClient, Configuration
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.client.rest import RESTClientObject
from kubernetes_asyncio.config import load_kube_config
from kubernetes_asyncio.config.config_exception import ConfigException
from kubernetes_asyncio.config.incluster_config import InClusterConfigLoader
from prometheus_client import Counter
from yarl import URL

from odoo_operator.runtime.metrics import RuntimeMetrics
from odoo_operator.runtime.objects import FrozenDict, KubeObject
from odoo_operator.runtime.resources import Resource

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
DEFAULT_REQUEST_TIMEOUT = 30.0
MAX_CONNECTIONS = 48
FIELD_MANAGER = "odoo-operator"
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
JSON = "application/json"


class ClientConfigError(RuntimeError):
    """No usable Kubernetes configuration; the message says what was tried."""


class ApiError(Exception):
    """A non-2xx answer from the API server, with its Status."""

    def __init__(self, status: int, reason: str, message: str, method: str, path: str) -> None:
        super().__init__(f"{method} {path}: {status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409

    @property
    def gone(self) -> bool:
        return self.status == 410


def api_error_from_body(status: int, body: bytes, method: str, path: str) -> ApiError:
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("kind") == "Status":
        return ApiError(
            int(parsed.get("code") or status),
            str(parsed.get("reason") or ""),
            str(parsed.get("message") or ""),
            method,
            path,
        )
    return ApiError(status, "", body[:200].decode(errors="replace"), method, path)


@dataclass(frozen=True)
class ClientSource:
    """Where the configuration came from (for the startup log line)."""

    kind: str  # "kubeconfig" | "in-cluster"
    detail: str  # the kubeconfig path(s), or the service account directory


def any_kubeconfig_exists(paths: str) -> bool:
    """True when at least one of the paths, separated as in KUBECONFIG (':'), is a file."""
    return any(Path(path).expanduser().is_file() for path in paths.split(os.pathsep) if path)


def find_configuration(
    kubeconfig: str | Path | None,
    environ: Mapping[str, str],
    service_account_dir: Path,
) -> ClientSource:
    """Where the configuration comes from: the argument, KUBECONFIG, in-cluster, ~/.kube.

    Both the argument and KUBECONFIG may list several paths; as with kubectl, some of
    them may be missing, but not all.
    """
    if kubeconfig:
        paths = os.fspath(kubeconfig)
        if not any_kubeconfig_exists(paths):
            raise ClientConfigError(f"kubeconfig {paths}: no such file")
        return ClientSource("kubeconfig", paths)
    from_env = environ.get("KUBECONFIG", "")
    if from_env:
        if not any_kubeconfig_exists(from_env):
            raise ClientConfigError(f"KUBECONFIG={from_env}: no such file")
        return ClientSource("kubeconfig", from_env)
    if environ.get("KUBERNETES_SERVICE_HOST"):
        return ClientSource("in-cluster", str(service_account_dir))
    home = Path(environ.get("HOME", "~")).expanduser() / ".kube" / "config"
    if home.is_file():
        return ClientSource("kubeconfig", str(home))
    raise ClientConfigError(
        "no Kubernetes configuration: give a kubeconfig, set KUBECONFIG, run in a pod "
        f"(KUBERNETES_SERVICE_HOST is unset), or create {home}"
    )


async def load_configuration(
    kubeconfig: str | Path | None = None,
    *,
    environ: Mapping[str, str] = os.environ,
    service_account_dir: Path = SERVICE_ACCOUNT_DIR,
) -> tuple[Configuration, ClientSource]:
    """Load the configuration `find_configuration` points at."""
    source = find_configuration(kubeconfig, environ, service_account_dir)
    configuration = Configuration()
    if source.kind == "kubeconfig":
        await _load_kubeconfig(source.detail, configuration)
        return configuration, source
    loader = InClusterConfigLoader(
        token_filename=str(service_account_dir / "token"),
        cert_filename=str(service_account_dir / "ca.crt"),
        environ=dict(environ),
    )
    try:
        loader.load_and_set(configuration)
    except ConfigException as error:
        raise ClientConfigError(f"in-cluster configuration: {error}") from error
    return configuration, source


async def _load_kubeconfig(path: str, configuration: Configuration) -> None:
    try:
        await load_kube_config(
            config_file=path, client_configuration=configuration, persist_config=False
        )
    except (ConfigException, OSError, ValueError) as error:
        raise ClientConfigError(f"kubeconfig {path}: {error}") from error


def _proxy_from_environment(host: str) -> tuple[URL | None, aiohttp.BasicAuth | None]:
    """The proxy `HTTPS_PROXY`/`HTTP_PROXY` (minus `NO_PROXY`) give for `host`, if any."""
    try:
        return get_env_proxy_for_url(URL(host))
    except LookupError:
        return None, None


class JsonApiClient(ApiClient):  # type: ignore[misc]  # untyped library class
    """kubernetes_asyncio's `ApiClient` for bodies that are JSON data already.

    Its `sanitize_for_serialization` rebuilds every map and list of a body, to turn
    generated model classes into dicts. `KubeClient` sends plain (or frozen) dicts,
    which `json.dumps` takes as they are, so a map is passed on untouched: the rebuild
    was about 6 % of a busy operator's time. Anything else (query parameters, model
    classes of the typed APIs) is sanitised as before.
    """

    def sanitize_for_serialization(self, obj: Any) -> Any:
        if type(obj) is dict or isinstance(obj, FrozenDict):
            return obj
        return super().sanitize_for_serialization(obj)


class InstrumentedRESTClient(RESTClientObject):
    """kubernetes_asyncio's transport with a default timeout and request counting."""

    def __init__(
        self, configuration: Configuration, metrics: RuntimeMetrics, default_timeout: float
    ) -> None:
        super().__init__(configuration, maxsize=MAX_CONNECTIONS)
        self._metrics = metrics
        self._counters: dict[tuple[str, str], Counter] = {}
        self._default_timeout = default_timeout
        # The session kubernetes_asyncio opens trusts the environment, which costs two
        # thread hops per request (a `.netrc` lookup, then the proxy variables). The
        # proxy variables are read once here instead; `.netrc` is not used (client-go
        # ignores it too). An explicit kubeconfig proxy still wins, request by request.
        connector = self.pool_manager.connector
        self.pool_manager.detach()
        proxy, proxy_auth = _proxy_from_environment(str(configuration.host))
        self.pool_manager = aiohttp.ClientSession(
            connector=connector, proxy=proxy, proxy_auth=proxy_auth, read_bufsize=2**21
        )

    async def request(  # noqa: PLR0917 - the signature of the method it overrides
        self,
        method: str,
        url: str,
        query_params: Any = None,
        headers: Any = None,
        body: Any = None,
        post_params: Any = None,
        _preload_content: bool = True,
        _request_timeout: Any = None,
    ) -> Any:
        timeout = self._default_timeout if _request_timeout is None else _request_timeout
        method = method.upper()
        try:
            response = await super().request(
                method,
                url,
                query_params=query_params,
                headers=headers,
                body=body,
                post_params=post_params,
                _preload_content=_preload_content,
                _request_timeout=timeout,
            )
        except ApiException as error:
            self._count(error.status, method)
            raise
        except BaseException:
            self._count(None, method)
            raise
        self._count(response.status, method)
        return response

    def _count(self, status: int | None, method: str) -> None:
        code = str(status) if status else "<error>"
        counter = self._counters.get((code, method))
        if counter is None:  # a label lookup costs more than the request's own counting
            counter = self._metrics.rest_requests.labels(code=code, method=method)
            self._counters[code, method] = counter
        counter.inc()


async def connect(
    kubeconfig: str | Path | None,
    metrics: RuntimeMetrics,
    *,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    environ: Mapping[str, str] = os.environ,
    service_account_dir: Path = SERVICE_ACCOUNT_DIR,
) -> KubeClient:
    """An instrumented client on the configuration `load_configuration` finds."""
    configuration, source = await load_configuration(
        kubeconfig, environ=environ, service_account_dir=service_account_dir
    )
    return await KubeClient.from_configuration(configuration, metrics, request_timeout, source)


class KubeClient:
    """JSON requests to the API server through one instrumented `ApiClient`."""

    def __init__(
        self, api_client: ApiClient, request_timeout: float, source: ClientSource | None
    ) -> None:
        self.api_client = api_client
        self.request_timeout = request_timeout
        self.source = source

    @classmethod
    async def from_configuration(
        cls,
        configuration: Configuration,
        metrics: RuntimeMetrics,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        source: ClientSource | None = None,
    ) -> KubeClient:
        api_client = JsonApiClient(configuration)
        await api_client.rest_client.close()  # replaced by the instrumented transport
        api_client.rest_client = InstrumentedRESTClient(configuration, metrics, request_timeout)
        api_client.user_agent = "odoo-operator"
        return cls(api_client, request_timeout, source)

    @property
    def host(self) -> str:
        return str(self.api_client.configuration.host)

    async def close(self) -> None:
        await self.api_client.close()

    async def send(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | int | bool] | None = None,
        body: Any = None,
        content_type: str = JSON,
        request_timeout: float | aiohttp.ClientTimeout | None = None,
    ) -> aiohttp.ClientResponse:
        """Send one request; the caller reads and releases the response."""
        params = [
            (key, str(value).lower() if isinstance(value, bool) else str(value))
            for key, value in (query or {}).items()
        ]
        response: aiohttp.ClientResponse = await self.api_client.call_api(
            path,
            method,
            query_params=params,
            header_params={"Content-Type": content_type, "Accept": JSON},
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _request_timeout=self.request_timeout if request_timeout is None else request_timeout,
        )
        return response

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | int | bool] | None = None,
        body: Any = None,
        content_type: str = JSON,
        request_timeout: float | None = None,
    ) -> dict[str, Any]:
        """Send, read the whole answer, return it parsed; `ApiError` unless 2xx."""
        response = await self.send(
            method,
            path,
            query=query,
            body=body,
            content_type=content_type,
            request_timeout=request_timeout,
        )
        try:
            data = await response.read()
        finally:
            response.release()
        if not 200 <= response.status < 300:
            raise api_error_from_body(response.status, data, method, path)
        parsed: dict[str, Any] = json.loads(data) if data else {}
        return parsed

    async def get(self, resource: Resource, name: str, namespace: str | None = None) -> KubeObject:
        return await self.request("GET", resource.path(namespace, name))

    async def list(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> dict[str, Any]:
        query: dict[str, str | int | bool] = {}
        if label_selector:
            query["labelSelector"] = label_selector
        if limit:
            query["limit"] = limit
        if continue_token:
            query["continue"] = continue_token
        return await self.request("GET", resource.path(namespace), query=query)

    async def create(
        self, resource: Resource, body: KubeObject, namespace: str | None = None
    ) -> dict[str, Any]:
        namespace = namespace or body.get("metadata", {}).get("namespace")
        return await self.request("POST", resource.path(namespace), body=body)

    async def replace(self, resource: Resource, body: KubeObject) -> dict[str, Any]:
        metadata = body["metadata"]
        path = resource.path(metadata.get("namespace"), metadata["name"])
        return await self.request("PUT", path, body=body)

    async def merge_patch(
        self,
        resource: Resource,
        name: str,
        patch: KubeObject,
        namespace: str | None = None,
        *,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        path = resource.path(namespace, name, subresource)
        return await self.request("PATCH", path, body=patch, content_type=MERGE_PATCH)

    async def apply(
        self,
        resource: Resource,
        body: KubeObject,
        *,
        field_manager: str = FIELD_MANAGER,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        """Server-side apply, `force=true`; answers 200 (updated) and 201 (created) alike."""
        metadata = body["metadata"]
        path = resource.path(metadata.get("namespace"), metadata["name"], subresource)
        query: dict[str, str | int | bool] = {"fieldManager": field_manager, "force": True}
        return await self.request("PATCH", path, query=query, body=body, content_type=APPLY_PATCH)

    async def delete(self, resource: Resource, name: str, namespace: str | None = None) -> None:
        await self.request("DELETE", resource.path(namespace, name))
