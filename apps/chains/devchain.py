"""The local development chain (anvil, chain id 31337): Multicall3 at its canonical address, demo ERC-20 tokens
and Chainlink-compatible price feeds, deployed for real from the compiled artifacts. Used by `make run` and tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from eth_account import Account
from multicall.constants import MULTICALL3_BYTECODE
from web3 import Web3

from apps.chains.clients.evm import MULTICALL3_ADDRESS
from apps.chains.solidity import artifact

DEV_MNEMONIC = "test test test test test test test test test test test junk"
LOCAL_CHAIN_ID = 31337


def dev_account(index: int):
    Account.enable_unaudited_hdwallet_features()
    return Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")


def install_multicall3(w3: Web3) -> None:
    if len(w3.eth.get_code(MULTICALL3_ADDRESS)) == 0:
        w3.provider.make_request("anvil_setCode", [MULTICALL3_ADDRESS, MULTICALL3_BYTECODE])


def send(w3: Web3, account: Any, tx: dict[str, Any]) -> dict[str, Any]:
    """Sign with ``account`` and wait for the receipt (anvil mines each transaction at once)."""
    tx = {
        "from": account.address,
        "nonce": w3.eth.get_transaction_count(account.address, "pending"),
        "chainId": w3.eth.chain_id,
        **tx,
    }
    tx.setdefault("gas", w3.eth.estimate_gas(tx))
    tx.setdefault("maxFeePerGas", w3.eth.gas_price * 2 + 1)
    tx.setdefault("maxPriorityFeePerGas", 1)
    signed = account.sign_transaction(tx)
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction), timeout=30)
    if receipt["status"] != 1:
        raise RuntimeError(f"transaction reverted: {receipt['transactionHash'].hex()}")
    return receipt


def deploy(w3: Web3, name: str, args: list[Any], account: Any) -> str:
    compiled = artifact(name)
    contract = w3.eth.contract(abi=compiled["abi"], bytecode=compiled["bytecode"])
    data = contract.constructor(*args).build_transaction({"from": account.address, "gas": 5_000_000})["data"]
    receipt = send(w3, account, {"data": data, "gas": 5_000_000})
    return receipt["contractAddress"]


def token_contract(w3: Web3, address: str):
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifact("DemoToken")["abi"])


def feed_contract(w3: Web3, address: str):
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifact("DemoPriceFeed")["abi"])


@dataclass(frozen=True)
class DemoToken:
    symbol: str
    name: str
    decimals: int


DEMO_TOKENS = [
    DemoToken("USDC", "USD Coin (local demo)", 6),
    DemoToken("USDT", "Tether (local demo)", 6),
    DemoToken("DAI", "Dai (local demo)", 18),
    DemoToken("WBTC", "Wrapped Bitcoin (local demo)", 8),
]
# Starting answers of the local demo feeds (8 decimals, like Chainlink's USD feeds). Demo data for the local
# chain only; the beat task `prices.local_feeds_move` moves them over time.
DEMO_FEED_PRICES = {
    "ETH": Decimal("3000"),
    "BTC": Decimal("90000"),
    "WBTC": Decimal("90000"),
    "STRK": Decimal("0.5"),
    "USDC": Decimal("1"),
    "USDT": Decimal("1"),
    "DAI": Decimal("1"),
}
FEED_DECIMALS = 8
