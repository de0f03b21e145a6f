"""Funding escrows on the test chain as a buyer would."""

from __future__ import annotations

import os

from tests.payments_chain.fixtures import TOTAL_UNITS

WEEK = 7 * 24 * 3600


async def fund(chain, *, buyer=None, seller=None, units=TOTAL_UNITS, token=None) -> str:
    """A new escrow funded by `buyer` (the test buyer) for `seller`; its id."""
    buyer, token = buyer or chain.buyer, token or chain.token
    escrow_id = "0x" + os.urandom(32).hex()
    await chain.send(token.functions.approve(chain.escrow.address, units), buyer)
    await chain.send(chain.escrow.functions.create(
        escrow_id, (seller or chain.seller).address, token.address, units,
        await chain.now() + WEEK), buyer)
    return escrow_id
