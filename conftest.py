"""Shared fixtures: real Redis, a real anvil node, a real Celery worker; users signed in through the API."""

from __future__ import annotations

import email
import email.policy
import io
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from rest_framework.test import APIClient

from engipay.bootstrap import prepare
from tests.helpers import Party, Signer, wallet_sign_in

if TYPE_CHECKING:
    from tests.doubles.chainalysis import ChainalysisDouble

pytest_plugins = ["tests.doubles.starknet_fixtures", "tests.doubles.esplora_fixtures"]

ROOT = Path(__file__).resolve().parent
ANVIL = ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


def _embedded_redis_running() -> bool:
    from django.conf import settings

    from engipay import embedded_redis

    return settings.REDIS_EMBEDDED and embedded_redis._alive(embedded_redis.socket_path(settings.EMBEDDED_REDIS_DIR))


_REDIS_WAS_RUNNING = _embedded_redis_running()
prepare()  # embedded Redis when REDIS_URL is unset


def pytest_unconfigure(config) -> None:
    """Stop the embedded Redis if this test run started it (no stray servers after `make test`)."""
    from django.conf import settings

    from engipay import embedded_redis

    if settings.REDIS_EMBEDDED and not _REDIS_WAS_RUNNING:
        embedded_redis.stop(settings.EMBEDDED_REDIS_DIR)


@pytest.fixture(scope="session", autouse=True)
def _no_stray_database_sessions(django_db_setup, django_db_blocker) -> Iterator[None]:
    """Async consumers run ORM code in worker threads whose connections outlive the tests; on PostgreSQL they
    would keep the test database from being dropped at the end. End them before pytest-django drops it."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def _isolated(settings) -> None:
    # Fast hashing in tests only; each test gets its own cache namespace (throttle counters start at zero).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"},
    }


@pytest.fixture(autouse=True)
def _fresh_channel_layer() -> Iterator[None]:
    """Each test gets its own channel layer object. The layer keeps per-event-loop state (a receive lock bound to
    the loop that first waited on it); a socket a test left open would otherwise leave that lock held for a loop
    that is gone, and break every later test's sockets."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def throttle_rates(monkeypatch) -> Callable[..., None]:
    """Tighten some throttle rates for one test (DRF reads them from a class attribute)."""
    from rest_framework.throttling import SimpleRateThrottle

    def set_rates(**rates: str) -> None:
        monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, **rates})

    return set_rates


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not come up within {timeout}s")


# --- Starknet and Bitcoin test doubles (tests/doubles) -------------------------------------------------------


@pytest.fixture
def starknet_chain(settings, db, starknet_node) -> str:
    """Add the session's Starknet double to ``CHAINS`` as ``starknet`` (SN_SEPOLIA) with its five tokens."""
    from django.core.management import call_command

    settings.CHAINS = {
        **settings.CHAINS,
        "starknet": {
            "kind": "starknet",
            "name": "Starknet (test double)",
            "chain_id": "SN_SEPOLIA",
            "rpc_urls": [starknet_node.url],
            "confirmations": 1,
        },
    }
    call_command(
        "chain_registry_load",
        ROOT / "fixtures/registry/starknet-sandbox.json",
        "--chain",
        "starknet",
        stdout=io.StringIO(),
    )
    return "starknet"


@pytest.fixture
def bitcoin_tokens(db, bitcoin_chain) -> str:
    """The ``bitcoin`` chain of the Esplora double, with BTC in the token registry."""
    from apps.chains.models import NATIVE_ADDRESS, Token, TokenDeployment

    token, _ = Token.objects.get_or_create(symbol="BTC", defaults={"name": "Bitcoin", "coingecko_id": "bitcoin"})
    TokenDeployment.objects.get_or_create(
        chain=bitcoin_chain, token=token, defaults={"address": NATIVE_ADDRESS, "decimals": 8, "is_native": True}
    )
    return bitcoin_chain


