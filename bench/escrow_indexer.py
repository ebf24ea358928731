"""Benchmark: the escrow indexer (`escrow_index`) from scratch over 5,000 contract events (target >= 1,000 events/s).

Run on demand: `.venv/bin/python bench/escrow_indexer.py [--events 5000] [--per-block 500] [--batch-blocks N]`.
Database: with a PostgreSQL DATABASE_URL the script drops and recreates a database of its own on that server
(`engipay_bench_escrow_indexer`, or BENCH_DATABASE_NAME); otherwise a temporary SQLite file. Redis: REDIS_URL, or
the embedded Redis. Chain: a fresh anvil of its own on a free port (block gas limit raised so that one block holds
hundreds of transactions), the contract deployed by the real `escrow_deploy` service with a dev key.

Data: EVENTS / 2 escrows created with signed `createEth` transactions from four dev accounts to four others, then
accepted by their recipients (EVENTS events in all), PER_BLOCK transactions a block, a few empty blocks between.
Half the escrows exist beforehand as the API leaves them (`awaiting_signature`, a submitted create action, a sender
user), so both paths run: rows found on chain are inserted, API rows are updated and their actions closed.

Printed, each timed around the real service call:
  1. the index from scratch as a catch-up (events older than ESCROW_NOTIFY_MAX_AGE_SECONDS: no notifications),
  2. a re-run that finds nothing new (the no-op cost of a head hook),
  3. a rewind of everything (what a redeploy or a reorg below every stored block costs),
  4. the index from scratch again with notifications on (one in-app notify() per event of an API escrow).
The target applies to (1). Exits 1 if the projection is not what the chain holds.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._support import ANVIL, configure_environment, start_anvil  # noqa: E402 - after the path is set
from bench._support import DEV_MNEMONIC as MNEMONIC  # noqa: E402

TARGET_EVENTS_PER_SECOND = 1000
SENDERS, RECIPIENTS, OPERATOR = (0, 1, 2, 3), (4, 5, 6, 7), 8
GAS_CREATE, GAS_ACCEPT = 250_000, 120_000
MAX_FEE = 100 * 10**9


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000, help="contract events to index (half creates)")
    parser.add_argument("--per-block", type=int, default=500, help="transactions mined per block")
    parser.add_argument("--batch-blocks", type=int, default=None, help="ESCROW_INDEX_BATCH_BLOCKS (default: setting)")
    return parser.parse_args()


# --- chain --------------------------------------------------------------------------------------------------


class Node:
    def __init__(self, url: str) -> None:
        import httpx

        self.http = httpx.Client(base_url=url, timeout=120)

    def call(self, method: str, params: list) -> object:
        reply = self.http.post("", json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).json()
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def send_all(self, raw: list[str]) -> None:
        batch = [
            {"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [tx]} for i, tx in enumerate(raw)
        ]
        errors = [r["error"] for r in self.http.post("", json=batch).json() if "error" in r]
        if errors:
            raise RuntimeError(f"{len(errors)} transaction(s) refused, first: {errors[0]}")


def signed(account, nonce: int, to: str, data: bytes, value: int, gas: int) -> str:
    tx = {
        "type": 2,
        "chainId": 31337,
        "nonce": nonce,
        "to": to,
        "value": value,
        "data": data,
        "gas": gas,
        "maxFeePerGas": MAX_FEE,
        "maxPriorityFeePerGas": 1,
    }
    return "0x" + account.sign_transaction(tx).raw_transaction.hex().removeprefix("0x")


def mine_in_blocks(node: Node, raw: list[str], per_block: int) -> int:
    """Send ``raw`` (nonce-ordered per sender) ``per_block`` at a time, mining one block after each chunk and a few
    empty ones between; returns the blocks mined."""
    blocks = 0
    for start in range(0, len(raw), per_block):
        node.send_all(raw[start : start + per_block])
        node.call("evm_mine", [])
        node.call("anvil_mine", [hex(3)])
        blocks += 4
        pending = node.call("txpool_status", [])["pending"]
        if int(pending, 16):
            raise RuntimeError(f"{int(pending, 16)} transaction(s) did not fit in the block")
    return blocks


def generate(node: Node, deployment, escrows: int, per_block: int) -> tuple[list[dict], int]:
    """Create ``escrows`` escrows on chain, then accept them all; returns their terms and the blocks mined."""
    from apps.chains.devchain import dev_account
    from apps.escrow.chain import calldata, escrow_id, id_bytes, memo_hash

    node.call("evm_setAutomine", [False])  # blocks hold exactly the chunks mine_in_blocks sends
    senders = [dev_account(i) for i in SENDERS]
    recipients = [dev_account(i) for i in RECIPIENTS]
    nonces = {
        a.address: int(node.call("eth_getTransactionCount", [a.address, "pending"]), 16) for a in senders + recipients
    }
    expires = int(node.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16) + 86_400
    memo = bytes.fromhex(memo_hash("")[2:])
    terms, creates = [], []
    for i in range(escrows):
        sender, recipient = senders[i % len(senders)], recipients[i % len(recipients)]
        salt = secrets.token_bytes(32)
        amount = 10**15 + i
        data = calldata("createEth", salt, recipient.address, expires, memo, True, "0x" + "00" * 20)
        creates.append(signed(sender, nonces[sender.address], deployment.address, data, amount, GAS_CREATE))
        nonces[sender.address] += 1
        terms.append(
            {
                "id": escrow_id(sender.address, salt),
                "salt": "0x" + salt.hex(),
                "sender": sender.address,
                "recipient": recipient.address,
                "amount": amount,
                "expires": expires,
            }
        )
    blocks = mine_in_blocks(node, creates, per_block)
    accepts = []
    for i, term in enumerate(terms):
        recipient = recipients[i % len(recipients)]
        data = calldata("accept", id_bytes(term["id"]))
        accepts.append(signed(recipient, nonces[recipient.address], deployment.address, data, 0, GAS_ACCEPT))
        nonces[recipient.address] += 1
    blocks += mine_in_blocks(node, accepts, per_block)
    node.call("evm_setAutomine", [True])
    return terms, blocks


def api_rows(deployment, terms: list[dict]) -> int:
    """Every other escrow as the API leaves it before the wallet signs: awaiting_signature, create submitted."""
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from django.utils import timezone

    from apps.accounts.models import User
    from apps.chains.models import Token
    from apps.escrow.chain import memo_hash
    from apps.escrow.models import Escrow, EscrowAction

    user = User.objects.create(email="sender@bench.invalid")
    eth = Token.objects.get(symbol="ETH")
    rows = [
        Escrow(
            deployment=deployment,
            onchain_id=t["id"],
            salt=t["salt"],
            sender=user,
            sender_address=t["sender"],
            recipient_address=t["recipient"],
            token=eth,
            token_address="0x" + "00" * 20,
            decimals=18,
            amount_base=Decimal(t["amount"]),
            memo="",
            memo_hash=memo_hash(""),
            require_confirmation=True,
            expires_at=datetime.fromtimestamp(t["expires"], tz=UTC),
        )
        for t in terms[::2]
    ]
    Escrow.objects.bulk_create(rows)
    until = timezone.now() + timedelta(hours=1)
    EscrowAction.objects.bulk_create(
        [
            EscrowAction(
                escrow=row,
                kind="create",
                status="submitted",
                user=user,
                signer_address=row.sender_address,
                prepared_until=until,
            )
            for row in rows
        ]
    )
    return len(rows)


# --- measurement --------------------------------------------------------------------------------------------


def timed(fn):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - started
    return result, seconds, len(queries)


def check(terms: list[dict], events: int) -> list[str]:
    from apps.escrow.models import Escrow, EscrowAction, EscrowEvent

    problems = []
    if EscrowEvent.objects.count() != events:
        problems.append(f"{EscrowEvent.objects.count()} events stored, {events} on chain")
    statuses = dict(Escrow.objects.values_list("onchain_id", "status"))
    wrong = [t["id"] for t in terms if statuses.get(t["id"]) != "accepted"]
    if wrong or len(statuses) != len(terms):
        problems.append(f"{len(wrong)} escrow(s) not accepted, {len(statuses)} rows for {len(terms)} escrows")
    if EscrowAction.objects.exclude(status="done").exists():
        problems.append("create actions left open")
    return problems


def main() -> None:
    args = parse_args()
    if not ANVIL.exists():
        sys.exit(f"anvil not found at {ANVIL}: run `npm ci`.")
    anvil, url = start_anvil("--gas-limit", "3000000000", "--no-request-size-limit")
    chains = {"local": {"kind": "evm", "name": "Bench anvil", "chain_id": 31337, "rpc_urls": [url], "confirmations": 1}}
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    operator = Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{OPERATOR}")
    extra = {
        "CHAINS_JSON": json.dumps(chains),
        "ESCROW_OPERATOR_PRIVATE_KEY": operator.key.hex(),
        "CELERY_QUEUE": f"engipay-bench-escrow-{os.getpid()}",
    }
    if args.batch_blocks:
        extra["ESCROW_INDEX_BATCH_BLOCKS"] = str(args.batch_blocks)
    description = configure_environment("escrow_indexer", extra)
    try:
        run(args, description, url)
    finally:
        anvil.terminate()
        anvil.wait(10)


def run(args: argparse.Namespace, description: str, url: str) -> None:
    import django

    django.setup()
    from django.conf import settings

    from engipay import embedded_redis
    from engipay.bootstrap import prepare

    redis_was_running = settings.REDIS_EMBEDDED and embedded_redis._alive(
        embedded_redis.socket_path(settings.EMBEDDED_REDIS_DIR)
    )
    prepare()
    try:
        problems = measure(args, description, url)
    finally:
        from engipay.celery import app

        app.control.purge()
        if settings.REDIS_EMBEDDED and not redis_was_running:
            embedded_redis.stop(settings.EMBEDDED_REDIS_DIR)
    if problems:
        print("errors:", *problems, sep="\n  ")
        sys.exit(1)


def measure(args: argparse.Namespace, description: str, url: str) -> list[str]:
    from django.conf import settings
    from django.core.management import call_command
    from django.db import transaction

    from apps.chains.models import NATIVE_ADDRESS, Token, TokenDeployment
    from apps.escrow.models import EscrowDeployment
    from apps.escrow.services import deploy, indexer
    from apps.notifications.models import Notification

    call_command("migrate", verbosity=0)
    print(f"database: {description}")
    print(f"redis: {'embedded (' + str(settings.EMBEDDED_REDIS_DIR) + ')' if settings.REDIS_EMBEDDED else 'REDIS_URL'}")
    eth, _ = Token.objects.get_or_create(symbol="ETH", defaults={"name": "Ethereum"})
    TokenDeployment.objects.create(chain="local", token=eth, address=NATIVE_ADDRESS, decimals=18, is_native=True)
    deployment, _ = deploy.escrow_deploy(network="local")
    node = Node(url)
    escrows = args.events // 2
    started = time.perf_counter()
    terms, blocks = generate(node, deployment, escrows, args.per_block)
    print(
        f"chain: anvil {url}, {escrows} escrows created and accepted ({2 * escrows} events) in {blocks} blocks "
        f"({args.per_block} tx a block) in {time.perf_counter() - started:.1f} s"
    )
    print(f"rows: {api_rows(deployment, terms)} escrows made beforehand as the API would (sender user, create action)")
    print(
        f"machine: {os.cpu_count()} CPU core(s) shared by anvil, the indexer and the database; "
        f"batch {settings.ESCROW_INDEX_BATCH_BLOCKS} blocks"
    )
    time.sleep(1.1)  # every event is now older than a max age of 0 s

    settings.ESCROW_NOTIFY_MAX_AGE_SECONDS = 0
    result, seconds, queries = timed(lambda: indexer.escrow_index(network="local"))
    rate = result.events / seconds
    print(
        f"1. index from scratch (catch-up, no notifications): {result.events} events, blocks "
        f"{result.from_block}-{result.to_block}, {seconds:.2f} s, {rate:,.0f} events/s, {queries} queries"
    )
    problems = check(terms, 2 * escrows)

    again, seconds, queries = timed(lambda: indexer.escrow_index(network="local"))
    print(f"2. re-run, nothing new: {again.events} events, {seconds * 1000:.1f} ms, {queries} queries")

    def rewind() -> None:
        with transaction.atomic():
            locked = EscrowDeployment.objects.select_for_update().get(pk=deployment.pk)
            indexer.escrow_index_rewind(deployment=locked, block=locked.deployed_block - 1)

    _, seconds, queries = timed(rewind)
    print(
        f"3. rewind of everything: {2 * escrows} events dropped, {escrows // 2} chain rows deleted, "
        f"{escrows - escrows // 2} API rows reset, {seconds:.2f} s, {queries} queries"
    )

    settings.ESCROW_NOTIFY_MAX_AGE_SECONDS = 10**9
    result2, seconds2, queries = timed(lambda: indexer.escrow_index(network="local"))
    notices = Notification.objects.filter(kind__startswith="escrow_").count()
    print(
        f"4. index from scratch with notifications: {result2.events} events, {notices} notifications, "
        f"{seconds2:.2f} s, {result2.events / seconds2:,.0f} events/s, {queries} queries"
    )
    problems += check(terms, 2 * escrows)
    met = rate >= TARGET_EVENTS_PER_SECOND and result.events >= 5000
    print(
        f"target: >= {TARGET_EVENTS_PER_SECOND:,} events/s over >= 5,000 events (1.): "
        f"{'met' if met else 'NOT met'} ({rate:,.0f} events/s over {result.events})"
    )
    return problems


if __name__ == "__main__":
    main()
