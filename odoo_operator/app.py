"""The operator process behind `odoo-operator run`, given its checked settings.

For now `serve` does the one thing that needs no controller runtime: it loads the client
configuration (`--kubeconfig`/KUBECONFIG, else in-cluster, else ~/.kube/config) and checks
that the API server answers `/version`. It returns 0 when it does, 1 (with one clear log
line) when it does not. The manager (controllers, webhook, metrics, leader election)
starts here once `odoo_operator.runtime` exists.
"""

from __future__ import annotations

import os

import aiohttp
import structlog
from kubernetes_asyncio.client import ApiClient, Configuration, VersionApi
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config import ConfigException, load_incluster_config, new_client_from_config

from odoo_operator.config import OperatorSettings

REQUEST_TIMEOUT = 15

log = structlog.get_logger("odoo_operator.app")


async def api_client(settings: OperatorSettings) -> ApiClient:
    """A client for `--kubeconfig` (or KUBECONFIG), else in-cluster, else ~/.kube/config."""
    if settings.kubeconfig:
        return await new_client_from_config(config_file=settings.kubeconfig, persist_config=False)
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        configuration = Configuration()
        load_incluster_config(client_configuration=configuration)
        return ApiClient(configuration=configuration)
    return await new_client_from_config(persist_config=False)


async def serve(settings: OperatorSettings) -> int:
    """The operator process; returns its exit code (for now: 0 once the API server answered)."""
    log.info("starting", **settings.as_dict())
    try:
        async with await api_client(settings) as client:
            version = await VersionApi(client).get_code(_request_timeout=REQUEST_TIMEOUT)
    except (ConfigException, ApiException, aiohttp.ClientError, OSError, TimeoutError) as error:
        log.error("cannot reach the Kubernetes API server", error=str(error) or repr(error))
        return 1
    log.info("the Kubernetes API server answered", server_version=version.git_version)
    return 0
