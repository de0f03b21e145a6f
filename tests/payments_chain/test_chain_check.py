"""The worker refuses to start on a chain its settings do not describe (tests/chain.py's anvil)."""

from __future__ import annotations

from payments.chain_provider import Chain
from payments.chain_signer import ChainSigner
from tests.chain import CHAIN_ID
from tests.payments_chain.fixtures import CONFIRMATIONS


def _chain(db, chain, *, signer=None, token=None, escrow=None) -> Chain:
    signer = signer or chain.arbiter
    return Chain(db, chain.w3, ChainSigner(db, chain.w3, signer, CHAIN_ID),
                 tokens={"USDC": token or chain.token.address}, confirmations=CONFIRMATIONS,
                 receiving_address=signer.address, escrow_address=escrow or chain.escrow.address)


async def test_the_chain_the_settings_describe_passes(chain, db):
    assert await _chain(db, chain).misconfigured(CHAIN_ID) is None


async def test_another_chain_id_is_named(chain, db):
    assert await _chain(db, chain).misconfigured(1) == (
        f"OMS_CHAIN_ID: the node at OMS_CHAIN_RPC_URL serves chain {CHAIN_ID}")


async def test_a_token_or_escrow_that_is_not_a_contract_is_named(chain, db):
    nothing = chain.stranger.address  # an account: no code there
    assert (await _chain(db, chain, token=nothing).misconfigured(CHAIN_ID)).startswith(
        f"OMS_CHAIN_TOKENS (USDC): no contract at {nothing}")
    assert (await _chain(db, chain, escrow=nothing).misconfigured(CHAIN_ID)).startswith(
        f"OMS_ESCROW_CONTRACT: no contract at {nothing}")


async def test_a_signer_that_is_not_the_escrows_arbiter_is_named(chain, db):
    wrong = await _chain(db, chain, signer=chain.stranger).misconfigured(CHAIN_ID)
    assert wrong == (f"OMS_CHAIN_SIGNER_KEY: the escrow's arbiter is {chain.arbiter.address}, "
                     f"not this key's {chain.stranger.address}")
