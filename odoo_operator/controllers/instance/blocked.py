"""Why an instance cannot be acted on now: the cause of phase Error (SPEC §3)."""

from __future__ import annotations


class Blocked(Exception):
    """A cause the user (or an administrator) must fix; retried with backoff meanwhile.

    `reason` is the Warning event's reason (one CamelCase word), `str()` the message for
    `status.message` and the event: it names the cause and never holds a secret value.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
