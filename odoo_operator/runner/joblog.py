"""Structured log lines of the job runner, and the one line it prints when it fails.

Guarantees:
- Log lines go to stdout (JSON objects, or key=value text), so stderr carries nothing
  but the single failure line (`command`); the libraries' own `logging` output (asyncio,
  aiohttp, botocore warnings) is routed into the same lines.
- Credentials never leave the process: every rendered line, and the failure line, has
  each known secret (PGPASSWORD, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
  ODOO_MASTER_PASSWORD) replaced by `***`, raw or JSON-escaped. The code never logs them
  in the first place; this is the safety net.
- `Progress` logs bytes, elapsed seconds and throughput at most every `interval` seconds
  and once at the end.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

import structlog

SECRET_ENV_VARS = (
    "PGPASSWORD",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "ODOO_MASTER_PASSWORD",
)
REDACTED = "***"
MIN_SECRET_LENGTH = 4  # shorter values would blank out ordinary words of every line


class Redactor:
    """Replaces known secret values in text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if len(secret) >= MIN_SECRET_LENGTH:
                forms.add(secret)
                forms.add(json.dumps(secret)[1:-1])
        self._forms = sorted(forms, key=len, reverse=True)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Redactor:
        environ = os.environ if environ is None else environ
        return cls(environ.get(name, "") for name in SECRET_ENV_VARS)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, REDACTED)
        return text


def configure(redactor: Redactor, log_format: str = "json") -> None:
    """Route structlog to stdout with the redactor applied to every rendered line."""
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )

    def render(logger: Any, method: str, event: MutableMapping[str, Any]) -> str:
        return redactor(str(renderer(logger, method, event)))

    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            render,
        ],
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    root.handlers[:] = [_ToStructlog()]
    root.setLevel(logging.WARNING)


class _ToStructlog(logging.Handler):
    """Libraries' `logging` records (asyncio, aiohttp, botocore) as our log lines on stdout."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            structlog.get_logger(record.name).log(
                record.levelno, "library.log", logger=record.name, message=self.format(record)
            )
        except Exception:  # a log line must never break the job
            self.handleError(record)


def logger(**context: Any) -> Any:
    return structlog.get_logger("odoo_operator.runner").bind(**context)


def rate(byte_count: int, seconds: float) -> float:
    """MiB per second, rounded for logs."""
    return round(byte_count / (1 << 20) / seconds, 1) if seconds > 0 else 0.0


class Progress:
    """Counts bytes of one stage and logs them periodically; thread-safe enough for
    one writer (int updates) and a reader that only logs."""

    def __init__(self, log: Any, stage: str, interval: float = 10.0) -> None:
        self._log = log
        self.stage = stage
        self.interval = interval
        self.bytes = 0
        self.started = time.monotonic()
        self._last = self.started

    def add(self, count: int) -> None:
        self.bytes += count
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._log.info("progress", **self.figures())

    def figures(self) -> dict[str, Any]:
        seconds = time.monotonic() - self.started
        return {
            "stage": self.stage,
            "bytes": self.bytes,
            "seconds": round(seconds, 3),
            "mib_per_second": rate(self.bytes, seconds),
        }