@pytest.fixture
def chainalysis(settings) -> Iterator[ChainalysisDouble]:
    """The Chainalysis-style sanctions screening API (a local double), configured with the key ``test-key``."""
    from tests.doubles.chainalysis import ChainalysisDouble

    with ChainalysisDouble(api_key="test-key") as double:
        settings.CHAINALYSIS_API_URL = double.url
        settings.CHAINALYSIS_API_KEY = "test-key"
        yield double


# --- anvil -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def anvil() -> Iterator[str]:
    """A real local EVM node (chain id 31337) on a free port for the whole session."""
    if not ANVIL.exists():
        pytest.fail(f"anvil not found at {ANVIL}: run `npm ci` (make test does it).")
    port = free_port()
    proc = subprocess.Popen(
        [
            str(ANVIL),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--chain-id",
            "31337",
            "--mnemonic",
            ANVIL_MNEMONIC,
            "--silent",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=1).is_success
        except httpx.HTTPError:
            return False

    try:
        _wait_for(up, 20, "anvil")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="session")
def anvil_w3(anvil):
    """web3 on the session's anvil, with Multicall3 at its canonical address."""
    from web3 import HTTPProvider, Web3

    from apps.chains.devchain import install_multicall3

    w3 = Web3(HTTPProvider(anvil, request_kwargs={"timeout": 30}))
    install_multicall3(w3)
    return w3


@pytest.fixture
def local_chain(settings, anvil, anvil_w3) -> str:
    """Point the ``local`` chain of ``CHAINS`` at the session's anvil (Multicall3 installed)."""
    settings.CHAINS = {
        "local": {"kind": "evm", "name": "Local anvil", "chain_id": 31337, "rpc_urls": [anvil], "confirmations": 1}
    }
    return anvil


@pytest.fixture
def rpc_recorder(settings, anvil, anvil_w3):
    """The ``local`` chain reached through a proxy that counts JSON-RPC calls (and can play an outage)."""
    from tests.rpc_recorder import RpcRecorder

    recorder = RpcRecorder(anvil)
    settings.CHAINS = {
        "local": {
            "kind": "evm",
            "name": "Local anvil",
            "chain_id": 31337,
            "rpc_urls": [recorder.url],
            "confirmations": 1,
        }
    }
    yield recorder
    recorder.close()


@pytest.fixture
def deploy_token(db, anvil_w3):
    """Deploy a real ERC-20 (DemoToken) on anvil, give ``holders`` their amounts, register it for ``local``."""
    from apps.chains import devchain
    from apps.chains.models import Token, TokenDeployment

    def deploy(symbol: str, decimals: int, holders: dict[str, int] | None = None, *, register: bool = True):
        deployer = devchain.dev_account(0)
        address = devchain.deploy(
            anvil_w3, "DemoToken", [f"{symbol} test", symbol, decimals, deployer.address, 10**30], deployer
        )
        contract = devchain.token_contract(anvil_w3, address)
        for holder, amount in (holders or {}).items():
            data = contract.functions.transfer(holder, amount).build_transaction(
                {"from": deployer.address, "gas": 100_000}
            )["data"]
            devchain.send(anvil_w3, deployer, {"to": address, "data": data, "gas": 100_000})
        if register:
            token, _ = Token.objects.get_or_create(symbol=symbol, defaults={"name": f"{symbol} test"})
            TokenDeployment.objects.update_or_create(
                chain="local", token=token, defaults={"address": address, "decimals": decimals}
            )
        return address

    return deploy


ETH = 10**18


@pytest.fixture
def party(db, anvil_w3) -> Callable[..., Party]:
    """``party(balance=…)``: a new user signed in with a wallet whose key the test holds, funded on anvil."""

    def make(*, balance: int = 100 * ETH) -> Party:
        from apps.accounts.models import User

        signer = Signer()
        auth = wallet_sign_in(APIClient(), signer)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {auth['token']}")
        anvil_w3.provider.make_request("anvil_setBalance", [signer.address, hex(balance)])
        user = User.objects.get(pk=auth["user"]["id"])
        user.auth = auth
        return Party(user=user, signer=signer, client=client, token=auth["token"])

    return make


