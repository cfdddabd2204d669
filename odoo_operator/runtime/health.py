"""Named health checks behind `/healthz` and `/readyz`, in the API server's format.

A check is a function (plain or async) that returns normally when healthy and raises
with a message when not. Each check runs with a time limit (5 s), so a hanging check
reports failure instead of hanging the probe. Answers:
- `GET /healthz` (or `/readyz`): 200 `ok` when all pass; 500 listing every check
  (`[+]name ok` / `[-]name failed: why`) when one fails; `?verbose` lists them always;
- `GET /healthz/<name>`: that check alone (404 for an unknown name).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

Check = Callable[[], Awaitable[None] | None]
CHECK_TIMEOUT = 5.0


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    message: str = ""


class HealthChecks:
    def __init__(self, kind: str) -> None:
        self.kind = kind  # "healthz" or "readyz", used in messages
        self._checks: dict[str, Check] = {}

    def add(self, name: str, check: Check) -> None:
        if not name or "/" in name:
            raise ValueError(f"{self.kind} check name {name!r}: must be non-empty, without '/'")
        if name in self._checks:
            raise ValueError(f"{self.kind} check {name!r} is already registered")
        self._checks[name] = check

    def names(self) -> list[str]:
        return list(self._checks)

    async def _run_one(self, name: str) -> CheckResult:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                outcome = self._checks[name]()
                if inspect.isawaitable(outcome):
                    await outcome
        except TimeoutError:
            return CheckResult(name, False, f"no answer within {CHECK_TIMEOUT:.0f}s")
        except Exception as error:
            return CheckResult(name, False, str(error) or type(error).__name__)
        return CheckResult(name, True)

    async def run(self, names: list[str] | None = None) -> list[CheckResult]:
        selected = self.names() if names is None else names
        return list(await asyncio.gather(*(self._run_one(name) for name in selected)))

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info.get("name")
        if name is not None and name not in self._checks:
            return web.Response(status=404, text=f"no {self.kind} check named {name}\n")
        results = await self.run([name] if name else None)
        healthy = all(result.ok for result in results)
        verbose = "verbose" in request.query
        if healthy and not verbose:
            return web.Response(text="ok")
        lines = [f"[+]{r.name} ok" if r.ok else f"[-]{r.name} failed: {r.message}" for r in results]
        lines.append(f"{self.kind} check passed" if healthy else f"{self.kind} check failed")
        return web.Response(status=200 if healthy else 500, text="\n".join(lines) + "\n")

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(f"/{self.kind}", self.handle),
            web.get(f"/{self.kind}/{{name}}", self.handle),
        ]
