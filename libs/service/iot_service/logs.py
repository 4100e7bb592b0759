"""structlog set-up: JSON lines in containers, readable lines on a terminal, a `service` field.

Every line carries `service`, `level`, `timestamp` and `event`, whether it comes from our code
through structlog or from a library (aiormq, asyncpg, uvicorn) through the standard library: a
log shipper can then route and filter every line by service without parsing free text.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from structlog.typing import EventDict, Processor


def _add_service(service: str) -> Processor:
    def add(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
        # A processor rather than a contextvars binding: threads and tasks whose context was
        # copied before the binding (uvicorn's, a thread pool's) would otherwise log without it.
        event_dict.setdefault("service", service)
        return event_dict

    return add


def configure_logging(service: str, level: str = "info", fmt: str = "auto") -> Any:
    """Configure structlog and the standard library; return a logger bound to the service."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    numeric_level = logging.getLevelNamesMapping()[level.upper()]
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        _add_service(service),
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Libraries log through the standard library: render their records like ours (keeping
    # their warnings and errors only, which is where their useful lines are).
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(numeric_level, logging.WARNING))
    return structlog.get_logger()
