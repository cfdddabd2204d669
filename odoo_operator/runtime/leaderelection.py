"""Leader election on a coordination.k8s.io/v1 Lease, with client-go's rules.

Guarantees:
- `acquire()` returns only once this process holds the lease. A lease held by someone
  else is taken only after its holder has not renewed it for `lease_duration`, measured
  on our own clock from when we last saw the record change (so clock skew between
  replicas does not matter), and is tried again right at that moment (not just every
  `retry_period`); a released lease (no holder) is taken at once;
- while leading, the lease is renewed every `retry_period`; if no renewal succeeds for
  `renew_deadline`, leadership is lost: `lost` is set and the holder must stop acting;
- writes use the lease's resourceVersion, so two candidates can never both succeed;
- `release()` (clean shutdown) clears the holder, so a successor need not wait;
- `acquireTime`/`renewTime` are MicroTime with six fractional digits;
- `leader_election_master_status{name}` is 1 exactly while we hold the lease.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from odoo_operator.runtime.client import ApiError, KubeClient
from odoo_operator.runtime.logs import describe_error
from odoo_operator.runtime.metrics import RuntimeMetrics
from odoo_operator.runtime.objects import micro_time
from odoo_operator.runtime.resources import LEASES

_log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class LeaseConfig:
    name: str
    namespace: str
    identity: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not self.lease_duration > self.renew_deadline > self.retry_period > 0:
            raise ValueError(
                "leader election: need lease_duration > renew_deadline > retry_period > 0, "
                f"got {self.lease_duration} / {self.renew_deadline} / {self.retry_period}"
            )


class LeaderElector:
    def __init__(
        self,
        client: KubeClient,
        config: LeaseConfig,
        *,
        metrics: RuntimeMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.config = config
        self._metrics = metrics
        self._clock = clock
        self._observed_spec: dict[str, Any] | None = None
        self._observed_at = 0.0
        self._observed_duration = config.lease_duration
        self.is_leader = False
        self.lost = asyncio.Event()
        self._log = _log.bind(lease=f"{config.namespace}/{config.name}", identity=config.identity)
        self._set_status(False)

    def _set_status(self, leading: bool) -> None:
        self.is_leader = leading
        if self._metrics is not None:
            self._metrics.leader_status.labels(self.config.name).set(1 if leading else 0)

    def _sleep_period(self) -> float:
        return self.config.retry_period * (1 + 0.1 * random.random())  # noqa: S311

    async def acquire(self) -> None:
        """Wait until we hold the lease."""
        self._log.info("waiting to acquire the leader lease")
        while True:
            try:
                if await self._try_acquire_or_renew():
                    self._set_status(True)
                    self._log.info("became leader")
                    return
            except Exception as error:  # API errors, refused connections, timeouts
                self._log.warning("could not read or write the lease", error=describe_error(error))
            # Poll at the retry period, but try again right when the holder's lease expires.
            expires_in = self._observed_at + self._observed_duration - self._clock()
            await asyncio.sleep(min(self._sleep_period(), max(expires_in + 0.05, 0.05)))

    async def keep_renewing(self) -> None:
        """Renew until cancelled or until no renewal succeeds for `renew_deadline`."""
        last_renewed = self._clock()
        while True:
            await asyncio.sleep(self.config.retry_period)
            remaining = self.config.renew_deadline - (self._clock() - last_renewed)
            try:
                async with asyncio.timeout(max(remaining, 0.1)):
                    renewed = await self._try_acquire_or_renew()
            except Exception as error:
                renewed = False
                self._log.warning("lease renewal failed", error=describe_error(error))
            if renewed:
                last_renewed = self._clock()
            elif self._clock() - last_renewed >= self.config.renew_deadline:
                self._set_status(False)
                self._log.error("leader lease lost: not renewed within the renew deadline")
                self.lost.set()
                return

    async def release(self) -> None:
        """Give the lease up (clean shutdown) so another replica takes over at once."""
        if not self.is_leader:
            return
        self._set_status(False)
        config = self.config
        for _ in range(3):  # a renewal cut short may have moved the resourceVersion: re-read
            try:
                lease = dict(await self.client.get(LEASES, config.name, config.namespace))
                if (lease.get("spec") or {}).get("holderIdentity") != config.identity:
                    return  # not ours any more: nothing to release
                now = micro_time()
                lease["spec"] = {
                    **lease["spec"],
                    "holderIdentity": "",
                    "leaseDurationSeconds": 1,
                    "acquireTime": now,
                    "renewTime": now,
                }
                await self.client.replace(LEASES, lease)
            except ApiError as error:
                if error.conflict:
                    continue
                self._log.warning("could not release the lease", error=str(error))
                return
            except Exception as error:
                self._log.warning("could not release the lease", error=describe_error(error))
                return
            self._log.info("leader lease released")
            return
        self._log.warning("could not release the lease: it kept changing")

    async def _try_acquire_or_renew(self) -> bool:
        config = self.config
        try:
            lease = await self.client.get(LEASES, config.name, config.namespace)
        except ApiError as error:
            if not error.not_found:
                raise
            now_text = micro_time()
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": config.name, "namespace": config.namespace},
                "spec": self._spec(now_text, now_text, transitions=0),
            }
            try:
                created = await self.client.create(LEASES, body)
            except ApiError as create_error:
                if create_error.conflict:  # someone else created it first
                    return False
                raise
            self._observe(created["spec"])
            return True
        spec = dict(lease.get("spec") or {})
        if spec != self._observed_spec:
            self._observe(spec)
        holder = spec.get("holderIdentity") or ""
        duration = float(spec.get("leaseDurationSeconds") or config.lease_duration)
        self._observed_duration = duration
        held_by_other = holder not in ("", config.identity)
        if held_by_other and self._observed_at + duration > self._clock():
            return False
        # Stamped after the read, which may have taken long on a loaded server: a taken-over
        # lease's acquireTime is then at least `duration` after the last renewal we saw.
        now_text = micro_time()
        transitions = int(spec.get("leaseTransitions") or 0)
        if holder == config.identity:
            acquire_time = spec.get("acquireTime") or now_text
        else:
            acquire_time = now_text
            transitions += 1
        updated = {**lease, "spec": self._spec(acquire_time, now_text, transitions)}
        try:
            renewed = await self.client.replace(LEASES, updated)
        except ApiError as error:
            if error.conflict:
                return False
            raise
        self._observe(renewed["spec"])
        return True

    def _spec(self, acquire_time: str, renew_time: str, transitions: int) -> dict[str, Any]:
        return {
            "holderIdentity": self.config.identity,
            "leaseDurationSeconds": int(self.config.lease_duration),
            "acquireTime": acquire_time,
            "renewTime": renew_time,
            "leaseTransitions": transitions,
        }

    def _observe(self, spec: dict[str, Any]) -> None:
        self._observed_spec = dict(spec)
        self._observed_at = self._clock()
