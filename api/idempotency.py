"""`Idempotency-Key` on any mutating route: one key, one request (as Stripe has it).

The first request with a key claims it for its caller and a digest of its body; a retry of
that request answers the first result; the same key from another caller, or with another body,
is refused with 422 IDEMPOTENCY_KEY_REUSED and changes nothing. Keys last a day.

Why a table and not only Temporal's update ids: Temporal answers a repeated update id with the
first result whatever the new arguments say (so a different body was silently answered with an
old change), an update id built per caller lets another caller's request with the key through
as a new change, and a workflow's update ids do not survive continue-as-new, after which the
key ran again as a new change.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar

from pydantic import TypeAdapter

from api.auth import Principal
from api.errors import ApiError
from db import idempotency_keys
from db.engine import Database
from domain.errors import ErrorCode

KEY_LIFETIME = timedelta(hours=24)
PURGE_EVERY_SECONDS = 600.0
Answer = TypeVar("Answer")
_next_purge = 0.0


@dataclass(frozen=True)
class KeyedRequest:
    """A request sent with an Idempotency-Key: what it acts on, who sent it, what it asks."""

    scope: str  # what the key is unique within, e.g. "order:<id>"
    key: str
    caller: str
    fingerprint: str


def keyed(key: str | None, scope: str, user: Principal, *asked: Any) -> KeyedRequest | None:
    """The keyed request for a route's call, or None without a key. `asked` is everything the
    request asks for (the route's name and its body, as domain values)."""
    if key is None:
        return None
    return KeyedRequest(scope=scope, key=key, caller=f"{user.role.value}:{user.user_id}",
                        fingerprint=digest(*asked))


def digest(*asked: Any) -> str:
    """A digest of what a request asks; `200` and `200.00` are the same amount."""
    return hashlib.sha256(json.dumps(asked, default=_plain, sort_keys=True).encode()).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, date):  # and datetime
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"cannot digest a {type(value).__name__}")


async def once(db: Database, request: KeyedRequest | None, answer_type: type[Answer],
               work: Callable[[], Awaitable[Answer]]) -> Answer:
    """Run `work` unless this keyed request was answered already; refuse a reused key.

    A request refused for its content (an ApiError other than "try again") frees the key, as
    it changed nothing; one that got no answer keeps it, since its change may still happen.
    """
    if request is None:
        return await work()
    adapter = _adapter(answer_type)
    now = datetime.now(UTC)
    await _purge_now_and_then(db, now)
    first = await idempotency_keys.claim(db, request.scope, request.key, request.caller,
                                         request.fingerprint, now, now - KEY_LIFETIME)
    if first is not None:
        if (first.caller, first.fingerprint) != (request.caller, request.fingerprint):
            raise ApiError(ErrorCode.IDEMPOTENCY_KEY_REUSED,
                           "this Idempotency-Key was already used for a different request")
        if first.answer is not None:
            return adapter.validate_python(first.answer)
        # Claimed, not yet answered: the first try is under way or died before its answer was
        # stored. Running the work again is safe: it carries the key too (a Temporal update id).
    try:
        answer = await work()
    except ApiError as err:
        if err.code is not ErrorCode.TEMPORARILY_UNAVAILABLE:
            await idempotency_keys.release(db, request.scope, request.key)
        raise
    await idempotency_keys.record_answer(db, request.scope, request.key,
                                         adapter.dump_python(answer, mode="json"))
    return answer


@cache
def _adapter(answer_type: type) -> TypeAdapter:
    # Building one takes milliseconds (about 5 for OrderSnapshot): as much as the rest of the
    # request costs the API.
    return TypeAdapter(answer_type)


async def _purge_now_and_then(db: Database, now: datetime) -> None:
    global _next_purge
    if time.monotonic() >= _next_purge:
        _next_purge = time.monotonic() + PURGE_EVERY_SECONDS
        await idempotency_keys.purge(db, now - KEY_LIFETIME)
