"""Process-wide logging: structlog and the libraries' stdlib logging, one format, stderr.

Guarantees:
- one line per event, either `text` (key=value, for people) or `json` (one object per
  line with `timestamp` (UTC, ISO 8601), `level`, `logger`, `event` and the event's keys,
  for log collectors); inside a reconcile the lines also carry `controller`,
  `namespace`, `name` and `reconcileID` from structlog's context;
- stdlib records from libraries (aiohttp, kubernetes_asyncio) come out in the same
  format, at WARNING and above unless the level is debug (aiohttp logs every request);
- events below the chosen level are dropped;
- `describe_error(error)` is what a line says about an exception: its message, or its repr
  when it has none (a `TimeoutError()` says nothing by itself);
- values of keys that name a secret (`password`, `token`, `secret_key`, `access_key`, ...)
  are replaced by `[redacted]` before rendering, as a last line of defence: code must still
  never log secrets on purpose.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import Processor

LogFormat = Literal["text", "json"]
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
REDACTED = "[redacted]"
_SECRET_KEY = re.compile(r"(password|passwd|token|secret_?key|access_?key)$", re.IGNORECASE)


def describe_error(error: BaseException) -> str:
    return str(error) or repr(error)


def redact_secrets(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in event_dict:
        if _SECRET_KEY.search(key) and event_dict[key] is not None:
            event_dict[key] = REDACTED
    return event_dict


def configure_logging(
    log_format: LogFormat = "text", level: str = "info", stream: TextIO | None = None
) -> None:
    """Route structlog and stdlib logging to `stream` (stderr) in `log_format` at `level`."""
    if level not in LOG_LEVELS:
        raise ValueError(f"log level {level!r}: expected one of {', '.join(LOG_LEVELS)}")
    stream = stream or sys.stderr
    numeric = getattr(logging, level.upper())
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    renderer: Processor
    if log_format == "json":
        renderer = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.dict_tracebacks)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(numeric)
    for noisy in ("aiohttp", "kubernetes_asyncio", "asyncio"):
        logging.getLogger(noisy).setLevel(numeric if numeric <= logging.DEBUG else logging.WARNING)
