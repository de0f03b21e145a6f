"""The data converter every client, worker and replayer of oms uses.

Pydantic's JSON converter carries Decimal, date and datetime exactly (the default one does
not). It builds a pydantic TypeAdapter per type and caches it in the converter instance, but a
worker makes a new converter for every workflow it loads into its cache, so every cache miss
(most events of a weeks-old order) rebuilt the adapters of every type it decoded. Here decoding
goes through one cache for the whole process (BENCHMARKS.md, "Worker start-up machinery"). Its
keys are the dataclasses of `domain.commands`, which the sandbox passes through, so they are
the same objects in every workflow.

Only public SDK API is used: the constructor's `max_cached_type_adapters` and the
`from_payload` method every encoding converter has (tests/unit/test_converter.py checks both
against the installed SDK).
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import TypeAdapter
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
)

adapter_for = functools.lru_cache(maxsize=1024)(TypeAdapter)


class SharedAdaptersJSONConverter(PydanticJSONPlainPayloadConverter):
    """Pydantic's JSON converter, decoding with the process-wide `adapter_for` cache."""

    def __init__(self) -> None:
        super().__init__(max_cached_type_adapters=0)  # its own per-instance cache: unused

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        hint = Any if type_hint is None else type_hint
        try:
            hash(hint)
        except TypeError:  # an unhashable hint cannot be a cache key
            return TypeAdapter(hint).validate_json(payload.data)
        return adapter_for(hint).validate_json(payload.data)


class OmsPayloadConverter(CompositePayloadConverter):
    """Temporal's default converters, with JSON through pydantic and a process-wide cache."""

    def __init__(self) -> None:
        json_converter = SharedAdaptersJSONConverter()
        super().__init__(*(json_converter if isinstance(c, JSONPlainPayloadConverter) else c
                           for c in DefaultPayloadConverter.default_encoding_payload_converters))


data_converter = DataConverter(payload_converter_class=OmsPayloadConverter)
