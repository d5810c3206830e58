"""Structured JSON logs, one object per line, with correlation ids.

``bind_correlation`` puts ids in a context variable (structlog.contextvars) so every line logged
while handling a request or a message carries them, including lines from libraries that use the
standard ``logging`` module. Never log secrets: settings objects are not logged, and credentials
are only ever held in ``SecretStr``.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

from calsync_platform.telemetry import current_trace_id


def _add_trace_id(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    trace_id = current_trace_id()
    if trace_id:
        event.setdefault("trace_id", trace_id)
    return event


SECRET_QUERY = re.compile(r"(?i)([?&](?:code|state|token|access_token|refresh_token)=)[^&\s]*")
"""Query parameters that carry secrets: an OAuth callback's ``code`` and ``state``."""
QUIET_LIBRARIES = ("oauthlib", "requests_oauthlib")
"""They log token requests and answers (client secret, code, refresh token) at DEBUG."""


class RedactSecretQueries(logging.Filter):
    """Access-log lines (uvicorn's ``uvicorn.access``: the request path with its query) keep the
    parameter names, not their values."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                SECRET_QUERY.sub(r"\1redacted", a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = SECRET_QUERY.sub(r"\1redacted", record.msg)
        return True


def configure_logging(service_name: str, level: str = "INFO") -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace_id,
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    handler.addFilter(RedactSecretQueries())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    structlog.contextvars.bind_contextvars(service=service_name)


def bind_correlation(**ids: object) -> None:
    structlog.contextvars.bind_contextvars(**{k: str(v) for k, v in ids.items() if v is not None})


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
