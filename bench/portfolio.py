"""Benchmark: GET /api/portfolio/balances/real for 1, 10 and 40 tokens against a naive one-call-per-token read.

Run on demand: `.venv/bin/python bench/portfolio.py`. Starts its own anvil on a free port and a throwaway SQLite
database; counts JSON-RPC round trips with a recording proxy. Targets (issue 3): round trips per chain stay 1;
40 tokens take at most 2x the time of 1 token.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["SQLITE_PATH"] = str(Path(tempfile.mkdtemp()) / "bench.sqlite3")
os.environ.pop("DATABASE_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "engipay.settings")
os.environ.setdefault("CACHE_KEY_PREFIX", "engipay-bench")
os.environ.setdefault("THROTTLE_USER", "1000000/min")

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402
from web3 import HTTPProvider, Web3  # noqa: E402

from apps.chains import devchain  # noqa: E402
from apps.chains.models import NATIVE_ADDRESS, Token, TokenDeployment  # noqa: E402
from conftest import ANVIL, free_port  # noqa: E402
from engipay.bootstrap import prepare  # noqa: E402
from tests.helpers import Signer, wallet_sign_in  # noqa: E402
from tests.rpc_recorder import RpcRecorder  # noqa: E402

RUNS = 25
ERC20_ABI = devchain.artifact("DemoToken")["abi"]


def start_anvil() -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603
        [str(ANVIL), "--port", str(port), "--chain-id", "31337", "--mnemonic", devchain.DEV_MNEMONIC, "--silent"]
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=1)
        except httpx.HTTPError:
            time.sleep(0.05)
        else:
            return proc, url
    raise RuntimeError("anvil did not start")


def timed(fn, runs: int = RUNS) -> float:
    fn()  # warm up
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def main() -> None:
    prepare()
    call_command("migrate", verbosity=0)
    anvil, url = start_anvil()
    try:
        w3 = Web3(HTTPProvider(url))
        devchain.install_multicall3(w3)
        recorder = RpcRecorder(url)
        settings.CHAINS = {"local": {"kind": "evm", "chain_id": 31337, "rpc_urls": [recorder.url], "confirmations": 1}}
        signer = Signer()
        auth = wallet_sign_in(APIClient(), signer)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {auth['token']}")
        deployer = devchain.dev_account(0)
        tokens = []
        for i in range(40):
            address = devchain.deploy(w3, "DemoToken", [f"B{i}", f"B{i}", 18, signer.address, 10**24], deployer)
            token = Token.objects.create(symbol=f"B{i}", name=f"Bench {i}")
            tokens.append((token, address))
        eth = Token.objects.get(symbol="ETH")
        print(f"{'tokens':>6} | {'endpoint ms':>11} | {'round trips':>11} | {'naive ms':>9} | {'naive trips':>11}")
        baseline = None
        for count in (1, 10, 40):
            TokenDeployment.objects.all().delete()
            TokenDeployment.objects.create(
                chain="local", token=eth, address=NATIVE_ADDRESS, decimals=18, is_native=True
            )
            for token, address in tokens[: count - 1]:
                TokenDeployment.objects.create(chain="local", token=token, address=address, decimals=18)
            # Round trips are counted through the recording proxy; times are taken straight against anvil.
            settings.CHAINS["local"]["rpc_urls"] = [recorder.url]
            recorder.reset()
            assert client.get("/api/portfolio/balances/real").status_code == 200
            trips = recorder.round_trips
            settings.CHAINS["local"]["rpc_urls"] = [url]
            endpoint_ms = timed(lambda: client.get("/api/portfolio/balances/real"))

            def naive(naive_w3, count=count) -> None:
                naive_w3.eth.get_balance(signer.address)
                for _, address in tokens[: count - 1]:
                    naive_w3.eth.contract(address=address, abi=ERC20_ABI).functions.balanceOf(signer.address).call()

            recorder.reset()
            naive(Web3(HTTPProvider(recorder.url), middleware=[]))
            naive_trips = recorder.round_trips
            direct = Web3(HTTPProvider(url), middleware=[])
            naive_ms = timed(lambda direct=direct: naive(direct))
            baseline = baseline or endpoint_ms
            print(f"{count:>6} | {endpoint_ms:>11.1f} | {trips:>11} | {naive_ms:>9.1f} | {naive_trips:>11}")
        print(f"40 tokens / 1 token endpoint time: {endpoint_ms / baseline:.2f}x (target <= 2x)")
        recorder.close()
    finally:
        anvil.terminate()


if __name__ == "__main__":
    main()
