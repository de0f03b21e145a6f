"""The converter's process-wide TypeAdapter cache, and the SDK API it builds on.

`workflows.converter` overrides `from_payload` of the SDK's pydantic JSON converter and turns
its per-instance cache off through the constructor. These tests fail when the installed
temporalio changes either, or when the override stops being the one that decodes.
"""

import inspect
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter, pydantic_data_converter

from domain.commands import PaymentInfo, ShippingAddress
from domain.order import PaymentMethod
from workflows.converter import (
    OmsPayloadConverter,
    SharedAdaptersJSONConverter,
    adapter_for,
    data_converter,
)


@dataclass(frozen=True)
class _Probe:  # a type no other test decodes, so its first decode is a cache miss
    amount: Decimal
    at: datetime
    address: ShippingAddress


def test_the_sdk_method_overridden_keeps_its_signature():
    sdk = inspect.signature(PydanticJSONPlainPayloadConverter.from_payload)
    ours = inspect.signature(SharedAdaptersJSONConverter.from_payload)
    assert list(sdk.parameters) == list(ours.parameters) == ["self", "payload", "type_hint"]
    assert sdk.parameters["type_hint"].default is None


def test_the_sdk_constructor_still_takes_the_cache_size():
    parameter = inspect.signature(PydanticJSONPlainPayloadConverter.__init__).parameters[
        "max_cached_type_adapters"]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY


def test_json_goes_through_the_shared_cache_converter():
    converter = OmsPayloadConverter()
    assert isinstance(converter.converters[b"json/plain"], SharedAdaptersJSONConverter)


def test_a_round_trip_is_exact_and_as_the_sdk_decodes_it():
    value = _Probe(amount=Decimal("199.990001"), at=datetime(2026, 5, 1, 12, 30, tzinfo=UTC),
                   address=ShippingAddress("A", "1 St", "Town", "12345", "US"))
    payload = data_converter.payload_converter.to_payloads([value])
    ours = data_converter.payload_converter.from_payloads(payload, [_Probe])
    sdk = pydantic_data_converter.payload_converter.from_payloads(payload, [_Probe])
    assert ours == sdk == [value]


def test_new_converters_reuse_the_adapters_of_the_process():
    """What the override is for: a worker makes a converter per workflow it loads."""
    payload = OmsPayloadConverter().to_payloads(
        [PaymentInfo(method=PaymentMethod.FIAT, reference="pi_1", gas_fee=Decimal("0.01"))])
    OmsPayloadConverter().from_payloads(payload, [PaymentInfo])
    before = adapter_for.cache_info()
    decoded = OmsPayloadConverter().from_payloads(payload, [PaymentInfo])
    after = adapter_for.cache_info()
    assert decoded[0].gas_fee == Decimal("0.01")
    assert (after.hits, after.misses) == (before.hits + 1, before.misses)


def test_unhashable_hints_are_decoded_without_the_cache():
    hint = Annotated[int, {"unhashable": "metadata"}]
    payload = OmsPayloadConverter().to_payloads([3])
    before = adapter_for.cache_info()
    assert OmsPayloadConverter().from_payloads(payload, [hint]) == [3]
    assert adapter_for.cache_info() == before
