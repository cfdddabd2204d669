"""Process-wide logging: structlog to stderr, as text or one JSON object per line.

Every line carries `timestamp`, `level` and `event`, plus whatever is bound in
structlog's context: inside a reconcile that is `controller`, `namespace`, `name` and
`reconcileID`. Standard-library loggers (aiohttp, kubernetes_asyncio) go through the
same renderer, at WARNING and above unless the level is debug.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog
from structlog.typing import Processor

from odoo_operator.runtime.options import LOG_LEVELS, LogFormat


def configure_logging(
    log_format: LogFormat = "text", level: str = "info", stream: TextIO | None = None
) -> None:
    if level not in LOG_LEVELS:
        raise ValueError(f"--log-level {level!r}: expected one of {', '.join(LOG_LEVELS)}")
    stream = stream or sys.stderr
    numeric = getattr(logging, level.upper())
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ]
        if log_format == "json"
        else [*shared, structlog.processors.StackInfoRenderer(), renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processor=renderer,
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric if numeric <= logging.DEBUG else logging.WARNING)
