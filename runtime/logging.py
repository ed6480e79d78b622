"""Structured (JSON lines) logging for every Beacon service."""

from __future__ import annotations

import logging.config
import time
from collections.abc import Callable
from typing import Any

import structlog

_SHARED_PROCESSORS: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def json_formatter() -> structlog.stdlib.ProcessorFormatter:
    """Renders standard-library records (uvicorn's, aiokafka's, faust's) and structlog's alike as JSON."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_SHARED_PROCESSORS, structlog.stdlib.ExtraAdder(allow=["repeated"])],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )


class RepeatedLinesFilter(logging.Filter):
    """Let the same line through at most once per ``window_seconds``, with how many copies were held back.

    While the broker is down, aiokafka logs the same connection error about ten times a second per
    consumer; one line every ten seconds says as much and keeps the log readable.
    """

    def __init__(self, window_seconds: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._window = window_seconds
        self._clock = clock
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}  # line -> (let through at, held back)

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        shown_at, held_back = self._seen.get(key, (float("-inf"), 0))
        if now - shown_at < self._window:
            self._seen[key] = (shown_at, held_back + 1)
            return False
        if len(self._seen) > 10_000:  # bounded: a flood of distinct lines cannot grow memory
            self._seen.clear()
        self._seen[key] = (now, 0)
        if held_back:
            record.repeated = held_back  # rendered as a field of the JSON line
        return True


def json_logging_config(level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for JSON lines on stdout; faust's worker takes it as ``logging_config``,
    so its own set-up (which replaces the root handlers) keeps the format."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": json_formatter}},
        "filters": {"repeats": {"()": RepeatedLinesFilter}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["repeats"],
                "stream": "ext://sys.stdout",
            }
        },
        "root": {"level": level.upper(), "handlers": ["stdout"]},
    }


def configure_logging(service: str, level: str = "INFO") -> structlog.stdlib.BoundLogger:
    """Route structlog and the standard library's logging to JSON lines on stdout, tagged with ``service``."""
    structlog.configure(
        processors=[*_SHARED_PROCESSORS, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    logging.config.dictConfig(json_logging_config(level))
    structlog.contextvars.bind_contextvars(service=service)
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(service)
    return logger
