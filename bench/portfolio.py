"""Benchmark: GET /api/portfolio/balances/real.

1. For 1, 10 and 40 tokens against a naive one-call-per-token read (issue 3 targets: round trips per chain stay 1;
   40 tokens take at most 2x the time of 1 token).
2. Three chains (issue 4): one wallet on anvil, one Starknet account, one Bitcoin address; the endpoint with all
   three configured vs with each chain alone. Target: all three <= 1.3x the slowest single chain (chains are read
   concurrently). Measured with no added latency and with 50 ms added to every request by a delaying proxy (a process
   of its own), as a remote RPC provider would.

Run on demand: `.venv/bin/python bench/portfolio.py`. Starts its own anvil, Starknet JSON-RPC double and Esplora
double (subprocesses, on free ports) and a throwaway SQLite database.
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


class DelayProxy:
    """Forwards every request (GET or POST) to ``upstream`` after ``delay`` seconds: a remote provider's latency."""

    def __init__(self, upstream: str, delay: float, port: int = 0) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from threading import Thread

        proxy = self
        self.upstream, self.delay = upstream.rstrip("/"), delay

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                return

            def _forward(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                time.sleep(proxy.delay)
                answer = httpx.request(
                    method,
                    proxy.upstream + self.path,
                    content=body or None,
                    headers={"Content-Type": self.headers.get("Content-Type", "application/json")},
                    timeout=30,
                )
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def do_GET(self) -> None:
                self._forward("GET")

            def do_POST(self) -> None:
                self._forward("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_delay_proxy(upstream: str, delay: float) -> tuple[subprocess.Popen, str]:
    import socket

    port = free_port()
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, __file__, "--delay-proxy", upstream, str(delay), str(port)], cwd=ROOT
    )
    for _ in range(400):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"http://127.0.0.1:{port}"
        time.sleep(0.05)
    raise RuntimeError("delay proxy did not start")


def start_double(module: str, *args: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", module, "--port", str(port), *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(url + "/blocks/tip/height", timeout=1) if "esplora" in module else httpx.post(
                url, json={"jsonrpc": "2.0", "id": 1, "method": "starknet_chainId"}, timeout=1
            )
        except httpx.HTTPError:
            time.sleep(0.05)
        else:
            return proc, url
    raise RuntimeError(f"{module} did not start")


