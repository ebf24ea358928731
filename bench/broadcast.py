"""Benchmark: POST /api/transactions/broadcast against a raw eth_sendRawTransaction, and block → websocket.

Run on demand: `.venv/bin/python bench/broadcast.py [N]`. Starts its own anvil on a free port, uses a throwaway
SQLite database (or the DATABASE_URL you set) and the configured/embedded Redis. Prints:
- raw eth_sendRawTransaction round trip, the endpoint (in-process, through the whole Django/DRF stack, auth,
  decoding, checks, the same RPC, the database row and the notification), and the endpoint's overhead;
- block → websocket: `chain_tracker` runs as its own process; the time from `anvil_mine` to the
  `transaction_confirmed` notification on a user's socket.
Targets (issue 3): overhead ≤ 20 ms median; block → websocket ≤ 100 ms median. Not part of the test suite.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._support import configure_environment, start_anvil  # noqa: E402 - after the path is set

ANVIL_PROC, ANVIL_URL = start_anvil()
CHAINS = {
    "local": {"kind": "evm", "name": "Bench anvil", "chain_id": 31337, "rpc_urls": [ANVIL_URL], "confirmations": 2}
}
os.environ["CHAINS_JSON"] = json.dumps(CHAINS)
DATABASE = configure_environment("broadcast")  # a database of its own: the bench writes prices and users
os.environ.setdefault("THROTTLE_AUTH_IP", "100000/min")
os.environ.setdefault("THROTTLE_NONCE", "100000/min")
os.environ.setdefault(
    "KYC_LIMITS", json.dumps({t: {"daily": "1e12", "monthly": "1e12"} for t in ("tier_0", "tier_1", "tier_2")})
)

import django  # noqa: E402

django.setup()

from channels.testing import WebsocketCommunicator  # noqa: E402
from django.core.management import call_command  # noqa: E402
from eth_account import Account  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from engipay.bootstrap import prepare  # noqa: E402
from tests.helpers import Signer, wallet_sign_in  # noqa: E402


def rpc(method: str, params: list) -> dict:
    return httpx.post(ANVIL_URL, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).json()


def percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
    return f"n={len(ms)} p50={p(0.50):.1f}ms p95={p(0.95):.1f}ms mean={statistics.mean(ms):.1f}ms"


class Wallet:
    def __init__(self) -> None:
        self.signer = Signer()
        auth = wallet_sign_in(APIClient(), self.signer)
        self.token = auth["token"]
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.token}")
        rpc("anvil_setBalance", [self.signer.address, hex(10**22)])
        self.nonce = 0
        self.to = Account.create().address

    def signed(self) -> str:
        tx = {
            "type": 2,
            "chainId": 31337,
            "nonce": self.nonce,
            "to": self.to,
            "value": 10**15,
            "data": b"",
            "gas": 21_000,
            "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 10**9,
        }
        self.nonce += 1
        return "0x" + self.signer.account.sign_transaction(tx).raw_transaction.hex().removeprefix("0x")

    def broadcast(self, raw: str):
        body = {"network": "local", "asset": "ETH", "to_address": self.to, "amount": "0.001", "signed_transaction": raw}
        response = self.client.post("/api/transactions/broadcast", body, format="json")
        assert response.status_code == 201, response.content
        return response.json()


def bench_overhead(wallet: Wallet, n: int) -> tuple[list[float], list[float]]:
    raw_times, api_times = [], []
    http = httpx.Client()
    for _ in range(10):  # warm-up: imports, connections, caches
        wallet.broadcast(wallet.signed())
    for _ in range(n):
        raw = wallet.signed()
        started = time.perf_counter()
        answer = http.post(
            ANVIL_URL, json={"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": [raw]}
        ).json()
        raw_times.append(time.perf_counter() - started)
        assert "result" in answer, answer
        api_raw = wallet.signed()
        started = time.perf_counter()
        wallet.broadcast(api_raw)
        api_times.append(time.perf_counter() - started)
    return raw_times, api_times


async def bench_block_to_socket(wallet: Wallet, n: int) -> list[float]:
    from apps.transactions.models import ChainTransaction
    from engipay.asgi import application

    env = dict(os.environ, TX_TRACKER_SWEEP_SECONDS="600")
    log = Path(tempfile.mkdtemp()) / "tracker.log"
    with log.open("w") as out:
        tracker = subprocess.Popen(
            [sys.executable, "manage.py", "chain_tracker"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    samples = []
    ws = WebsocketCommunicator(application, f"/ws/notifications/?token={wallet.token}")
    try:
        while "Subscribed to newHeads" not in log.read_text():
            await asyncio.sleep(0.05)
        await ws.connect()
        await ws.receive_json_from(timeout=5)
        for _ in range(n):
            await asyncio.to_thread(wallet.broadcast, wallet.signed())  # mined at once: 1 of 2 confirmations
            while (await ws.receive_json_from(timeout=5))["notification"]["type"] != "transaction_pending":
                pass
            started = time.perf_counter()
            await asyncio.to_thread(rpc, "anvil_mine", ["0x1"])  # the block that confirms it
            while (await ws.receive_json_from(timeout=5))["notification"]["type"] != "transaction_confirmed":
                pass
            samples.append(time.perf_counter() - started)
            # One open transaction per head: the latency of one refresh, not of a growing backlog.
            await asyncio.to_thread(lambda: ChainTransaction.objects.update(status="finalized"))
    finally:
        await ws.disconnect()
        tracker.terminate()
        tracker.wait(15)
    return samples


def _price_for_limits() -> None:
    """Transfers are valued for the KYC limits: ETH needs a recent price (no price feed on this bare anvil).
    The limits themselves are lifted (KYC_LIMITS above), so only their bookkeeping is timed."""
    from decimal import Decimal

    from django.utils import timezone

    from apps.chains.models import Token
    from apps.prices.models import AssetPrice

    eth = Token.objects.get(symbol="ETH")
    AssetPrice.objects.create(token=eth, price_usd=Decimal(1), source="coingecko", observed_at=timezone.now())


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    prepare()
    call_command("migrate", verbosity=0)
    _price_for_limits()
    try:
        wallet = Wallet()
        raw_times, api_times = bench_overhead(wallet, n)
        print(f"database: {DATABASE}; anvil at {ANVIL_URL} (automine)")
        print("raw eth_sendRawTransaction:        ", percentiles(raw_times))
        print("POST /api/transactions/broadcast:  ", percentiles(api_times))
        overhead = [api - raw for raw, api in zip(sorted(raw_times), sorted(api_times), strict=True)]
        p95 = sorted(overhead)[int(0.95 * len(overhead))]
        print(
            f"server overhead (endpoint - raw): p50={statistics.median(overhead) * 1000:.1f}ms p95={p95 * 1000:.1f}ms"
            "  (target p50 <= 20 ms)"
        )
        # Open transactions are refreshed on every head: keep the table small for the latency run.
        from apps.transactions.models import ChainTransaction

        ChainTransaction.objects.update(status="finalized")
        samples = asyncio.run(bench_block_to_socket(Wallet(), min(n, 50)))
        print("block -> websocket (chain_tracker):", percentiles(samples), " (target p50 <= 100 ms)")
    finally:
        ANVIL_PROC.terminate()
        ANVIL_PROC.wait(10)


if __name__ == "__main__":
    main()
