"""Query parameters of the order lists, validated at the edge, and the opaque page cursor."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Literal

from fastapi import Query
from pydantic import AwareDatetime

from api.errors import ApiError
from db.order_lists import OrderFilter
from domain.order import OrderStatus, PaymentMethod

MAX_LIMIT = 100
MAX_PAGE = 10_000
# Numbered pages stop here: an offset makes the database read and drop every row before the
# page. Deeper, the cursor costs what the first page costs.
MAX_OFFSET = 10_000


@dataclass(frozen=True)
class ListParams:
    filter: OrderFilter
    sort: str
    descending: bool
    limit: int
    page: int
    cursor: str | None

    def after(self) -> tuple | None:
        """The position a cursor stands for, checked against this request's sort and filter."""
        if self.cursor is None:
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(self.cursor.encode() + b"=="))
            assert data["s"] == self.sort and data["d"] == self.descending
            assert data["f"] == self.fingerprint()
            return _decode_key(self.sort, data["k"])
        except Exception:  # noqa: BLE001 - any malformed or foreign cursor is the client's error
            raise ApiError.invalid_field("cursor", "invalid cursor",
                                         detail="the cursor does not belong to this list") from None

    def next_cursor(self, key: tuple | None) -> str | None:
        if key is None:
            return None
        data = {"s": self.sort, "d": self.descending, "f": self.fingerprint(),
                "k": [v.isoformat() if isinstance(v, datetime) else v for v in key]}
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    def fingerprint(self) -> str:
        f = self.filter
        text = repr((f.buyer_id, f.seller_id, f.party_id, f.statuses, f.payment_method,
                     f.created_from, f.created_to))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _decode_key(sort: str, values: list) -> tuple:
    if sort in ("createdAt", "statusUpdatedAt"):
        return (datetime.fromisoformat(values[0]), str(values[1]))
    if sort == "status":
        return (OrderStatus(values[0]).value, datetime.fromisoformat(values[1]), str(values[2]))
    return (int(values[0]), str(values[1]))


async def list_params(
    status: Annotated[list[str] | None, Query(
        description="one or more statuses: repeat the parameter or separate with commas")] = None,
    paymentMethod: Annotated[PaymentMethod | None, Query()] = None,  # noqa: N803 - wire name
    createdFrom: Annotated[AwareDatetime | None, Query()] = None,  # noqa: N803
    createdTo: Annotated[AwareDatetime | None, Query()] = None,  # noqa: N803
    sortBy: Annotated[Literal["createdAt", "status", "totalAmount", "statusUpdatedAt"],  # noqa: N803
                      Query()] = "createdAt",
    sortOrder: Annotated[Literal["asc", "desc"], Query()] = "desc",  # noqa: N803
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    cursor: Annotated[str | None, Query(max_length=512,
                                        description="nextCursor of the previous page")] = None,
) -> ListParams:
    """The list endpoints' query parameters, checked (async only to stay off the thread pool:
    see api.deps)."""
    statuses: list[str] = []
    for item in status or []:
        for value in item.split(","):
            try:
                statuses.append(OrderStatus(value.strip()).value)
            except ValueError:
                raise ApiError.invalid_field("status", f"unknown status {value!r}",
                                             kind="enum") from None
    if (page - 1) * limit > MAX_OFFSET:
        raise ApiError.invalid_field(
            "page", "too deep: use cursor",
            detail=f"numbered pages reach {MAX_OFFSET} orders deep; use the cursor")
    if cursor is not None and page != 1:
        raise ApiError.invalid_field("cursor", "cannot be combined with page",
                                     detail="use either page or cursor")
    return ListParams(
        filter=OrderFilter(statuses=tuple(sorted(set(statuses))),
                           payment_method=paymentMethod.value if paymentMethod else None,
                           created_from=createdFrom, created_to=createdTo),
        sort=sortBy, descending=sortOrder == "desc", limit=limit, page=page, cursor=cursor,
    )


def scoped(params: ListParams, **scope: str | None) -> ListParams:
    return replace(params, filter=replace(params.filter, **scope))
