"""The data converter every client, worker and replayer of oms uses.

Pydantic's JSON converter carries Decimal, date and datetime exactly (the default one does
not). It builds a pydantic TypeAdapter per type and caches it in the converter, but a worker
makes a new converter for every workflow it loads into its cache, so every cache miss (most
events of a weeks-old order) rebuilt the adapters of every type it touched: a fifth of the
worker's CPU under a webhook burst. Here one cache serves the whole process. Its keys are the
dataclasses of `domain.commands`, which the sandbox passes through, so they are the same objects
in every workflow.
"""

from __future__ import annotations

import functools

from pydantic import TypeAdapter
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
)

_ADAPTERS = functools.lru_cache(maxsize=1024)(TypeAdapter)


class _SharedAdaptersJSONConverter(PydanticJSONPlainPayloadConverter):
    def __init__(self) -> None:
        super().__init__(max_cached_type_adapters=0)
        self._type_adapter = _ADAPTERS


class OmsPayloadConverter(CompositePayloadConverter):
    """Temporal's default converters, with JSON through pydantic and a process-wide cache."""

    def __init__(self) -> None:
        json_converter = _SharedAdaptersJSONConverter()
        super().__init__(*(json_converter if isinstance(c, JSONPlainPayloadConverter) else c
                           for c in DefaultPayloadConverter.default_encoding_payload_converters))


data_converter = DataConverter(payload_converter_class=OmsPayloadConverter)
