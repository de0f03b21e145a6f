"""Users' wallets through PUT /api/users/{id}: checksummed at the edge, stored, shown."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from api.auth import Role
from db import tables as t
from tests.conftest import bearer
from tests.factories import unique

pytestmark = pytest.mark.usefixtures("stack_worker")
WALLET = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"  # EIP-55 checksummed


async def _put(api, user_id: str, **extra):
    return await api.put(f"/api/users/{user_id}", headers=bearer("ops1", Role.OPERATOR),
                         json={"name": "Bea Buyer", "email": "bea@example.com", **extra})


async def _stored(session_db, user_id: str) -> str | None:
    async with session_db.reader.connect() as conn:
        return (await conn.execute(select(t.users.c.wallet_address)
                                   .where(t.users.c.id == user_id))).scalar_one()


@pytest.mark.parametrize("sent", [WALLET, WALLET.lower()])
async def test_a_wallet_is_stored_and_shown_checksummed(api, session_db, sent):
    user_id = unique("buyer")
    answer = await _put(api, user_id, walletAddress=sent)
    assert answer.status_code == 200, answer.text
    assert answer.json()["user"]["walletAddress"] == WALLET
    assert await _stored(session_db, user_id) == WALLET


async def test_putting_a_user_without_a_wallet_clears_it(api, session_db):
    user_id = unique("buyer")
    await _put(api, user_id, walletAddress=WALLET)
    answer = await _put(api, user_id)
    assert answer.json()["user"]["walletAddress"] is None
    assert await _stored(session_db, user_id) is None


@pytest.mark.parametrize(("sent", "words"), [
    (WALLET.replace("C44", "c44"), "wrong EIP-55 checksum"),  # one letter's case off
    ("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293B", "String should match pattern"),
    ("bea.eth", "String should match pattern"),
])
async def test_a_wallet_that_is_not_a_checksummed_address_is_a_422(api, session_db, sent,
                                                                   words):
    user_id = unique("buyer")
    answer = await _put(api, user_id, walletAddress=sent)
    assert (answer.status_code, answer.json()["code"]) == (422, "VALIDATION_ERROR")
    (error,) = answer.json()["errors"]
    assert error["field"] == "walletAddress" and words in error["message"], error
    async with session_db.reader.connect() as conn:
        assert (await conn.execute(select(t.users).where(t.users.c.id == user_id))).first() \
            is None
