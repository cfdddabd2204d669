"""The one error type the job runner reports to its caller.

A `JobError` message is the single line printed on stderr when a job fails, so it must
say what failed and, where we know it, what to do about it, in one line and without
any credential.
"""

from __future__ import annotations


class JobError(Exception):
    """A failure the runner explains to the user; the message is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))
