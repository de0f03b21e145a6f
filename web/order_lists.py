"""What a list page shows, worked out before the template: its query, its tabs and its lines.

The template then only writes out plain attributes. Rendering the API's dicts directly cost
twice as much (every `o.name` in Jinja is a failed getattr before the key) and put the
rules for "who" and "what" in markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.datastructures import QueryParams

from domain.order import OrderStatus
from domain.statuses import StatusGroup, in_group
from web.render import list_url

SEARCH_MAX_LENGTH = 200
STATUSES = frozenset(s.value for s in OrderStatus)
GROUPS = frozenset(g.value for g in StatusGroup)


@dataclass(frozen=True)
class ListQuery:
    """A list page's address: what the list API takes, plus the search and the tab.

    Read by hand rather than as a FastAPI dependency: a page keeps what it understands and
    drops the rest (an unknown tab shows every order), where a dependency would answer a bad
    value with the API's JSON. Sort and payment method go to the API as they are, and its
    refusal is shown on the page."""

    q: str | None = None
    group: str | None = None
    status: str | None = None  # one status (the console's links), instead of a tab's group
    payment_method: str | None = None
    sort_by: str = "createdAt"
    sort_order: str = "desc"
    cursor: str | None = None

    @classmethod
    def of(cls, params: QueryParams) -> ListQuery:
        group, status = params.get("group"), params.get("status")
        return cls(q=(params.get("q") or "")[:SEARCH_MAX_LENGTH].strip() or None,
                   group=group if group in GROUPS else None,
                   status=status if status in STATUSES else None,
                   payment_method=params.get("paymentMethod") or None,
                   sort_by=params.get("sortBy") or "createdAt",
                   sort_order=params.get("sortOrder") or "desc",
                   cursor=params.get("cursor") or None)

    @property
    def filters(self) -> dict[str, str | None]:
        """The list API's own parameters, named as it names them."""
        return {"paymentMethod": self.payment_method, "sortBy": self.sort_by,
                "sortOrder": self.sort_order}

    def statuses(self) -> str | None:
        """The list API's `status`: the one asked for, or the tab's group."""
        if self.status is not None:
            return self.status
        if self.group is None:
            return None
        return ",".join(sorted(in_group(StatusGroup(self.group))))


@dataclass(frozen=True, slots=True)
class Tab:
    label: str
    url: str
    count: int
    current: bool


def tabs(path: str, query: ListQuery, by_status: dict[str, int]) -> list[Tab]:
    """"all" and one tab per status group, each with its count from the list's counts by
    status (every status is in one group, so "all" is their sum)."""
    made = [Tab("all", list_url(path, **query.filters), sum(by_status.values()),
                query.group is None and query.status is None)]
    for group in StatusGroup:
        members = in_group(group)
        made.append(Tab(group.value.replace("_", " "),
                        list_url(path, group=group.value, **query.filters),
                        sum(n for s, n in by_status.items() if s in members),
                        query.group == group.value and query.status is None))
    return made


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One order as a list shows it."""

    id: str
    number: str
    status: str
    what: str
    total: str
    who: str
    created_at: str

    @classmethod
    def of(cls, order: dict[str, Any]) -> OrderLine:
        return cls(id=order["id"], number=order["orderNumber"], status=order["status"],
                   what=", ".join(f"{line['quantity']} × {line['productName']}"
                                  for line in order["items"]),
                   total=f"{order['totalAmount']} {order['currency']}", who=_who(order),
                   created_at=order.get("createdAt") or "")


def _who(order: dict[str, Any]) -> str:
    """The other party, as the reader's view names them: a buyer sees the seller's store, a
    seller the buyer, an operator both."""
    said = []
    if seller := order.get("seller"):
        said.append(f"from {seller.get('storeName') or seller.get('name') or seller['id']}")
    if buyer := order.get("buyer"):
        said.append(f"for {buyer.get('name') or buyer['id']}")
    return ", ".join(said)
