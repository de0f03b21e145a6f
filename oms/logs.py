"""Logging for the API, the worker and the CLI, set up in one place.

`OMS_LOG_FORMAT=json` writes one JSON object per line (time, level, logger, message,
request_id, order_id where known); `text` is the readable default. Every line goes through
the same handler, whose filters add the request and order ids of the current task, write
`?token=` out of URLs (the WebSocket's access log lines carry it), and keep an outage's
activity failures to a line per failure kind and attempt.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any, TextIO

# The request being served (API) or whose command is being carried out (worker), and the
# order it concerns; set by api.request_ids and oms.request_context.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id",
                                                                       default=None)
order_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("order_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(ids)s"
# Libraries that log every request at INFO; what matters is logged by oms itself.
NOISY = ("stripe", "httpx", "alembic.runtime.plugins")


def configure(level: str, fmt: str = "text") -> None:
    """Log to stderr through one handler(fmt) on the root logger, from `level` up."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler(fmt))
    root.setLevel(level)
    quiet = max(logging.WARNING, logging.getLevelName(level))
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(quiet)
    # uvicorn's loggers write through this handler too (uvicorn runs with log_config=None).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


def handler(fmt: str = "text", stream: TextIO | None = None) -> logging.Handler:
    """A handler writing `fmt` ("text" or "json") lines to `stream` (stderr), with the ids,
    without tokens, and with activity failures digested."""
    out = logging.StreamHandler(stream or sys.stderr)
    out.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    for each in (ContextFilter(), RedactTokens(), ActivityFailureDigest()):
        out.addFilter(each)
    return out


class ContextFilter(logging.Filter):
    """Adds request_id and order_id, from the record's `extra` or the current task."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in (("request_id", request_id), ("order_id", order_id)):
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        ids = [f"{name}={getattr(record, name)}" for name in ("request_id", "order_id")
               if getattr(record, name)]
        record.ids = f" [{' '.join(ids)}]" if ids else ""
        return True


_TOKEN = re.compile(r"([?&](?:access_)?token=)[^&\s\"']+")


def redact(text: str) -> str:
    """`text` with the value of every `token=` query parameter replaced."""
    return _TOKEN.sub(r"\1[redacted]", text)


class RedactTokens(logging.Filter):
    """Tokens sent in a query string (WebSockets cannot send headers) never reach a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "token=" in record.msg:
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple) and any(
                isinstance(a, str) and "token=" in a for a in record.args):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


class ActivityFailureDigest(logging.Filter):
    """While a database or provider is down, every order's activities fail and retry, and the
    SDK logs each attempt with its traceback: hundreds a minute. This passes the first failure
    of each kind (activity, error type) at each attempt number, the traceback only the first
    time the kind is seen within `window` seconds; the rest are dropped (Temporal's history
    and the SDK's metrics keep every attempt)."""

    def __init__(self, window: float = 600.0) -> None:
        super().__init__()
        self.window = window
        self._seen: dict[tuple, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != "temporalio.activity" or not record.exc_info:
            return True
        details = getattr(record, "temporal_activity", None) or {}
        error = record.exc_info[1]
        kind = (details.get("activity_type"), type(error).__name__)
        now = time.monotonic()
        self._seen = {k: t for k, t in self._seen.items() if now - t < self.window}
        attempt = details.get("attempt")
        if (*kind, attempt) in self._seen:
            return False
        self._seen[(*kind, attempt)] = now
        if kind in self._seen:
            record.msg = f"{record.msg} again: {type(error).__name__}: {error}"
            record.exc_info = None
            record.exc_text = None
        self._seen[kind] = now
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "order_id": getattr(record, "order_id", None),
        }
        activity = getattr(record, "temporal_activity", None)
        if activity:
            entry["activity"] = {k: activity.get(k) for k in
                                 ("activity_type", "attempt", "workflow_id")}
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
