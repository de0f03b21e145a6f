"""A list's counts by status (`counts=true`): the tabs of a dashboard in the list's own answer,
from the projection's counters for a seller and from the rows for other filters."""

from __future__ import annotations

import pytest

from api.auth import Role
from tests.conftest import bearer
from tests.factories import checkout_body, seed_listing, unique
from tests.polling import eventually

pytestmark = pytest.mark.usefixtures("stack_worker")
OPS = bearer("ops1", Role.OPERATOR)


@pytest.fixture
async def sold(api, session_db):
    """A seller's three orders from one buyer (card, paid), the first cancelled, and one more
    by crypto from another buyer."""
    buyer, other, seller = unique("buyer"), unique("buyer"), unique("seller")
    listing = await seed_listing(session_db, seller_id=seller, currency="USD")
    crypto = await seed_listing(session_db, seller_id=seller)
    ids = []
    for who, method, where in ((buyer, "fiat", listing),) * 3 + ((other, "crypto", crypto),):
        body = checkout_body(buyer_id=who, seller_id=seller, listing_id=where, method=method,
                             quantity=1, total=100)
        created = await api.post("/api/orders", json=body, headers=bearer(who))
        assert created.status_code == 201, created.text
        ids.append(created.json()["order"]["id"])
    cancelled = await api.post(f"/api/orders/{ids[0]}/cancel", headers=bearer(seller),
                               json={"reasonCode": "seller_out_of_stock"})
    assert cancelled.status_code == 200, cancelled.text
    return buyer, seller


async def totals_by_status(api, path: str, headers, **filters) -> dict[str, int]:
    """The same counts the slow way: the list's total for each status present."""
    listed = (await api.get(path, headers=headers, params={**filters, "limit": 100})).json()
    found = {}
    for status in {o["status"] for o in listed["orders"]}:
        page = await api.get(path, headers=headers, params={**filters, "status": status})
        found[status] = page.json()["pagination"]["total"]
    return found


async def test_counts_by_status_agree_with_the_lists_totals(api, sold):
    buyer, seller = sold
    cases = [(f"/api/orders/seller/{seller}", bearer(seller), {}),  # the counters
             (f"/api/orders/seller/{seller}", bearer(seller), {"paymentMethod": "fiat"}),
             (f"/api/orders/buyer/{buyer}", bearer(buyer), {})]  # rows, grouped

    async def all_agree() -> bool:
        for path, headers, filters in cases:
            # The status filter does not narrow the counts: every tab keeps its number.
            answer = await api.get(path, headers=headers,
                                   params={**filters, "counts": "true", "status": "cancelled"})
            assert answer.status_code == 200, answer.text
            expected = await totals_by_status(api, path, headers, **filters)
            assert answer.json()["countsByStatus"] == expected, (path, filters)
        return True

    await eventually(all_agree)  # the cancellation reaches the read model just after
    counted = (await api.get(f"/api/orders/seller/{seller}", headers=bearer(seller),
                             params={"counts": "true"})).json()["countsByStatus"]
    assert sum(counted.values()) == 4 and counted["cancelled"] == 1
    fiat = (await api.get(f"/api/orders/seller/{seller}", headers=bearer(seller),
                          params={"counts": "true", "paymentMethod": "fiat"})).json()
    assert sum(fiat["countsByStatus"].values()) == 3


async def test_counts_only_when_asked_and_only_for_who_may_list(api, sold):
    buyer, seller = sold
    plain = await api.get(f"/api/orders/seller/{seller}", headers=bearer(seller))
    assert "countsByStatus" not in plain.json()
    refused = await api.get(f"/api/orders/seller/{seller}", headers=bearer(buyer),
                            params={"counts": "true"})
    assert refused.status_code == 403
    everything = await api.get("/api/orders", headers=OPS, params={"counts": "true"})
    assert sum(everything.json()["countsByStatus"].values()) == \
        everything.json()["pagination"]["total"]
