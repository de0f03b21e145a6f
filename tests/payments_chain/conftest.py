"""The chain providers against a real anvil (tests/chain.py) and a real, migrated database."""

from tests.chain import anvil_chain, chain  # noqa: F401 - the local chain's fixtures
from tests.payments_chain.fixtures import crypto, db, escrow, on_chain, wallets  # noqa: F401
