"""Path, query and header parameters shared by routes, each with its pattern from domain.ids."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Path, Query

from domain import ids

OrderIdPath = Annotated[str, Path(pattern=ids.ORDER_ID_PATTERN, description="order id (UUID)")]
NotificationIdPath = Annotated[str, Path(pattern=ids.NOTIFICATION_ID_PATTERN)]
UserIdPath = Annotated[str, Path(pattern=ids.REFERENCE_ID_PATTERN)]
ListingIdPath = Annotated[str, Path(pattern=ids.REFERENCE_ID_PATTERN)]
SellerIdQuery = Annotated[str | None, Query(pattern=ids.REFERENCE_ID_PATTERN)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", pattern=ids.IDEMPOTENCY_KEY_PATTERN,
           description="a retry with the same key gets the first answer, not a 409; the key "
                       "with another body or from another caller is refused (422 "
                       "IDEMPOTENCY_KEY_REUSED). Remembered for 24 hours"),
]
RequiredIdempotencyKey = Annotated[
    str,
    Header(alias="Idempotency-Key", pattern=ids.IDEMPOTENCY_KEY_PATTERN,
           description="required: a money movement is made once per key; a retry with the "
                       "same key gets the first answer, the key with another body or from "
                       "another caller is refused (422 IDEMPOTENCY_KEY_REUSED)"),
]
