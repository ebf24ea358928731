"""A real node outage: anvil is stopped (state dumped) and started again (state loaded).

While it is down, anything that must ask the chain answers 503 chain_unavailable within 5 s and the tracker's
refresh skips the chain without losing the transaction; once it is back, tracking carries on to confirmed.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from rest_framework.test import APIClient
from web3 import HTTPProvider, Web3

from apps.chains.devchain import DEV_MNEMONIC, install_multicall3
from apps.transactions.models import ChainTransaction
from apps.transactions.services.tracking import transactions_refresh_open
from conftest import ANVIL, free_port
from tests.helpers import Signer, assert_error_shape, wallet_sign_in

from .conftest import native_token

pytestmark = pytest.mark.django_db


class Node:
    def __init__(self, state: str) -> None:
        self.port, self.state, self.proc = free_port(), state, None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                str(ANVIL),
                "--port",
                str(self.port),
                "--chain-id",
                "31337",
                "--mnemonic",
                DEV_MNEMONIC,
                "--state",
                self.state,
                "--silent",
            ],
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=1)
            except httpx.HTTPError:
                time.sleep(0.05)
            else:
                return
        raise RuntimeError("anvil did not start")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)  # Ctrl-C: anvil dumps its state to --state on the way out
        self.proc.wait(20)
        assert Path(self.state).exists()


def test_a_stopped_node_is_503_fast_and_tracking_resumes_after_it_restarts(settings, tmp_path):
    node = Node(str(tmp_path / "state.json"))
    node.start()
    try:
        settings.CHAINS = {
            "local": {
                "kind": "evm",
                "name": "Local anvil",
                "chain_id": 31337,
                "rpc_urls": [node.url],
                "confirmations": 2,
            }
        }
        w3 = Web3(HTTPProvider(node.url))
        install_multicall3(w3)
        native_token()
        signer = Signer()
        auth = wallet_sign_in(APIClient(), signer)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {auth['token']}")
        w3.provider.make_request("anvil_setBalance", [signer.address, hex(10**19)])
        body = {"network": "local", "asset": "ETH", "to_address": Signer().address, "amount": "0.25"}
        prepared = client.post("/api/transactions/prepare", body, format="json").json()["transaction"]
        signed = "0x" + signer.account.sign_transaction(prepared).raw_transaction.hex().removeprefix("0x")
        sent = client.post("/api/transactions/broadcast", {**body, "signed_transaction": signed}, format="json")
        assert sent.status_code == 201, sent.content
        tx_hash = sent.json()["tx_hash"]
        # anvil's state dump can lose the history of its newest block (measured: 2 restarts in 10 forgot a
        # transaction mined in the tip block, while keeping its nonce); one block on top makes the restart keep it.
        w3.provider.make_request("anvil_mine", ["0x1"])

        node.stop()
        started = time.monotonic()
        down = client.post("/api/transactions/prepare", body, format="json")
        assert time.monotonic() - started < 5
        assert_error_shape(down, 503, "chain_unavailable")
        transactions_refresh_open()  # what the tracker and the beat task run: skips the dead chain
        record = ChainTransaction.objects.get(tx_hash=tx_hash)
        assert record.status == "pending"
        assert client.get(f"/api/transactions/{tx_hash}/status").json()["status"] == "pending"

        node.start()
        w3.provider.make_request("anvil_mine", [hex(2)])
        transactions_refresh_open()
        record.refresh_from_db()
        assert record.status == "confirmed", record.status
        assert record.confirmations >= 2
        assert record.block_number is not None
    finally:
        if node.proc and node.proc.poll() is None:
            node.stop()
