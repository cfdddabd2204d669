"""What a reconciler sees: a key in, a result out.

A reconciler is an object with `async def reconcile(self, key: ObjectKey) -> Result`.
How the controller treats what it returns or raises:

| outcome | the controller |
|---|---|
| `Result()` (done) | forgets the key's backoff; reconciles again on the next event |
| `Result(requeue_after=s)` | forgets the backoff; reconciles again after `s` seconds |
| raises `TerminalError` | logs it, forgets the backoff, does not retry |
| raises anything else | logs it, retries after the rate limiter's delay (5 ms doubling to 1000 s) |
| raises a 409 `ApiError` (its view was stale) | the same, logged at info without a traceback |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from odoo_operator.runtime.objects import ObjectKey


@dataclass(frozen=True)
class Result:
    requeue_after: float | None = None

    def __post_init__(self) -> None:
        if self.requeue_after is not None and self.requeue_after <= 0:
            raise ValueError(f"requeue_after must be > 0 seconds, got {self.requeue_after}")


DONE = Result()


class TerminalError(Exception):
    """A failure retrying cannot fix (bad input); reconciled again only on the next event."""


class Reconciler(Protocol):
    async def reconcile(self, key: ObjectKey) -> Result: ...
