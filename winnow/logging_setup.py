"""Process-wide logging: readable lines for people, one JSON object per line for machines.

``settings.logging.json_format`` (``WINNOW_LOGGING__JSON=true``) switches services to JSON,
which log collectors (Loki, Elasticsearch, CloudWatch) parse without regexes. Fields given
with ``extra={...}`` become top-level keys, so ``log.info("predicted", extra={"tasks": 8})``
is searchable by ``tasks``. The interactive CLI stays quiet (warnings and errors only);
JSON mode logs from ``settings.log_level``, because a service's INFO lines are its record.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from winnow.config import Settings

TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
# Libraries that log every HTTP request at INFO: kept at WARNING so services log what matters.
_CHATTY = ("httpx", "httpcore", "urllib3", "botocore", "filelock")
# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, message, extras, and exc if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(settings: Settings | None = None) -> None:
    """Install one stderr handler on the root logger, replacing any earlier one.

    Without settings (they failed to load) logging falls back to plain text warnings, so
    the command can still report the configuration error itself.
    """
    json_format = bool(settings and settings.logging.json_format)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_format else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level if json_format and settings else logging.WARNING)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.WARNING)


def uvicorn_log_config(settings: Settings) -> dict[str, Any] | None:
    """The ``log_config`` for uvicorn: None in JSON mode, so its loggers reach our handler
    instead of uvicorn's own plain-text ones."""
    if settings.logging.json_format:
        return None
    from uvicorn.config import LOGGING_CONFIG

    return LOGGING_CONFIG
