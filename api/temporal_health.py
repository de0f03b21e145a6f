"""How long a command may wait for its workflow: the full RPC timeout while a worker polls the
order task queue, a short one when none does, and not at all when Temporal does not answer.

Without this a command with no worker running waits out the whole RPC timeout (30 s) before
its 503. It is still sent when no worker polls: the workflow keeps it, a worker that is just
starting answers it, and the same call retried later answers once a worker is back.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from datetime import timedelta

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ApiError
from domain.errors import ErrorCode
from oms.settings import Settings

# The wait for a workflow when no worker polls its queue, and for Temporal to describe it.
SHORT_WAIT = timedelta(seconds=1.5)
# An idle worker's long poll lasts about a minute, and Temporal records a poller when its poll
# starts: a poller seen this recently may still be waiting in one.
POLLER_FRESH_FOR = timedelta(seconds=90)
# A served queue is believed for this long before Temporal is asked again; an unserved one is
# asked about on every command, so a worker that starts is used at once.
SERVED_FOR = 5.0

_served_until: weakref.WeakKeyDictionary[Client, dict[str, float]] = weakref.WeakKeyDictionary()


async def command_timeout(client: Client, settings: Settings) -> timedelta:
    """The RPC timeout for a command on `settings.task_queue`; a 503 if Temporal is down."""
    known = _served_until.setdefault(client, {})
    if known.get(settings.task_queue, 0.0) > time.monotonic():
        return settings.temporal_rpc_timeout
    polled = await _polled(client, settings.task_queue)
    if polled is False:
        return min(SHORT_WAIT, settings.temporal_rpc_timeout)
    if polled is True:
        known[settings.task_queue] = time.monotonic() + SERVED_FOR
    return settings.temporal_rpc_timeout


async def _polled(client: Client, task_queue: str) -> bool | None:
    """Whether a worker polls `task_queue`; None when Temporal answers but cannot say."""
    request = DescribeTaskQueueRequest(
        namespace=client.namespace, task_queue=TaskQueue(name=task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW)
    try:
        # The outer bound is for a lazy client's first connect, which has no timeout of its
        # own; it is longer than the call's, so a connected but slow server ends in the
        # call's RPCError instead.
        async with asyncio.timeout(SHORT_WAIT.total_seconds() + 0.5):
            response = await client.workflow_service.describe_task_queue(
                request, timeout=SHORT_WAIT)
    except TimeoutError:
        # Unreachable without refusing (a refused connection or an unavailable server is
        # answered by the API's handlers, 503 too).
        raise ApiError(ErrorCode.TEMPORARILY_UNAVAILABLE,
                       "the workflow service is unavailable") from None
    except RPCError as err:
        if err.status in _CANNOT_SAY:
            # Slow under load, or a server without the call (the time-skipping test server):
            # the command goes ahead as it would without this check.
            return None
        raise
    fresh_after = time.time() - POLLER_FRESH_FOR.total_seconds()
    return any(p.last_access_time.ToSeconds() >= fresh_after for p in response.pollers)


_CANNOT_SAY = {RPCStatusCode.UNIMPLEMENTED, RPCStatusCode.DEADLINE_EXCEEDED,
               RPCStatusCode.CANCELLED}
