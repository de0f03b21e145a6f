"""One way to connect to Temporal, shared by the API, the worker, the CLI and the tests."""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import RPCError, RPCStatusCode

from oms.codec import PayloadKeys, encrypted_converter
from oms.request_context import RequestIds
from oms.settings import DEV_PAYLOAD_KEYS
from workflows.shared import SEARCH_ATTRIBUTES

_INDEXED = {
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "Double": IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
    "Datetime": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
}
# What a client made without settings encrypts with: the settings' default, so the tests' and
# benchmarks' own clients and workers read what an API on default settings writes.
DEFAULT_PAYLOAD_KEYS = PayloadKeys.parse(DEV_PAYLOAD_KEYS)


async def connect(address: str, namespace: str = "default", *, lazy: bool = False,
                  metrics_port: int = 0, metrics_host: str = "127.0.0.1",
                  payload_keys: PayloadKeys | None = DEFAULT_PAYLOAD_KEYS) -> Client:
    """A client with the pydantic converter, which carries Decimal, date and datetime exactly
    (the default one does not), encrypting payloads with `payload_keys` (None: plain); with
    `metrics_port`, the SDK serves its metrics there. A worker built on the client encodes and
    decodes with the same converter. Its commands carry the current request id, and a worker
    built on it reads it back."""
    runtime = None
    if metrics_port:
        runtime = Runtime(telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=f"{metrics_host}:{metrics_port}")))
    return await Client.connect(
        address, namespace=namespace, data_converter=encrypted_converter(payload_keys),
        lazy=lazy, runtime=runtime, interceptors=[RequestIds()],
    )


async def ensure_search_attributes(client: Client) -> list[str]:
    """Register the order search attributes the namespace lacks; returns the ones added.

    The dev server gets them from its command line; a production cluster gets them here, when
    the worker starts, because an unregistered attribute fails every order's workflow task.
    """
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        known = set(existing.custom_attributes) | set(existing.system_attributes)
    except RPCError as err:
        if err.status is not RPCStatusCode.UNIMPLEMENTED:
            raise
        known = set()  # the time-skipping test server can add attributes but not list them
    missing = {name: _INDEXED[kind] for name, kind in SEARCH_ATTRIBUTES.items()
               if name not in known}
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )
    return sorted(missing)
