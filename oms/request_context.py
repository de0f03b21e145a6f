"""The API request id travels with the command it caused: a Temporal header on the update,
signal or start, copied by the workflow onto the activities it schedules next, and set for
their log lines, so one order's story can be followed from the API to the worker.

Headers are not part of what a replay compares, so this changes no workflow command. Installed
on every client by oms.temporal.connect; a worker built on such a client uses it too.
"""

from __future__ import annotations

from typing import Any

import temporalio.activity
import temporalio.client
import temporalio.converter
import temporalio.worker
from temporalio import workflow
from temporalio.api.common.v1 import Payload

from oms import logs
from workflows.shared import order_id_for

HEADER = "oms-request-id"
_CONVERTER = temporalio.converter.PayloadConverter.default


def _with_request_id(headers: dict[str, Payload], rid: str | None) -> dict[str, Payload]:
    if not rid:
        return headers
    return {**headers, HEADER: _CONVERTER.to_payloads([rid])[0]}


def _request_id(headers: dict[str, Payload]) -> str | None:
    payload = headers.get(HEADER)
    if payload is None:
        return None
    try:
        value = _CONVERTER.from_payloads([payload])[0]
    except Exception:  # noqa: BLE001 - a header someone else wrote; not ours to fail on
        return None
    return value if isinstance(value, str) else None


class RequestIds(temporalio.client.Interceptor, temporalio.worker.Interceptor):
    def intercept_client(self, next: temporalio.client.OutboundInterceptor
                         ) -> temporalio.client.OutboundInterceptor:
        return _ClientOutbound(next)

    def intercept_activity(self, next: temporalio.worker.ActivityInboundInterceptor
                           ) -> temporalio.worker.ActivityInboundInterceptor:
        return _ActivityInbound(next)

    def workflow_interceptor_class(self, input: temporalio.worker.WorkflowInterceptorClassInput
                                   ) -> type[temporalio.worker.WorkflowInboundInterceptor]:
        return _WorkflowInbound


class _ClientOutbound(temporalio.client.OutboundInterceptor):
    async def start_workflow(self, input: Any) -> Any:
        input.headers = _with_request_id(input.headers, logs.request_id.get())
        return await super().start_workflow(input)

    async def signal_workflow(self, input: Any) -> None:
        input.headers = _with_request_id(input.headers, logs.request_id.get())
        return await super().signal_workflow(input)

    async def start_workflow_update(self, input: Any) -> Any:
        input.headers = _with_request_id(input.headers, logs.request_id.get())
        return await super().start_workflow_update(input)

    async def start_update_with_start_workflow(self, input: Any) -> Any:
        rid = logs.request_id.get()
        input.start_workflow_input.headers = _with_request_id(
            input.start_workflow_input.headers, rid)
        input.update_workflow_input.headers = _with_request_id(
            input.update_workflow_input.headers, rid)
        return await super().start_update_with_start_workflow(input)


class _WorkflowInbound(temporalio.worker.WorkflowInboundInterceptor):
    """Remembers the request id of the last command; the activities scheduled after it carry
    it (the order's effects run right after the command that caused them)."""

    def init(self, outbound: temporalio.worker.WorkflowOutboundInterceptor) -> None:
        self._outbound = _WorkflowOutbound(outbound)
        super().init(self._outbound)

    def _note(self, headers: dict[str, Payload], what: str) -> None:
        rid = _request_id(headers)
        if rid:
            self._outbound.request_id = rid
            # Not a command: workflow.logger writes nothing while a history replays.
            workflow.logger.info("%s from request %s", what, rid,
                                 extra={"request_id": rid,
                                        "order_id": order_id_for(workflow.info().workflow_id)})

    async def execute_workflow(self, input: Any) -> Any:
        self._note(input.headers, "order started")
        return await super().execute_workflow(input)

    async def handle_signal(self, input: Any) -> None:
        self._note(input.headers, f"signal {input.signal}")
        return await super().handle_signal(input)

    async def handle_update_handler(self, input: Any) -> Any:
        self._note(input.headers, f"update {input.update}")
        return await super().handle_update_handler(input)


class _WorkflowOutbound(temporalio.worker.WorkflowOutboundInterceptor):
    request_id: str | None = None

    def start_activity(self, input: Any) -> Any:
        input.headers = _with_request_id(input.headers, self.request_id)
        return super().start_activity(input)

    def start_local_activity(self, input: Any) -> Any:
        input.headers = _with_request_id(input.headers, self.request_id)
        return super().start_local_activity(input)


class _ActivityInbound(temporalio.worker.ActivityInboundInterceptor):
    async def execute_activity(self, input: Any) -> Any:
        info = temporalio.activity.info()
        rid_token = logs.request_id.set(_request_id(input.headers))
        order_token = logs.order_id.set(order_id_for(info.workflow_id) if info.workflow_id
                                        else None)
        try:
            return await super().execute_activity(input)
        finally:
            logs.request_id.reset(rid_token)
            logs.order_id.reset(order_token)
