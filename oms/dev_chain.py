"""The dev stack's local chain: anvil from npm's @foundry-rs/anvil, the contracts of contracts/
deployed on it once, the demo buyer funded with test stablecoins.

Its accounts come from anvil's published test mnemonic, so every address here is public and
worthless: the deployer, the service's arbiter (which is also the receiving address crypto
payments go to), the demo buyer, the demo seller and a stranger. The test suite's chain
(tests/chain.py) uses the same accounts and deploys the same way.

What was deployed is written to `chain.json` in the data folder; anvil keeps its state (blocks,
logs, balances) beside it, so orders paid before a restart still verify. A state lost (anvil
killed before it could write it) is found by the escrow having no code, and the contracts are
deployed again at the same addresses (the deployer's nonces start again at zero).
"""

from __future__ import annotations

import json
import platform
import sys
import urllib.request
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.contract import AsyncContract

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "contracts" / "artifacts"
NODE_MODULES = ROOT / "node_modules"

# anvil's own default mnemonic, given explicitly so the accounts do not depend on its defaults.
MNEMONIC = "test test test test test test test test test test test junk"
CHAIN_ID = 31337
# The accounts by role, in derivation order (m/44'/60'/0'/0/<index>).
ROLES = ("deployer", "arbiter", "buyer", "seller", "stranger")
TOKEN_DECIMALS = 6
STABLECOIN = "USDC"  # the currency the test stablecoin stands for (the demo listings' own)
BUYER_FUNDS = 1_000_000 * 10**TOKEN_DECIMALS  # one million, minted to the buyer
# A block per transaction (automine), then one a second while a recent transaction still lacks
# its confirmations (`mine_toward_confirmations`): payments confirm as on a real chain, about
# OMS_CHAIN_CONFIRMATIONS seconds after they are sent, and an idle chain does not grow (each
# block is ~2 KB of saved state: a block a second would be 150 MB a day).
CONFIRMING_EVERY_SECONDS = 1.0
STATE_EVERY_SECONDS = 30  # anvil writes its state this often and when stopped
RECORD_FILE = "chain.json"


def artifact(name: str) -> dict[str, Any]:
    """A compiled contract from contracts/artifacts: abi, bytecode, compiler settings."""
    return json.loads((ARTIFACTS / f"{name}.json").read_text())


def anvil_binary() -> Path | None:
    """anvil from `npm ci`, or None. The platform package's native binary is preferred to the
    node wrapper in node_modules/.bin: the wrapper is one more process that can be killed and
    leave anvil running, and the native one receives our parent-death signal itself."""
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower())
    native = NODE_MODULES / "@foundry-rs" / f"anvil-{sys.platform}-{arch}" / "bin" / "anvil"
    for candidate in (native, NODE_MODULES / ".bin" / "anvil"):
        if candidate.exists():
            return candidate
    return None


def anvil_args(binary: Path, port: int, *, state_file: Path | None = None,
               block_time: int | None = None) -> list[str]:
    """anvil on 127.0.0.1:`port`; automine (a block per transaction) unless `block_time`."""
    # The chain runs the hardfork the bytecode was compiled for: one home for the EVM version.
    hardfork = artifact("Escrow")["compiler"]["evmVersion"]
    args = [str(binary), "--host", "127.0.0.1", "--port", str(port), "--mnemonic", MNEMONIC,
            "--accounts", str(len(ROLES)), "--chain-id", str(CHAIN_ID), "--hardfork", hardfork,
            "--silent"]
    if block_time:
        args += ["--block-time", str(block_time)]
    if state_file:
        args += ["--state", str(state_file), "--state-interval", str(STATE_EVERY_SECONDS)]
    return args


@cache
def role_accounts() -> dict[str, LocalAccount]:
    Account.enable_unaudited_hdwallet_features()
    return {role: Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
            for index, role in enumerate(ROLES)}


async def deploy(w3: AsyncWeb3, name: str, sender: LocalAccount, *args: Any) -> AsyncContract:
    compiled = artifact(name)
    factory = w3.eth.contract(abi=compiled["abi"], bytecode=compiled["bytecode"])
    tx_hash = await factory.constructor(*args).transact({"from": sender.address})
    receipt = await w3.eth.wait_for_transaction_receipt(tx_hash)
    return w3.eth.contract(address=receipt["contractAddress"], abi=compiled["abi"])


@dataclass(frozen=True)
class DevChain:
    """What the dev stack deployed, as written to chain.json."""

    rpc_url: str
    chain_id: int
    token: str  # the test stablecoin, for STABLECOIN
    escrow: str
    deployed_at_block: int

    @property
    def arbiter(self) -> LocalAccount:
        return role_accounts()["arbiter"]

    def settings_env(self) -> dict[str, str]:
        """The OMS_CHAIN_* settings that point the worker and the API at this chain."""
        return {
            "OMS_CHAIN_RPC_URL": self.rpc_url,
            "OMS_CHAIN_ID": str(self.chain_id),
            "OMS_CHAIN_TOKENS": f"{STABLECOIN}={self.token}",
            "OMS_ESCROW_CONTRACT": self.escrow,
            "OMS_RECEIVING_ADDRESS": self.arbiter.address,
            "OMS_CHAIN_SIGNER_KEY": self.arbiter.key.hex(),
            "OMS_CHAIN_START_BLOCK": str(self.deployed_at_block),  # the listener's first
        }


def mine_toward_confirmations(rpc_url: str, confirmations: int) -> None:
    """Mine one empty block if a block among the last `confirmations - 1` has transactions:
    called once a second, it gives every transaction its confirmations, a block a second."""
    latest = int(_rpc(rpc_url, "eth_blockNumber"), 16)
    for number in range(max(0, latest - confirmations + 2), latest + 1):
        if int(_rpc(rpc_url, "eth_getBlockTransactionCountByNumber", hex(number)), 16):
            _rpc(rpc_url, "anvil_mine", "0x1")
            return


def _rpc(url: str, method: str, *params: Any) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                              "params": list(params)}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        answer = json.load(response)
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


def read_record(data_dir: Path) -> DevChain | None:
    try:
        return DevChain(**json.loads((data_dir / RECORD_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None


async def ensure_deployed(rpc_url: str, data_dir: Path) -> DevChain:
    """The contracts on the chain at `rpc_url`: those of chain.json if the chain still has
    them, else deployed now (and the buyer funded)."""
    w3 = AsyncWeb3(AsyncHTTPProvider(rpc_url))
    try:
        known = read_record(data_dir)
        if known and known.rpc_url == rpc_url and await w3.eth.get_code(known.escrow):
            return known
        accounts = role_accounts()
        before = await w3.eth.block_number  # the listener scans from here
        token = await deploy(w3, "TestStablecoin", accounts["deployer"])
        escrow = await deploy(w3, "Escrow", accounts["deployer"], accounts["arbiter"].address)
        minted = await token.functions.mint(accounts["buyer"].address, BUYER_FUNDS).transact(
            {"from": accounts["deployer"].address})
        await w3.eth.wait_for_transaction_receipt(minted)
        record = DevChain(rpc_url=rpc_url, chain_id=await w3.eth.chain_id, token=token.address,
                          escrow=escrow.address, deployed_at_block=before)
        (data_dir / RECORD_FILE).write_text(json.dumps(asdict(record), indent=2) + "\n")
        return record
    finally:
        await w3.provider.disconnect()
