from tests.chain import anvil_chain, chain  # noqa: F401 - the local chain's fixtures