def three_chains() -> None:
    from tests.doubles.bitcoin_signing import address_for, bip322_sign_simple, new_key
    from tests.doubles.starknet_signing import keypair, sign_typed_data
    from tests.helpers import caip122_bitcoin_message, fresh_nonce, snip12_sign_in

    anvil, anvil_url = start_anvil()
    starknet, starknet_url = start_double(
        "tests.doubles.starknet_rpc", "--block-seconds", "3600", "--accounts", "0", "--no-strict"
    )
    esplora, esplora_url = start_double("tests.doubles.esplora", "--network", "regtest", "--block-seconds", "0")
    proxies: list[tuple[subprocess.Popen, str]] = []
    try:
        w3 = Web3(HTTPProvider(anvil_url))
        devchain.install_multicall3(w3)

        def configure(urls: dict[str, str], keys: tuple[str, ...] = ("local", "starknet", "bitcoin")) -> None:
            every = {
                "local": {"kind": "evm", "chain_id": 31337, "rpc_urls": [urls["local"]], "confirmations": 1},
                "starknet": {"kind": "starknet", "chain_id": "SN_SEPOLIA", "rpc_urls": [urls["starknet"]]},
                "bitcoin": {"kind": "bitcoin", "chain_id": "regtest", "rpc_urls": [urls["bitcoin"]]},
            }
            settings.CHAINS = {key: every[key] for key in keys}

        direct = {"local": anvil_url, "starknet": starknet_url, "bitcoin": esplora_url}
        configure(direct)
        TokenDeployment.objects.all().delete()
        call_command(
            "chain_registry_load", "fixtures/registry/starknet-sandbox.json", "--chain", "starknet", verbosity=0
        )
        call_command("chain_registry_load", "fixtures/registry/bitcoin-regtest.json", "--chain", "bitcoin", verbosity=0)
        TokenDeployment.objects.create(
            chain="local", token=Token.objects.get(symbol="ETH"), address=NATIVE_ADDRESS, decimals=18, is_native=True
        )
        deployer, signer = devchain.dev_account(0), Signer()
        for symbol in ("TUSD", "TDAI", "TBTC", "TUSDT"):
            address = devchain.deploy(w3, "DemoToken", [symbol, symbol, 18, signer.address, 10**24], deployer)
            token, _ = Token.objects.get_or_create(symbol=symbol, defaults={"name": symbol})
            TokenDeployment.objects.create(chain="local", token=token, address=address, decimals=18)
        w3.provider.make_request("anvil_setBalance", [signer.address, hex(10**18)])
        auth = wallet_sign_in(APIClient(), signer)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {auth['token']}")

        keys = keypair()
        rpc = lambda method, params: httpx.post(  # noqa: E731
            starknet_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        ).json()["result"]
        account = rpc("devnet_deployAccount", {"public_key": hex(keys.public_key)})["address"]
        for symbol in ("ETH", "STRK", "USDC", "USDT", "WBTC"):
            rpc("devnet_mint", {"address": account, "amount": 10**6, "token": symbol})
        typed = snip12_sign_in(address=account, nonce=fresh_nonce(client))
        linked = client.post(
            "/api/auth/wallets",
            {
                "wallet_address": account,
                "wallet_type": "argent",
                "message": typed,
                "signature": sign_typed_data(keys.private_key, account, typed),
            },
            format="json",
        )
        assert linked.status_code == 201, linked.content
        key = new_key()
        btc = address_for(key, "p2wpkh")
        httpx.post(f"{esplora_url}/_sandbox/fund", json={"address": btc, "sats": 10**7})
        httpx.post(f"{esplora_url}/_sandbox/mine", json={"blocks": 1})
        message = caip122_bitcoin_message(address=btc, nonce=fresh_nonce(client))
        body = {
            "wallet_address": btc,
            "wallet_type": "xverse",
            "message": message,
            "signature": bip322_sign_simple(key, "p2wpkh", btc, message),
        }
        assert client.post("/api/auth/wallets", body, format="json").status_code == 201

        print()
        header = (
            f"{'added latency':>13} | {'EVM ms':>7} | {'Starknet ms':>11} | {'Bitcoin ms':>10} | {'all three ms':>12}"
        )
        print(header + " | ratio")
        for delay in (0.0, 0.05):
            urls = direct
            if delay:
                # In processes of their own: the latency is the network's, not a thread competing with the app.
                proxies[:] = [start_delay_proxy(url, delay) for url in direct.values()]
                urls = dict(zip(direct, (url for _, url in proxies), strict=True))
            figures = {}
            for keys_ in (("local",), ("starknet",), ("bitcoin",), ("local", "starknet", "bitcoin")):
                configure(urls, keys_)
                response = client.get("/api/portfolio/balances/real")
                assert response.status_code == 200, response.content
                assert response.json()["errors"] == [], response.json()["errors"]
                figures[keys_] = timed(lambda: client.get("/api/portfolio/balances/real"), runs=15)
            singles = [figures[("local",)], figures[("starknet",)], figures[("bitcoin",)]]
            ratio = figures[("local", "starknet", "bitcoin")] / max(singles)
            print(
                f"{int(delay * 1000):>10} ms | {singles[0]:>7.1f} | {singles[1]:>11.1f} | {singles[2]:>10.1f} | "
                f"{figures[('local', 'starknet', 'bitcoin')]:>12.1f} | {ratio:.2f}x"
            )
            for proc, _ in proxies:
                proc.terminate()
        print("target: all three <= 1.3x the slowest single chain")
    finally:
        for proc in (anvil, starknet, esplora):
            proc.terminate()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--delay-proxy"]:
        DelayProxy(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))
        while True:
            time.sleep(3600)
    main()
    three_chains()
