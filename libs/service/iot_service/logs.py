"""structlog set-up: JSON lines in containers, readable lines on a terminal, a `service` field."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog


def configure_logging(service: str, level: str = "info", fmt: str = "auto") -> Any:
    """Configure structlog and the standard library; return a logger bound to the service."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    numeric_level = logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Libraries (aiormq, asyncpg) log through the standard library; keep their warnings.
    logging.basicConfig(level=max(numeric_level, logging.WARNING), stream=sys.stderr)
    structlog.contextvars.bind_contextvars(service=service)
    return structlog.get_logger()
