"""Which of Temporal's failures a client should retry (503) and which are a bug (500)."""

from __future__ import annotations

import pytest
from temporalio.service import RPCError, RPCStatusCode

from api.errors import temporal_unavailable


@pytest.mark.parametrize(("status", "message", "retry"), [
    (RPCStatusCode.UNAVAILABLE, "connection refused", True),
    (RPCStatusCode.DEADLINE_EXCEEDED, "deadline", True),
    (RPCStatusCode.RESOURCE_EXHAUSTED, "busy", True),
    # The server restarted mid-call (the chaos tests met this one as a 500).
    (RPCStatusCode.UNKNOWN, "transport error", True),
    (RPCStatusCode.UNKNOWN, "Unhandled error in the history service", False),
    (RPCStatusCode.INVALID_ARGUMENT, "bad search attribute", False),
])
def test_a_failure_is_retryable_only_when_the_server_was_away(status, message, retry):
    assert temporal_unavailable(RPCError(message, status, b"")) is retry