@pytest.fixture
def mine(anvil_w3) -> Callable[[int], None]:
    def mine_blocks(count: int = 1) -> None:
        anvil_w3.provider.make_request("anvil_mine", [hex(count)])

    return mine_blocks


@pytest.fixture
def no_automine(anvil_w3, mine) -> Iterator[None]:
    """anvil stops mining on its own: a sent transaction waits in the mempool until the test mines a block."""
    anvil_w3.provider.make_request("evm_setAutomine", [False])
    try:
        yield
    finally:
        anvil_w3.provider.make_request("evm_setAutomine", [True])
        mine(1)  # nothing this test left in the mempool leaks into the next one


# --- Celery worker ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def mail_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mail")


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, mail_dir, anvil, anvil_w3) -> Iterator[None]:
    """A real ``celery worker`` process on the test database, the test Redis and the session's anvil (as the
    ``local`` chain, Multicall3 installed); its mail goes to files."""
    import json

    from django.conf import settings

    with django_db_blocker.unblock():
        env = _celery_env()
    env["CHAINS_JSON"] = json.dumps(
        {"local": {"kind": "evm", "name": "Local anvil", "chain_id": 31337, "rpc_urls": [anvil], "confirmations": 1}}
    )
    env["EMAIL_BACKEND"] = "django.core.mail.backends.filebased.EmailBackend"
    env["EMAIL_FILE_PATH"] = str(mail_dir)
    log = mail_dir.parent / "worker.log"
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "engipay",
        "worker",
        "--pool=solo",
        "--loglevel=INFO",
        "-Q",
        settings.CELERY_TASK_DEFAULT_QUEUE,
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-n",
        f"test-{uuid.uuid4().hex[:8]}@%h",
        f"--logfile={log}",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        _wait_for(lambda: log.exists() and " ready." in log.read_text(), 60, "celery worker")
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        if proc.returncode not in (0, -15):
            sys.stderr.write(log.read_text())


@pytest.fixture
def mailbox(celery_worker, mail_dir) -> Callable[..., list]:
    """Mail the worker sent during this test: ``mailbox(count)`` waits for ``count`` messages and returns them."""
    from engipay.celery import app

    app.control.purge()  # tasks queued by earlier tests that ran without a worker
    for old in mail_dir.iterdir():
        old.unlink()

    def messages() -> list:
        found = []
        for path in sorted(mail_dir.iterdir(), key=lambda p: p.stat().st_mtime):
            for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
                if chunk.strip():
                    found.append(email.message_from_bytes(chunk.lstrip(), policy=email.policy.default))
        return found

    def wait(count: int, timeout: float = 20) -> list:
        _wait_for(lambda: len(messages()) >= count, timeout, f"{count} email(s)")
        return messages()

    wait.now = messages
    return wait


def _celery_env() -> dict[str, str]:
    """The environment for a Celery process that works on this test run's database."""
    from django.db import connection

    env = dict(os.environ)
    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        env["SQLITE_PATH"] = str(name)
    else:
        env["DATABASE_URL"] = _database_url_with_name(env["DATABASE_URL"], name)
    return env


def _database_url_with_name(url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


# --- Users and clients -----------------------------------------------------------------------------------


@pytest.fixture
def signer() -> Signer:
    return Signer()


@pytest.fixture
def new_signer() -> Callable[[], Signer]:
    return Signer


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def make_user(db) -> Callable[[], object]:
    """A new wallet user signed in through the API; ``user.auth`` holds the response (token, refresh, user)."""
    from apps.accounts.models import User

    def make():
        auth = wallet_sign_in(APIClient(), Signer())
        user = User.objects.get(pk=auth["user"]["id"])
        user.auth = auth
        return user

    return make


@pytest.fixture
def alice(make_user):
    return make_user()


@pytest.fixture
def bob(make_user):
    return make_user()


@pytest.fixture
def api_client_for() -> Callable[..., APIClient]:
    def for_user(user) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {user.auth['token']}")
        return client

    return for_user
