"""The Starknet JSON-RPC double itself, driven through starknet-py's FullNodeClient/Account and raw JSON-RPC.
No database needed."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from starknet_py.contract import Contract
from starknet_py.hash.selector import get_selector_from_name
from starknet_py.hash.storage import get_storage_var_address
from starknet_py.net.client_errors import ClientError
from starknet_py.net.client_models import Call, ResourceBounds, ResourceBoundsMapping
from starknet_py.net.full_node_client import FullNodeClient

from tests.doubles import starknet_signing as signing
from tests.doubles.starknet_rpc import (
    ACCOUNT_CLASS_HASH,
    SN_MAIN,
    StarknetDouble,
    fee_of,
    gas_consumed,
)
from tests.doubles.starknet_spec import validate_error, validate_params, validate_result

VALID = 0x56414C4944
BOUNDS = ResourceBoundsMapping(  # generous explicit bounds (skip estimation, e.g. for a tx that will revert)
    l1_gas=ResourceBounds(max_amount=0, max_price_per_unit=80_000_000_000_000),
    l1_data_gas=ResourceBounds(max_amount=1_000, max_price_per_unit=120_000),
    l2_gas=ResourceBounds(max_amount=5_000_000, max_price_per_unit=16_000_000_000),
)


def rpc(node: StarknetDouble, method: str, params=None, path: str = "/") -> dict:
    body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": params if params is not None else {}}
    response = httpx.post(node.url.rstrip("/") + path, json=body, timeout=10)
    assert response.status_code == 200
    reply = response.json()
    assert reply["jsonrpc"] == "2.0"
    assert reply["id"] == 7
    return reply


def result(node: StarknetDouble, method: str, params=None) -> object:
    reply = rpc(node, method, params)
    assert "error" not in reply, reply
    if method.startswith("starknet_"):
        assert validate_result(method, reply["result"]) == []
    return reply["result"]


def error(node: StarknetDouble, method: str, params=None) -> dict:
    reply = rpc(node, method, params)
    assert "error" in reply, reply
    if method.startswith("starknet_"):
        assert validate_error(method, reply["error"]) == []
    return reply["error"]


def client(node: StarknetDouble) -> FullNodeClient:
    return FullNodeClient(node_url=node.url)


def account(node, acct, chain_id=None):
    return signing.account(node, chain_id or node.chain_id, acct.address, acct.private_key)


def send(node, acct, calls, **kwargs) -> str:
    tx = signing.signed_invoke(node, node.chain_id, acct.address, acct.private_key, calls, **kwargs)
    return result(node, "starknet_addInvokeTransaction", {"invoke_transaction": tx})["transaction_hash"]


def balance_call(node, token: str, owner: str, entrypoint: str = "balance_of") -> int:
    low, high = result(
        node,
        "starknet_call",
        {
            "request": {
                "contract_address": node.token_address(token),
                "entry_point_selector": hex(get_selector_from_name(entrypoint)),
                "calldata": [owner],
            },
            "block_id": "latest",
        },
    )
    return int(low, 16) + (int(high, 16) << 128)


# --- reads -------------------------------------------------------------------------------------------------


def test_read_methods_are_spec_valid(starknet_node, starknet_account):
    node, acct = starknet_node, starknet_account
    assert result(node, "starknet_specVersion") == "0.10.2"
    assert result(node, "starknet_chainId") == "0x534e5f5345504f4c4941"
    number = result(node, "starknet_blockNumber")
    head = result(node, "starknet_blockHashAndNumber")
    assert head["block_number"] == number
    for block_id in ("latest", "l1_accepted", "pre_confirmed", {"block_number": number}, head):
        if isinstance(block_id, dict) and "block_hash" in block_id:
            block_id = {"block_hash": block_id["block_hash"]}
        block = result(node, "starknet_getBlockWithTxHashes", {"block_id": block_id})
        if block_id == "pre_confirmed":
            assert "block_hash" not in block
            assert block["block_number"] == number + 1
        else:
            assert block["status"] in ("ACCEPTED_ON_L2", "ACCEPTED_ON_L1")
    result(node, "starknet_getBlockWithTxs", {"block_id": "latest"})
    result(node, "starknet_getBlockWithReceipts", {"block_id": "latest"})
    assert result(node, "starknet_getNonce", {"block_id": "latest", "contract_address": acct.address}) == "0x0"
    assert result(node, "starknet_getClassHashAt", ["latest", acct.address]) == hex(ACCOUNT_CLASS_HASH)
    result(node, "starknet_getClassAt", ["latest", acct.address])
    assert result(node, "starknet_syncing") is False

    assert balance_call(node, "STRK", acct.address) == 10 * 10**18
    assert balance_call(node, "USDC", acct.address, "balanceOf") == 100 * 10**6
    usdc = node.token_address("USDC")

    def call(entrypoint, calldata=()):
        request = {
            "contract_address": usdc,
            "entry_point_selector": hex(get_selector_from_name(entrypoint)),
            "calldata": list(calldata),
        }
        return result(node, "starknet_call", {"request": request, "block_id": "latest"})

    assert call("decimals") == ["0x6"]
    assert bytes.fromhex(call("symbol")[0][2:]) == b"USDC"
    assert call("name")
    assert int(call("total_supply")[0], 16) >= 100 * 10**6
    slot = get_storage_var_address("ERC20_balances")
    from starknet_py.hash.utils import pedersen_hash

    key = "0x" + format(pedersen_hash(slot, int(acct.address, 16)), "063x")  # STORAGE_KEY: 63 digits, first 0-7
    value = result(node, "starknet_getStorageAt", [usdc, key, "latest"])
    assert int(value, 16) == 100 * 10**6
    with_block = result(node, "starknet_getStorageAt", [usdc, key, "latest", ["INCLUDE_LAST_UPDATE_BLOCK"]])
    assert with_block["value"] == value


def test_starknet_py_client_reads(starknet_node, starknet_account):
    node, acct = starknet_node, starknet_account

    async def go():
        c = client(node)
        assert await c.get_chain_id() == node.chain_id
        assert await c.get_block_number() >= 0
        block = await c.get_block_with_tx_hashes(block_number="latest")
        assert block.block_number == (await c.get_block_hash_and_number()).block_number
        raw = await c.call_contract(
            Call(
                to_addr=int(node.token_address("ETH"), 16),
                selector=get_selector_from_name("balance_of"),
                calldata=[int(acct.address, 16)],
            ),
            block_number="latest",
        )
        assert raw == [10**18, 0]
        assert await c.get_contract_nonce(acct.address) == 0
        assert await c.get_class_hash_at(acct.address) == ACCOUNT_CLASS_HASH
        # The class ABI is good enough for starknet-py's ABI-driven Contract.
        token = await Contract.from_address(address=node.token_address("USDC"), provider=c)
        (amount,) = await token.functions["balance_of"].call(int(acct.address, 16))
        assert amount == 100 * 10**6

    asyncio.run(go())


def test_json_rpc_errors(starknet_node, starknet_account):
    node = starknet_node
    request = {"contract_address": "0x123", "entry_point_selector": "0x1", "calldata": []}
    assert error(node, "starknet_call", {"request": request, "block_id": "latest"}) == {
        "code": 20,
        "message": "Contract not found",
    }
    request["contract_address"] = node.token_address("ETH")
    assert error(node, "starknet_call", {"request": request, "block_id": "latest"})["code"] == 21
    request["entry_point_selector"] = hex(get_selector_from_name("balance_of"))
    contract_error = error(node, "starknet_call", {"request": request, "block_id": "latest"})
    assert contract_error["code"] == 40
    assert "revert_error" in contract_error["data"]
    assert error(node, "starknet_getBlockWithTxHashes", [{"block_number": 10**9}])["code"] == 24
    assert error(node, "starknet_getTransactionStatus", ["0x1234"])["code"] == 29
    assert error(node, "starknet_getTransactionReceipt", ["0x1234"]) == {
        "code": 29,
        "message": "Transaction hash not found",
    }
    assert rpc(node, "starknet_noSuchMethod")["error"]["code"] == -32601
    assert error(node, "starknet_getBlockWithTxHashes", [{"block_number": -1}])["code"] == -32602
    assert error(node, "starknet_getNonce", {"block_id": "latest"})["code"] == -32602
    assert error(node, "starknet_getBlockWithTxHashes", ["pending"])["code"] == -32602  # not a 0.10 tag
    # batch, parse error, the /rpc/v0_10 path
    batch = httpx.post(
        node.url,
        json=[
            {"jsonrpc": "2.0", "id": 1, "method": "starknet_chainId"},
            {"jsonrpc": "2.0", "id": 2, "method": "starknet_blockNumber", "params": []},
            {"jsonrpc": "2.0", "method": "starknet_chainId"},  # a notification: no response
        ],
    ).json()
    assert [r["id"] for r in batch] == [1, 2]
    assert batch[0]["result"] == node.chain_id
    assert httpx.post(node.url, content=b"{nope").json()["error"]["code"] == -32700
    assert rpc(node, "starknet_specVersion", path="/rpc/v0_10")["result"] == "0.10.2"


# --- transactions ------------------------------------------------------------------------------------------


def test_transfer_with_starknet_py_account_and_finality_lifecycle(starknet_node, starknet_account):
    node, acct = starknet_node, starknet_account
    recipient = signing.keypair()
    recipient_address = node.deploy_account(recipient.private_key)
    usdc = int(node.token_address("USDC"), 16)
    strk_before = node.balance(acct.address, "STRK")

    async def execute():
        a = account(node, acct)
        estimate = await a.estimate_fee(
            await a.sign_invoke_v3(
                calls=[Call(usdc, get_selector_from_name("transfer"), [int(recipient_address, 16), 25 * 10**6, 0])],
                resource_bounds=BOUNDS,
            )
        )
        assert estimate.overall_fee == fee_of(gas_consumed(1))
        sent = await a.execute_v3(
            calls=[Call(usdc, get_selector_from_name("transfer"), [int(recipient_address, 16), 25 * 10**6, 0])],
            auto_estimate=True,
        )
        return hex(sent.transaction_hash)

    tx_hash = asyncio.run(execute())
    assert result(node, "starknet_getTransactionStatus", [tx_hash]) == {"finality_status": "RECEIVED"}
    assert error(node, "starknet_getTransactionReceipt", [tx_hash])["code"] == 29  # not executed yet
    assert result(node, "starknet_getTransactionByHash", [tx_hash])["transaction_hash"] == tx_hash
    assert node.balance(recipient_address, "USDC") == 0

    block = result(node, "devnet_createBlock")
    status = result(node, "starknet_getTransactionStatus", [tx_hash])
    assert status == {"finality_status": "ACCEPTED_ON_L2", "execution_status": "SUCCEEDED"}
    receipt = result(node, "starknet_getTransactionReceipt", [tx_hash])
    fee = fee_of(gas_consumed(1))
    assert receipt["actual_fee"] == {"amount": hex(fee), "unit": "FRI"}
    assert receipt["block_hash"] == block["block_hash"]
    assert receipt["block_number"] == block["block_number"]
    assert receipt["execution_status"] == "SUCCEEDED"
    assert "revert_reason" not in receipt
    transfer, fee_transfer = receipt["events"]
    assert transfer == {
        "from_address": hex(usdc),
        "keys": [hex(get_selector_from_name("Transfer")), acct.address, recipient_address],
        "data": [hex(25 * 10**6), "0x0"],
    }
    assert fee_transfer["from_address"] == node.token_address("STRK")
    assert fee_transfer["data"] == [hex(fee), "0x0"]
    assert node.balance(recipient_address, "USDC") == 25 * 10**6
    assert node.balance(acct.address, "USDC") == 75 * 10**6
    assert node.balance(acct.address, "STRK") == strk_before - fee
    assert result(node, "starknet_getNonce", ["latest", acct.address]) == "0x1"
    assert (
        tx_hash
        in result(node, "starknet_getBlockWithTxHashes", [{"block_number": block["block_number"]}])["transactions"]
    )
    events = result(
        node,
        "starknet_getEvents",
        {
            "filter": {
                "from_block": {"block_number": block["block_number"]},
                "to_block": "latest",
                "address": hex(usdc),
                "keys": [[hex(get_selector_from_name("Transfer"))], [acct.address]],
                "chunk_size": 10,
            }
        },
    )
    assert [e["transaction_hash"] for e in events["events"]] == [tx_hash]

    node.accept_on_l1()
    assert result(node, "starknet_getTransactionStatus", [tx_hash])["finality_status"] == "ACCEPTED_ON_L1"
    assert result(node, "starknet_getTransactionReceipt", [tx_hash])["finality_status"] == "ACCEPTED_ON_L1"
    receipt = asyncio.run(client(node).wait_for_tx(tx_hash, check_interval=0.1))
    assert receipt.execution_status.value == "SUCCEEDED"


def test_overdraw_reverts_and_only_the_fee_is_charged(starknet_node, starknet_account):
    node, acct = starknet_node, starknet_account
    other = node.deploy_account(signing.keypair().private_key)
    usdc = node.token_address("USDC")
    calls = [signing.transfer_call(usdc, other, 1_000 * 10**6)]  # holds 100 USDC

    # Estimation simulates on the current state: the revert surfaces as TRANSACTION_EXECUTION_ERROR.
    query = signing.signed_invoke(node, node.chain_id, acct.address, acct.private_key, calls, resource_bounds=BOUNDS)
    query["version"] = "0x100000000000000000000000000000003"
    estimate_error = error(node, "starknet_estimateFee", [[query], ["SKIP_VALIDATE"], "pre_confirmed"])
    assert estimate_error["code"] == 41
    assert estimate_error["data"]["transaction_index"] == 0
    assert "ERC20: insufficient balance" in str(estimate_error["data"]["execution_error"])

    strk_before = node.balance(acct.address, "STRK")
    tx_hash = send(node, acct, calls, resource_bounds=BOUNDS)
    node.create_block()
    status = result(node, "starknet_getTransactionStatus", [tx_hash])
    assert status["execution_status"] == "REVERTED"
    assert "ERC20: insufficient balance" in status["failure_reason"]
    receipt = result(node, "starknet_getTransactionReceipt", [tx_hash])
    assert receipt["execution_status"] == "REVERTED"
    assert "ERC20: insufficient balance" in receipt["revert_reason"]
    fee = fee_of(gas_consumed(1))
    assert receipt["actual_fee"]["amount"] == hex(fee)
    assert [e["from_address"] for e in receipt["events"]] == [node.token_address("STRK")]  # only the fee transfer
    assert node.balance(acct.address, "USDC") == 100 * 10**6
    assert node.balance(other, "USDC") == 0
    assert node.balance(acct.address, "STRK") == strk_before - fee
    assert node.nonce(acct.address) == 1
    with pytest.raises(Exception, match="insufficient balance"):
        asyncio.run(client(node).wait_for_tx(tx_hash, check_interval=0.1))


def test_unknown_contract_in_multicall_reverts(starknet_node, starknet_account):
    node, acct = starknet_node, starknet_account
    ok = signing.transfer_call(node.token_address("ETH"), "0x1234", 1)
    bad = {"contract_address": "0x777", "entrypoint": "transfer", "calldata": [1, 1, 0]}
    tx_hash = send(node, acct, [ok, bad], resource_bounds=BOUNDS)
    node.create_block()
    receipt = result(node, "starknet_getTransactionReceipt", [tx_hash])
    assert receipt["execution_status"] == "REVERTED"
    assert "is not deployed" in receipt["revert_reason"]
    assert node.balance("0x1234", "ETH") == 0  # the first call was rolled back too
    assert receipt["actual_fee"]["amount"] == hex(fee_of(gas_consumed(2)))


def test_signature_for_another_chain_is_refused(starknet_node, starknet_account):
    node, acct = starknet_node, starknet_account
    calls = [signing.transfer_call(node.token_address("STRK"), "0x1234", 1)]
    tx = signing.signed_invoke(node, SN_MAIN, acct.address, acct.private_key, calls, resource_bounds=BOUNDS)
    refused = error(node, "starknet_addInvokeTransaction", {"invoke_transaction": tx})
    assert refused["code"] == 55
    assert refused["message"] == "Account validation failed"
    assert "invalid signature" in refused["data"]
    # Same for a key that is not the account's.
    tx = signing.signed_invoke(
        node, node.chain_id, acct.address, signing.keypair().private_key, calls, resource_bounds=BOUNDS
    )
    assert error(node, "starknet_addInvokeTransaction", {"invoke_transaction": tx})["code"] == 55


def test_nonce_duplicate_balance_and_version_checks(starknet_node, starknet_account):
    node, acct = starknet_node, starknet_account
    calls = [signing.transfer_call(node.token_address("ETH"), "0x1234", 1)]
    stale = signing.signed_invoke(
        node, node.chain_id, acct.address, acct.private_key, calls, nonce=5, resource_bounds=BOUNDS
    )
    bad_nonce = error(node, "starknet_addInvokeTransaction", [stale])
    assert bad_nonce["code"] == 52
    assert "Account nonce: 0x0; got: 0x5" in bad_nonce["data"]

    tx = signing.signed_invoke(node, node.chain_id, acct.address, acct.private_key, calls, resource_bounds=BOUNDS)
    result(node, "starknet_addInvokeTransaction", [tx])
    assert error(node, "starknet_addInvokeTransaction", [tx])["code"] == 59
    # The next nonce counts the pending tx.
    nxt = signing.signed_invoke(
        node, node.chain_id, acct.address, acct.private_key, calls, nonce=1, resource_bounds=BOUNDS
    )
    result(node, "starknet_addInvokeTransaction", [nxt])
    node.create_block()
    assert node.nonce(acct.address) == 2
    assert error(node, "starknet_addInvokeTransaction", [tx])["code"] == 59  # still a duplicate once included

    query = dict(tx, version="0x100000000000000000000000000000003")
    assert error(node, "starknet_addInvokeTransaction", [query])["code"] == 61

    poor_key = signing.keypair()
    poor = node.deploy_account(poor_key.private_key)
    tx = signing.signed_invoke(node, node.chain_id, poor, poor_key.private_key, calls, resource_bounds=BOUNDS)
    assert error(node, "starknet_addInvokeTransaction", [tx])["code"] == 54

    # The sender must be a deployed account (the rest of the tx is well formed).
    undeployed = error(node, "starknet_addInvokeTransaction", [dict(tx, sender_address="0x4242")])
    assert undeployed["code"] == 55
    assert "is not deployed" in undeployed["data"]
    token_sender = dict(tx, sender_address=node.token_address("ETH"))
    assert error(node, "starknet_addInvokeTransaction", [token_sender])["code"] == 58


def test_is_valid_signature(starknet_node, starknet_account):
    node, acct = starknet_node, starknet_account
    typed = {
        "types": {
            "StarknetDomain": [
                {"name": "name", "type": "shortstring"},
                {"name": "version", "type": "shortstring"},
                {"name": "chainId", "type": "shortstring"},
                {"name": "revision", "type": "shortstring"},
            ],
            "SignIn": [{"name": "nonce", "type": "felt"}, {"name": "expires", "type": "timestamp"}],
        },
        "primaryType": "SignIn",
        "domain": {"name": "EngiPay", "version": "1", "chainId": "SN_SEPOLIA", "revision": "1"},
        "message": {"nonce": "0x1234", "expires": 1900000000},
    }
    message_hash = signing.typed_data_hash(typed, acct.address)
    signature = signing.sign_typed_data(acct.private_key, acct.address, typed)

    def is_valid(sig):
        request = {
            "contract_address": acct.address,
            "entry_point_selector": hex(get_selector_from_name("is_valid_signature")),
            "calldata": [hex(message_hash), hex(len(sig)), *sig],
        }
        return result(node, "starknet_call", {"request": request, "block_id": "latest"})

    assert is_valid(signature) == [hex(VALID)]
    other = signing.sign_typed_data(signing.keypair().private_key, acct.address, typed)
    assert is_valid(other) == ["0x0"]
    assert is_valid([signature[0]]) == ["0x0"]

    async def via_client():
        (pub,) = await client(node).call_contract(
            Call(int(acct.address, 16), get_selector_from_name("get_public_key"), []), block_number="latest"
        )
        return pub

    assert asyncio.run(via_client()) == acct.public_key


# --- control methods, sandbox mode, strictness -------------------------------------------------------------


def test_devnet_control_methods(starknet_node):
    node = starknet_node
    keys = signing.keypair()
    deployed = result(node, "devnet_deployAccount", {"public_key": hex(keys.public_key)})
    assert deployed == {"address": node.deploy_account(keys.private_key), "class_hash": hex(ACCOUNT_CLASS_HASH)}
    minted = result(node, "devnet_mint", {"address": deployed["address"], "amount": "0x10", "token": "USDT"})
    assert minted == {
        "address": deployed["address"],
        "token": node.token_address("USDT"),
        "symbol": "USDT",
        "new_balance": "16",
    }
    result(node, "devnet_mint", [deployed["address"], 5, node.token_address("WBTC")])
    assert node.balance(deployed["address"], "WBTC") == 5
    assert error(node, "devnet_mint", {"address": "0x1", "amount": 1, "token": "DOGE"})["code"] == -32602
    before = result(node, "starknet_blockNumber")
    created = result(node, "devnet_createBlock")
    assert created["block_number"] == before + 1
    accepted = result(node, "devnet_acceptOnL1")
    assert accepted["l1_accepted_block_number"] == created["block_number"]
    assert result(node, "starknet_getBlockWithTxHashes", ["l1_accepted"])["block_number"] == created["block_number"]


def test_sandbox_mode_closes_blocks_and_settles_on_l1():
    with StarknetDouble(block_seconds=0.05, l1_after_blocks=2) as node:
        deadline = time.monotonic() + 5
        while result(node, "starknet_blockNumber") < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert result(node, "starknet_blockNumber") >= 4
        assert result(node, "starknet_getBlockWithTxHashes", [{"block_number": 1}])["status"] == "ACCEPTED_ON_L1"
        block_2 = result(node, "starknet_getBlockWithTxHashes", [{"block_number": 2}])
        block_3 = result(node, "starknet_getBlockWithTxHashes", [{"block_number": 3}])
        assert block_3["parent_hash"] == block_2["block_hash"]
        assert result(node, "starknet_getBlockWithTxHashes", ["latest"])["status"] == "ACCEPTED_ON_L2"
        assert not node.violations


def test_validator_catches_malformed_results():
    receipt = {
        "type": "INVOKE",
        "transaction_hash": "0x01",  # leading zero: not a FELT
        "actual_fee": {"amount": "0x10", "unit": "STRK"},  # not a PRICE_UNIT
        "finality_status": "RECEIVED",  # not a TXN_FINALITY_STATUS
        "execution_status": "REVERTED",  # without revert_reason
        "messages_sent": [],
        "events": [{"keys": [], "data": []}],  # no from_address
        "execution_resources": {"l1_gas": 0, "l2_gas": 1},  # no l1_data_gas
    }
    problems = validate_result("starknet_getTransactionReceipt", receipt)
    assert problems
    assert all(p.startswith("starknet_getTransactionReceipt result") for p in problems)
    assert validate_result("starknet_blockNumber", "0x1")
    assert validate_result("starknet_getTransactionByHash", {"transaction_hash": "0x1"})  # TXN_WITH_HASH is checked
    assert validate_result("starknet_call", ["0x1", 2])
    assert validate_error("starknet_call", {"code": 20, "message": "Contract missing"})
    assert validate_error("starknet_call", {"code": 29, "message": "Transaction hash not found"})  # not declared
    assert validate_error("starknet_call", {"code": 40, "message": "Contract error", "data": {}})
    assert validate_error("starknet_addInvokeTransaction", {"code": 52, "message": "Invalid transaction nonce"})
    assert validate_params("starknet_getNonce", ["latest"])
    assert validate_params("starknet_getNonce", ["latest", "0x1"]) == []


def test_strict_mode_turns_a_violation_into_an_error():
    with StarknetDouble(strict=True) as node:
        node.node.starknet_blockNumber = lambda: "not a number"
        reply = rpc(node, "starknet_blockNumber")
        assert reply["error"]["code"] == -32603
        assert "spec violation" in reply["error"]["data"]
        assert len(node.violations) == 1
    with StarknetDouble(strict=False) as node:
        node.node.starknet_blockNumber = lambda: "not a number"
        assert rpc(node, "starknet_blockNumber")["result"] == "not a number"
        assert node.violations == []


def test_historic_state_by_block_id(starknet_node, starknet_account):
    node, acct = starknet_node, starknet_account
    before = node.create_block()["block_number"]
    send(node, acct, [signing.transfer_call(node.token_address("USDC"), "0x1234", 10**6)], resource_bounds=BOUNDS)
    node.create_block()

    def usdc_at(block_id):
        request = {
            "contract_address": node.token_address("USDC"),
            "entry_point_selector": hex(get_selector_from_name("balance_of")),
            "calldata": [acct.address],
        }
        return int(result(node, "starknet_call", {"request": request, "block_id": block_id})[0], 16)

    assert usdc_at({"block_number": before}) == 100 * 10**6
    assert usdc_at("latest") == 99 * 10**6
    assert result(node, "starknet_getNonce", [{"block_number": before}, acct.address]) == "0x0"


def test_account_address_matches_starknet_py(starknet_node):
    from starknet_py.hash.address import compute_address

    keys = signing.keypair()
    expected = compute_address(
        class_hash=ACCOUNT_CLASS_HASH, constructor_calldata=[keys.public_key], salt=keys.public_key, deployer_address=0
    )
    assert starknet_node.deploy_account(keys.private_key) == hex(expected)


def test_client_error_for_unknown_tx(starknet_node):
    with pytest.raises(ClientError) as caught:
        asyncio.run(client(starknet_node).get_transaction_receipt(0x999))
    assert caught.value.code == 29
