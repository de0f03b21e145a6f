"""A real local chain for the test suite: anvil from npm's @foundry-rs/anvil with the contracts of
contracts/artifacts deployed on it (contracts/README.md).

One anvil per session (it boots in a fraction of a second, deploying takes a few transactions);
each test runs between an `evm_snapshot` and an `evm_revert`, so tests cannot see each other's
escrows, balances or blocks. Blocks are mined per transaction (automine) and on demand with
`mine(n)`: nothing happens on a timer, so confirmations are counted, not waited for.

To use it in a suite, import the fixtures in that suite's conftest.py:
`from tests.chain import anvil_chain, chain  # noqa: F401`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import AsyncIterator, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from eth_abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.contract import AsyncContract
from web3.exceptions import ContractCustomError
from web3.types import TxReceipt

from oms import processes
from oms.dev_chain import (  # noqa: F401
    BUYER_FUNDS,
    CHAIN_ID,
    MNEMONIC,
    NODE_MODULES,
    ROLES,
    ROOT,
    TOKEN_DECIMALS,
    anvil_args,
    anvil_binary,
    artifact,
    deploy,
    role_accounts,
)
from tests import servers


def require_node_modules(what: str) -> None:
    """Skip the test when `npm ci` has not been run here; in CI, which runs it, fail instead."""
    reason = f"{what} needs `npm ci` (node_modules/ is missing; contracts/README.md)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@contextlib.contextmanager
def anvil(binary: Path) -> Iterator[str]:
    """anvil on a free loopback port, its state in memory; yields its JSON-RPC URL."""
    port, proc = servers._on_a_free_port(lambda p: anvil_args(binary, p), timeout=30)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        processes.stop(proc)


@cache
def _errors_by_selector() -> dict[bytes, tuple[str, list[str]]]:
    """Custom errors of both contracts (OpenZeppelin's included) by their 4-byte selector."""
    found: dict[bytes, tuple[str, list[str]]] = {}
    for name in ("Escrow", "TestStablecoin"):
        for item in artifact(name)["abi"]:
            if item["type"] == "error":
                types = [i["type"] for i in item["inputs"]]
                found[keccak(text=f"{item['name']}({','.join(types)})")[:4]] = (item["name"], types)
    return found


def revert_reason(error: ContractCustomError) -> tuple[str, tuple[Any, ...]]:
    """The custom error a call reverted with, as (name, arguments)."""
    data = error.data if isinstance(error.data, str) else error.data["data"]
    raw = bytes.fromhex(data.removeprefix("0x"))
    name, types = _errors_by_selector()[raw[:4]]
    values = abi_decode(types, raw[4:])
    return name, tuple(to_checksum_address(v) if t == "address" else v
                       for t, v in zip(types, values, strict=True))


@cache
def _record_fields() -> list[str]:
    (view,) = [i for i in artifact("Escrow")["abi"] if i.get("name") == "escrows"]
    return [field["name"] for field in view["outputs"][0]["components"]]


@dataclasses.dataclass
class Chain:
    """A running anvil with the test stablecoin and the escrow deployed.

    Accounts are `LocalAccount`s (their keys sign raw transactions) and also unlocked on the
    node, so `send` can use `eth_sendTransaction`. The arbiter is the escrow's arbiter; only the
    buyer holds tokens (BUYER_FUNDS).
    """

    url: str
    w3: AsyncWeb3
    accounts: dict[str, LocalAccount]
    token: AsyncContract
    escrow: AsyncContract

    deployer = property(lambda self: self.accounts["deployer"])
    arbiter = property(lambda self: self.accounts["arbiter"])
    buyer = property(lambda self: self.accounts["buyer"])
    seller = property(lambda self: self.accounts["seller"])
    stranger = property(lambda self: self.accounts["stranger"])

    async def rpc(self, method: str, *params: Any) -> Any:
        response = await self.w3.provider.make_request(method, list(params))
        if "error" in response:
            raise RuntimeError(f"{method}: {response['error']}")
        return response["result"]

    async def mine(self, blocks: int = 1) -> None:
        await self.rpc("anvil_mine", hex(blocks))

    async def snapshot(self) -> str:
        return await self.rpc("evm_snapshot")

    async def revert(self, snapshot_id: str) -> None:
        """Back to a snapshot, which is used up by it (take a new one to revert again)."""
        if await self.rpc("evm_revert", snapshot_id) is not True:
            raise RuntimeError(f"evm_revert: no snapshot {snapshot_id}")

    async def advance_time(self, seconds: int) -> None:
        """Move the chain's clock forward and mine a block that carries the new time."""
        await self.rpc("evm_increaseTime", seconds)
        await self.mine()

    async def now(self) -> int:
        """The latest block's timestamp: the contract's clock, not the wall clock."""
        return (await self.w3.eth.get_block("latest"))["timestamp"]

    async def balance(self, account: LocalAccount | str) -> int:
        """A token balance in minor units (6 decimals)."""
        address = account if isinstance(account, str) else account.address
        return await self.token.functions.balanceOf(address).call()

    async def record(self, escrow_id: str | bytes) -> dict[str, Any]:
        """The escrow's on-chain record by field name (buyer, seller, token, deadline, state,
        amount); state is the number of the contract's State enum."""
        values = await self.escrow.functions.escrows(escrow_id).call()
        return dict(zip(_record_fields(), values, strict=True))

    async def send(self, call: Any, sender: LocalAccount) -> TxReceipt:
        """Send a contract call from `sender` and return its receipt, which must succeed.
        A call that would revert raises ContractCustomError (see `revert_reason`)."""
        tx_hash = await call.transact({"from": sender.address})
        receipt = await self.w3.eth.wait_for_transaction_receipt(tx_hash)
        if receipt["status"] != 1:
            raise RuntimeError(f"transaction {tx_hash.hex()} failed")
        return receipt


@contextlib.asynccontextmanager
async def running_chain(binary: Path) -> AsyncIterator[Chain]:
    """anvil with the stablecoin and the escrow deployed and the buyer funded."""
    with anvil(binary) as url:
        w3 = AsyncWeb3(AsyncHTTPProvider(url))
        try:
            accounts = role_accounts()
            token = await deploy(w3, "TestStablecoin", accounts["deployer"])
            escrow = await deploy(w3, "Escrow", accounts["deployer"], accounts["arbiter"].address)
            chain = Chain(url=url, w3=w3, accounts=accounts, token=token, escrow=escrow)
            await chain.send(token.functions.mint(chain.buyer.address, BUYER_FUNDS),
                             chain.deployer)
            yield chain
        finally:
            await w3.provider.disconnect()


@pytest.fixture(scope="session")
async def anvil_chain() -> AsyncIterator[Chain]:
    """One anvil for the session, contracts deployed. Tests use `chain`, which isolates them."""
    binary = anvil_binary()
    if binary is None:
        require_node_modules("the local chain (anvil)")
    async with running_chain(binary) as chain:
        yield chain


@pytest.fixture
async def chain(anvil_chain: Chain) -> AsyncIterator[Chain]:
    """The session's chain, reverted after the test to the state it had before it."""
    snapshot = await anvil_chain.snapshot()
    try:
        yield anvil_chain
    finally:
        await anvil_chain.revert(snapshot)
