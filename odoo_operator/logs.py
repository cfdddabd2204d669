"""Logging set-up: structlog for our code, the same output for the libraries' stdlib logging.

Guarantees:
- one line per event on stderr, either `text` (key=value, for people) or `json` (one object
  per line with `timestamp` (UTC, ISO 8601), `level`, `logger`, `event` and the event's keys,
  for log collectors); stdlib records from libraries (aiohttp, kubernetes_asyncio) come out
  in the same format;
- events below the chosen level are dropped;
- values of keys that name a secret (`password`, `token`, `secret_key`, `access_key`, ...)
  are replaced by `[redacted]` before rendering, as a last line of defence: code must still
  never log secrets on purpose.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from structlog.typing import Processor

REDACTED = "[redacted]"
_SECRET_KEY = re.compile(r"(password|passwd|token|secret_?key|access_?key)$", re.IGNORECASE)


def redact_secrets(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in event_dict:
        if _SECRET_KEY.search(key) and event_dict[key] is not None:
            event_dict[key] = REDACTED
    return event_dict


def configure(log_format: str, level: str) -> None:
    """Route structlog and stdlib logging to stderr in `log_format` (text|json) at `level`."""
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
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
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
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
