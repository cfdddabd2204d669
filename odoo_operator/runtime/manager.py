"""The manager: owns the client, caches, controllers, servers and leader election.

Start order (each step only after the previous one succeeded):
1. the metrics, health and extra HTTP servers (so probes answer during start-up);
2. the informers and the event recorder; `/readyz` fails until every informer has
   synced (`cache_sync_timeout`, else `CacheSyncTimeout`);
3. leader election, if enabled (caches stay warm on every replica; the webhook and
   metrics serve on every replica);
4. the runnables added with `add_runnable` (in the order added), then the controllers.

`run()` then waits for SIGTERM/SIGINT (or `stop()`), and stops in reverse: controllers
(in-flight reconciles get `shutdown_grace`, 30 s; a second signal cuts that short), the
runnables (in reverse order; a failing `stop` is logged, the others still stop), the
Lease is released, informers and the event recorder stop, servers close. It returns
normally after such a clean stop and raises a `ManagerError` otherwise:
`LeaderElectionLost` (reconciles are cancelled at once: another replica is taking
over), `CacheSyncTimeout`, `RunnableFailed` (an informer or worker task died), or
`ConfigurationError` before anything starts (a controller without `for_()`, no
namespace for the Lease, more informers than half the client's connections: each watch
holds one).
`run_manager()` wraps all of this for the command line and returns an exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import signal
import socket
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, Protocol, TypeVar

import structlog
from aiohttp import web

from odoo_operator.runtime.apply import Applier
from odoo_operator.runtime.cache import Lister
from odoo_operator.runtime.client import (
    MAX_CONNECTIONS,
    SERVICE_ACCOUNT_DIR,
    ClientConfigError,
    KubeClient,
    connect,
)
from odoo_operator.runtime.controller import Controller, NoPrimaryKind
from odoo_operator.runtime.events import EventRecorder
from odoo_operator.runtime.health import Check, HealthChecks
from odoo_operator.runtime.informer import Informer, InformerOptions, describe
from odoo_operator.runtime.informers import SharedInformers
from odoo_operator.runtime.leaderelection import LeaderElector, LeaseConfig
from odoo_operator.runtime.logs import configure_logging, describe_error
from odoo_operator.runtime.metrics import RuntimeMetrics
from odoo_operator.runtime.options import ManagerOptions
from odoo_operator.runtime.reconcile import Reconciler
from odoo_operator.runtime.resources import Resource
from odoo_operator.runtime.server import HttpServer, metrics_app, parse_bind_address

_log = structlog.get_logger(__name__)
T = TypeVar("T")


# Each informer's watch holds one of the client's connections: half stay for requests.
MAX_WATCHES = MAX_CONNECTIONS // 2


class ManagerError(RuntimeError):
    """The manager stopped for a reason other than a stop request."""


class CacheSyncTimeout(ManagerError):
    pass


class LeaderElectionLost(ManagerError):
    pass


class RunnableFailed(ManagerError):
    pass


class ConfigurationError(ManagerError):
    pass


class Runnable(Protocol):
    """A part of the operator that lives as long as its controllers (a sender, a pool).

    `start()` returns once it is running (raise to stop the manager); `stop()` ends it.
    """

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Manager:
    def __init__(
        self,
        options: ManagerOptions | None = None,
        *,
        environ: dict[str, str] | None = None,
        service_account_dir: Path = SERVICE_ACCOUNT_DIR,
    ) -> None:
        self.options = options or ManagerOptions()
        self._environ = dict(os.environ if environ is None else environ)
        self._service_account_dir = service_account_dir
        self.identity = self.options.identity or f"{socket.gethostname()}_{uuid.uuid4()}"
        self.metrics = RuntimeMetrics()
        self.healthz = HealthChecks("healthz")
        self.readyz = HealthChecks("readyz")
        self.metrics_app = metrics_app(self.metrics.registry)
        self.health_app = web.Application()
        self.health_app.add_routes([*self.healthz.routes(), *self.readyz.routes()])
        self.servers: list[HttpServer] = []
        self.controllers: list[Controller] = []
        self.runnables: list[tuple[str, Runnable]] = []
        self._started_runnables: list[tuple[str, Runnable]] = []
        self.elector: LeaderElector | None = None
        self._client: KubeClient | None = None
        self._informers: SharedInformers | None = None
        self._recorder: EventRecorder | None = None
        self._applier: Applier | None = None
        self._stop_requested = asyncio.Event()
        self._force_stop = asyncio.Event()
        self._caches_synced = False
        self._controllers_started = False
        self._add_builtin_checks()
        self._add_builtin_servers()

    # -- set-up ---------------------------------------------------------------------

    @classmethod
    async def create(cls, options: ManagerOptions | None = None, **kwargs: Any) -> Manager:
        manager = cls(options, **kwargs)
        await manager.connect()
        return manager

    async def connect(self) -> None:
        """Load the Kubernetes configuration and build the client-side parts."""
        client = await connect(
            self.options.kubeconfig,
            self.metrics,
            request_timeout=self.options.request_timeout,
            environ=self._environ,
            service_account_dir=self._service_account_dir,
        )
        self._client = client
        informer_options = InformerOptions(
            watchdog_timeout=self.options.watchdog_timeout,
            resync_period=self.options.sync_period,
            stale_after=self.options.informer_stale_after,
        )
        self._informers = SharedInformers(client, informer_options, self.metrics)
        self._recorder = EventRecorder(client, instance=self.identity, metrics=self.metrics)
        self._applier = Applier(client, metrics=self.metrics)
        assert client.source is not None
        _log.info("connected", server=client.host, config=client.source.detail)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def __aenter__(self) -> Manager:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _need(self, part: T | None) -> T:
        if part is None:
            raise RuntimeError("Manager.connect() (or `async with Manager(...)`) comes first")
        return part

    @property
    def client(self) -> KubeClient:
        return self._need(self._client)

    @property
    def informers(self) -> SharedInformers:
        return self._need(self._informers)

    @property
    def recorder(self) -> EventRecorder:
        return self._need(self._recorder)

    @property
    def applier(self) -> Applier:
        return self._need(self._applier)

    def informer(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        all_namespaces: bool = False,
        label_selector: str | None = None,
    ) -> Informer:
        """The shared informer; scope: `namespace`, else all, else the watch namespace."""
        if namespace:
            scope: str | None = namespace
        elif all_namespaces:
            scope = None
        else:
            scope = self.options.watch_namespace
        return self.informers.get(resource, scope, label_selector)

    def lister(self, resource: Resource, namespace: str | None = None, **kwargs: Any) -> Lister:
        return self.informer(resource, namespace, **kwargs).lister

    def controller(
        self, name: str, reconciler: Reconciler, *, workers: int | None = None
    ) -> Controller:
        """A new controller; chain `.for_(...)`, `.owns(...)`, `.watches(...)` on it."""
        if any(existing.name == name for existing in self.controllers):
            raise ValueError(f"a controller named {name!r} already exists")
        if self._controllers_started:
            raise RuntimeError("controllers must be added before the manager runs")
        controller = Controller(
            name,
            reconciler,
            self.informers,
            workers=workers or self.options.max_concurrent_reconciles,
            namespace=self.options.watch_namespace,
            metrics=self.metrics,
        )
        self.controllers.append(controller)
        return controller

    def add_runnable(self, name: str, runnable: Runnable) -> None:
        """Start `runnable` just before the controllers, stop it just after them."""
        if self._controllers_started:
            raise RuntimeError("runnables must be added before the manager runs")
        self.runnables.append((name, runnable))

    def add_health_check(self, name: str, check: Check) -> None:
        """A liveness check (`/healthz`): raise to report failure."""
        self.healthz.add(name, check)

    def add_ready_check(self, name: str, check: Check) -> None:
        """A readiness check (`/readyz`): raise to report failure."""
        self.readyz.add(name, check)

    def add_server(
        self,
        name: str,
        bind_address: str,
        app: web.Application,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> HttpServer | None:
        """Serve `app` too (e.g. the webhook on `:9443` with TLS); `0` disables it.

        A bad `bind_address` raises `ValueError` naming the server.
        """
        try:
            address = parse_bind_address(bind_address)
        except ValueError as error:
            raise ValueError(f"{name} server {bind_address!r}: {error}") from error
        if address is None:
            return None
        server = HttpServer(name, address, app, ssl_context)
        self.servers.append(server)
        return server

    def server(self, name: str) -> HttpServer | None:
        return next((server for server in self.servers if server.name == name), None)

    def _add_builtin_servers(self) -> None:
        metrics = self.options.metrics_address
        if metrics is not None:
            self.servers.append(HttpServer("metrics", metrics, self.metrics_app))
        health = self.options.health_address
        if health is not None:
            self.servers.append(HttpServer("health", health, self.health_app))

    def _add_builtin_checks(self) -> None:
        def ping() -> None:
            return None

        def caches_synced() -> None:
            if not self._caches_synced:
                pending = [i for i in self.informers.all() if not i.has_synced]
                raise RuntimeError(f"caches not synced yet: {describe(pending) or 'starting'}")

        def informers_fresh() -> None:
            if self._informers is None:
                return
            stale = self._informers.stale()
            if stale:
                raise RuntimeError(f"no contact with the API server for: {describe(stale)}")

        def workers_alive() -> None:
            if self._controllers_started and not self._stop_requested.is_set():
                dead = [c.name for c in self.controllers if not c.workers_alive()]
                if dead:
                    raise RuntimeError(f"workers not running: {', '.join(dead)}")

        self.healthz.add("ping", ping)
        self.healthz.add("informers", informers_fresh)
        self.healthz.add("controllers", workers_alive)
        self.readyz.add("ping", ping)
        self.readyz.add("informers-synced", caches_synced)

    # -- running --------------------------------------------------------------------

    def stop(self) -> None:
        """Ask `run()` to stop gracefully (what SIGTERM does); a second call hurries it."""
        if self._stop_requested.is_set():
            self._force_stop.set()
        self._stop_requested.set()

    def _on_signal(self, signum: int) -> None:
        _log.info("signal received; stopping", signal=signal.Signals(signum).name)
        self.stop()

    def _lease_namespace(self) -> str:
        if self.options.lease_namespace:
            return self.options.lease_namespace
        pod_namespace = self._service_account_dir / "namespace"
        if pod_namespace.is_file():
            return pod_namespace.read_text().strip()
        raise ConfigurationError(
            "leader election needs a namespace for its Lease: set lease_namespace, run in a "
            "pod, or turn leader election off"
        )

    def _check_configuration(self) -> str:
        """Fail before anything starts; returns the Lease namespace ("" without election)."""
        for controller in self.controllers:
            try:
                controller.check_sources()
            except NoPrimaryKind as error:
                raise ConfigurationError(str(error)) from error
        watches = len(self.informers.all())
        if watches > MAX_WATCHES:
            raise ConfigurationError(
                f"{watches} informers would hold {watches} of the client's {MAX_CONNECTIONS} "
                f"connections; at most {MAX_WATCHES} leave enough for requests"
            )
        return self._lease_namespace() if self.options.leader_elect else ""

    async def _until_stopped(self, work: Coroutine[Any, Any, T]) -> tuple[bool, T | None]:
        """Run `work` unless a stop is requested first: (stopped, result)."""
        task = asyncio.ensure_future(work)
        stopping: asyncio.Future[Any] = asyncio.ensure_future(self._stop_requested.wait())
        try:
            await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if task.done():
            return False, task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return True, None

    async def run(self, *, handle_signals: bool = True) -> None:
        """Run until stopped; see the module docstring for the order and the outcomes."""
        loop = asyncio.get_running_loop()
        informers = self.informers
        lease_namespace = self._check_configuration()
        signals = (signal.SIGTERM, signal.SIGINT) if handle_signals else ()
        for signum in signals:
            loop.add_signal_handler(signum, self._on_signal, signum)
        renewing: asyncio.Task[None] | None = None
        hard_stop = False
        try:
            for server in self.servers:
                await server.start()
                _log.info("serving", server=server.name, url=server.url)
            informers.start()
            self.recorder.start()
            timeout = self.options.cache_sync_timeout
            stopped, unsynced = await self._until_stopped(informers.wait_for_sync(timeout))
            if stopped:
                return
            if unsynced:
                raise CacheSyncTimeout(
                    f"caches not synced within {timeout:.0f}s: {describe(unsynced)}"
                )
            self._caches_synced = True
            _log.info("caches synced", informers=describe(informers.all()))
            if self.options.leader_elect:
                self.elector = LeaderElector(
                    self.client,
                    LeaseConfig(
                        self.options.lease_name,
                        lease_namespace,
                        self.identity,
                        self.options.lease_duration,
                        self.options.renew_deadline,
                        self.options.retry_period,
                    ),
                    metrics=self.metrics,
                )
                stopped, _ = await self._until_stopped(self.elector.acquire())
                if stopped:
                    return
                renewing = asyncio.create_task(self.elector.keep_renewing(), name="lease renewal")
            for name, runnable in self.runnables:
                await runnable.start()
                self._started_runnables.append((name, runnable))
            self._controllers_started = True
            for controller in self.controllers:
                controller.start()
            reason, detail = await self._wait_for_end(renewing)
            if reason == "lease":
                hard_stop = True
                raise LeaderElectionLost(
                    f"lost the leader Lease {lease_namespace}/{self.options.lease_name}; "
                    "stopping at once so that the new leader runs alone"
                )
            if reason != "stop":
                raise RunnableFailed(f"{reason} stopped unexpectedly: {detail!r}")
        finally:
            await self._shutdown(renewing, hard_stop=hard_stop)
            for signum in signals:
                loop.remove_signal_handler(signum)

    async def _wait_for_end(
        self, renewing: asyncio.Task[None] | None
    ) -> tuple[str, BaseException | None]:
        """Wait for a stop request, the lease's loss or a dead task: (what, its error)."""
        watched: dict[asyncio.Future[Any], str] = {
            asyncio.ensure_future(self._stop_requested.wait()): "stop",
        }
        if renewing is not None:
            watched[renewing] = "lease"
        if self.informers.failure is not None:
            watched[self.informers.failure] = "informer"
        for controller in self.controllers:
            if controller.failure is not None:
                watched[controller.failure] = f"controller {controller.name}"
        done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        for future, what in watched.items():
            if future not in done and what == "stop":
                future.cancel()
        first = next(iter(done))
        reason = watched[first]
        if reason in ("stop", "lease"):
            return reason, None
        failed: BaseException = first.result()
        return reason, failed

    async def _shutdown(self, renewing: asyncio.Task[None] | None, *, hard_stop: bool) -> None:
        started = time.monotonic()
        grace = 0.0 if hard_stop else self.options.shutdown_grace
        if self.controllers and self._controllers_started:
            _log.info("stopping controllers", grace=grace)
            await self._stop_controllers(grace)
        for name, runnable in reversed(self._started_runnables):
            try:
                await runnable.stop()
            except Exception as error:
                _log.warning("runnable failed to stop", runnable=name, error=str(error))
        self._started_runnables.clear()
        if renewing is not None:
            renewing.cancel()
            await asyncio.gather(renewing, return_exceptions=True)
        if self.elector is not None and not self.elector.lost.is_set():
            await self.elector.release()
        if self._informers is not None:
            await self._informers.stop()
        if self._recorder is not None:
            await self._recorder.stop(grace=5.0)
        for server in reversed(self.servers):
            await server.stop()
        _log.info("manager stopped", seconds=round(time.monotonic() - started, 3))

    async def _stop_controllers(self, grace: float) -> None:
        stopping: asyncio.Future[Any] = asyncio.ensure_future(
            asyncio.gather(*(controller.stop(grace) for controller in self.controllers))
        )
        forced: asyncio.Future[Any] = asyncio.ensure_future(self._force_stop.wait())
        await asyncio.wait([stopping, forced], return_when=asyncio.FIRST_COMPLETED)
        if not stopping.done():
            _log.warning("second stop request: cancelling in-flight reconciles")
            for controller in self.controllers:
                controller.cancel_inflight()
        forced.cancel()
        finished = await stopping
        if not all(finished):
            _log.warning("some reconciles did not finish within the grace period")


SetUp = Callable[[Manager], Awaitable[None] | None]


async def run_manager(options: ManagerOptions, setup: SetUp) -> int:
    """The command line's entry: log set-up, connect, `setup(manager)`, run; an exit code.

    0 after a clean stop (SIGTERM/SIGINT); 1 with one clear log line otherwise (no
    configuration, a port in use, caches not synced, the lease lost, a dead task).
    """
    configure_logging(options.log_format, options.log_level)
    manager = Manager(options)
    try:
        await manager.connect()
        outcome = setup(manager)
        if inspect.isawaitable(outcome):
            await outcome
        await manager.run()
    except (ManagerError, ClientConfigError, OSError) as error:
        _log.error("operator stopped", error=str(error))
        return 1
    except Exception as error:
        _log.exception("operator failed", error=describe_error(error))
        return 1
    finally:
        await manager.close()
    return 0
