"""An Idempotency-Key means one request: the same key with another body, on another route or
from another caller is refused; the same request again answers the first result."""

from __future__ import annotations

import asyncio

import pytest

from api import order_commands
from api.auth import Role
from domain.order import PaymentMethod
from tests.api.test_webhooks import new_order
from tests.conftest import bearer
from tests.factories import order_request, seed_listing, unique
from tests.polling import eventually
from tests.workflows.test_events_and_time import _scan
from workflows.order_workflow import OrderWorkflow
from workflows.shared import workflow_id_for

pytestmark = pytest.mark.usefixtures("stack_worker")
OPS = bearer("ops1", Role.OPERATOR)


async def _put(api, order_id, headers, status, **extra):
    return await api.put(f"/api/orders/{order_id}/status", json={"status": status, **extra},
                         headers=headers)


async def _history(api, order_id):
    rows = (await api.get(f"/api/orders/{order_id}/history", headers=OPS)).json()["history"]
    return [r["newStatus"] for r in rows]


def _reused(answer) -> bool:
    return (answer.status_code, answer.json().get("code")) == (422, "IDEMPOTENCY_KEY_REUSED")


async def test_the_same_key_with_another_status_is_refused(api, session_db):
    order_id, _, seller, _ = await new_order(api, session_db)
    keyed = {**bearer(seller), "Idempotency-Key": "step-1"}
    first = await _put(api, order_id, keyed, "order_confirmed")
    assert first.status_code == 200, first.text
    other = await _put(api, order_id, keyed, "processing")
    assert _reused(other), other.text
    assert other.json()["canRetry"] is False
    assert await _history(api, order_id) == ["payment_confirmed", "order_confirmed"]


async def test_the_same_key_from_another_caller_is_refused(api, session_db):
    order_id, buyer, _, _ = await new_order(api, session_db)
    key = {"Idempotency-Key": "cancel-me"}
    first = await api.post(f"/api/orders/{order_id}/cancel", headers={**bearer(buyer), **key},
                           json={"reasonCode": "buyer_request"})
    assert first.status_code == 200, first.text
    # The operator sends the same change with the buyer's key: not the buyer's retry.
    theirs = await api.post(f"/api/orders/{order_id}/cancel", headers={**OPS, **key},
                            json={"reasonCode": "buyer_request"})
    assert _reused(theirs), theirs.text
    assert await _history(api, order_id) == ["payment_confirmed", "cancelled"]


async def test_the_same_key_on_another_route_or_with_other_details_is_refused(api, session_db):
    order_id, buyer, seller, _ = await new_order(api, session_db)
    keyed = {**bearer(buyer), "Idempotency-Key": "k1"}
    note = await api.post(f"/api/orders/{order_id}/cancel", headers=keyed,
                          json={"reasonCode": "buyer_request", "note": "too slow"})
    assert note.status_code == 200
    other_note = await api.post(f"/api/orders/{order_id}/cancel", headers=keyed,
                                json={"reasonCode": "buyer_request", "note": "found it cheaper"})
    dispute = await api.post(f"/api/orders/{order_id}/dispute", headers=keyed,
                             json={"reason": "never came"})
    assert _reused(other_note) and _reused(dispute)


async def test_a_retry_answers_the_first_result_and_racing_retries_apply_once(api, session_db):
    order_id, _, seller, _ = await new_order(api, session_db)
    keyed = {**bearer(seller), "Idempotency-Key": "confirm-twice"}
    answers = await asyncio.gather(*(_put(api, order_id, keyed, "order_confirmed")
                                     for _ in range(3)))
    assert [a.status_code for a in answers] == [200, 200, 200]
    later = await _put(api, order_id, keyed, "order_confirmed")
    assert later.json() == answers[0].json()
    assert await _history(api, order_id) == ["payment_confirmed", "order_confirmed"]


async def test_a_key_whose_request_was_refused_can_be_used_again(api, session_db):
    order_id, _, seller, _ = await new_order(api, session_db)
    keyed = {**bearer(seller), "Idempotency-Key": "oops"}
    refused = await _put(api, order_id, keyed, "shipped", trackingNumber="1Z999AA1")
    assert refused.status_code == 409  # nothing changed, so nothing is remembered
    assert (await _put(api, order_id, keyed, "order_confirmed")).status_code == 200


async def test_a_key_still_means_its_request_after_the_workflow_continues_as_new(
    api, client, settings, session_db
):
    # Temporal's memory of update ids ends with the run: before the key table, a retry after
    # continue-as-new was applied again (or, with another body, as a new change).
    seller = unique("seller")
    listing = await seed_listing(session_db, seller_id=seller)
    request = order_request(buyer_id=unique("buyer"), seller_id=seller, listing_id=listing,
                            method=PaymentMethod.CRYPTO)
    created = await order_commands.create_order(
        client, settings.with_policy(max_history_events=50), request)
    handle = client.get_workflow_handle_for(
        OrderWorkflow.run, workflow_id_for(request.payment.method, request.payment.reference))
    keyed = {**bearer(seller), "Idempotency-Key": "before-the-handover"}
    first = await _put(api, created.order_id, keyed, "order_confirmed")
    assert first.status_code == 200, first.text
    first_run = (await handle.describe()).run_id
    for _ in range(30):  # events that change nothing but lengthen the history
        await handle.signal(OrderWorkflow.external_event, _scan(unique("noise"), "picked_up"))

    async def continued_as_new():
        return (await handle.describe()).run_id != first_run

    assert await eventually(continued_as_new) is True
    retry = await _put(api, created.order_id, keyed, "order_confirmed")
    assert (retry.status_code, retry.json()) == (200, first.json())
    assert _reused(await _put(api, created.order_id, keyed, "processing"))
    assert await _history(api, created.order_id) == ["payment_confirmed", "order_confirmed"]
