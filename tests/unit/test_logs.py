"""What oms.logs writes: JSON lines, no tokens, an outage's activity failures digested."""

from __future__ import annotations

import io
import json
import logging
import sys

from oms import logs


def _failure(activity: str, attempt: int, error: Exception) -> logging.LogRecord:
    try:
        raise error
    except Exception:  # noqa: BLE001
        exc_info = sys.exc_info()
    record = logging.LogRecord("temporalio.activity", logging.WARNING, __file__, 1,
                               "Completing activity as failed", None, exc_info)
    record.temporal_activity = {"activity_type": activity, "attempt": attempt,
                                "workflow_id": "order-1"}
    return record


def _written(records: list[logging.LogRecord], fmt: str = "json") -> list[str]:
    stream = io.StringIO()
    handler = logs.handler(fmt, stream)
    for record in records:
        handler.handle(record)
    return stream.getvalue().splitlines()


def test_an_outage_is_a_line_per_failure_kind_and_attempt_with_one_traceback():
    down = ConnectionRefusedError("the database is down")
    records = [_failure("create_order", attempt, down) for attempt in (1, 2, 3)
               for _order in range(100)]
    records += [_failure("send_order_email", 1, down), _failure("create_order", 1,
                                                                 TimeoutError("slow"))]
    lines = [json.loads(line) for line in _written(records)]
    assert [(line["activity"]["activity_type"], line["activity"]["attempt"]) for line in lines
            ] == [("create_order", 1), ("create_order", 2), ("create_order", 3),
                  ("send_order_email", 1), ("create_order", 1)]
    assert ["error" in line for line in lines] == [True, False, False, True, True]
    assert lines[1]["message"].endswith("again: ConnectionRefusedError: the database is down")


def test_other_failures_and_lines_pass_untouched():
    plain = logging.LogRecord("oms.api", logging.INFO, __file__, 1, "api ready", None, None)
    assert len(_written([plain, plain])) == 2


def test_a_json_line_has_the_fields_and_the_ids_of_the_current_request():
    token = logs.request_id.set("req-1")
    try:
        record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                                   '%s - "%s %s HTTP/%s" %d',
                                   ("127.0.0.1:5000", "GET", "/api/ws?since=3&token=eyJ.a.b",
                                    "1.1", 101), None)
        [line] = _written([record])
    finally:
        logs.request_id.reset(token)
    entry = json.loads(line)
    assert set(entry) == {"time", "level", "logger", "message", "request_id", "order_id"}
    assert entry["request_id"] == "req-1" and entry["order_id"] is None
    assert entry["message"] == (
        '127.0.0.1:5000 - "GET /api/ws?since=3&token=[redacted] HTTP/1.1" 101')


def test_a_text_line_ends_with_the_ids():
    token = logs.order_id.set("o-1")
    try:
        record = logging.LogRecord("oms.api", logging.INFO, __file__, 1, "hello", None, None)
        [line] = _written([record], "text")
    finally:
        logs.order_id.reset(token)
    assert line.endswith("INFO oms.api: hello [order_id=o-1]")
