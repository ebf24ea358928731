"""Benchmark: in-app notification latency to 1,000 connected websocket clients (notify() -> the user's socket).

Run on demand: `.venv/bin/python bench/notify_fanout.py [--clients 1000] [--rounds 5] [--notifiers 1]`.
Database: with a PostgreSQL DATABASE_URL the script drops and recreates a database of its own on that server
(`engipay_bench_notify`, or BENCH_DATABASE_NAME); otherwise a temporary SQLite file. Redis: REDIS_URL, or the
embedded Redis. It creates CLIENTS users (with a verified email each, so that every notify() also plans an email
delivery, as in production), starts the real app server (uvicorn, one process, DEBUG off), opens one socket per
user on `/ws/notifications/?token=…` and checks every one is held (`authenticated`). Then ROUNDS rounds of a
fan-out: a separate driver process (the way a Celery worker would) calls the real `notify()` for every user, each
in its own transaction, stamping the notification's data with the monotonic clock just before the call. The
client records when each socket receives it; latency = receipt - stamp (the caller's insert, commit, channel-layer
send, the server's consumer and the socket write). Printed: per-notification p50/p90/p99/max, each round's
fan-out time (first notify() to the last socket), the driver's rate, the server's memory, and the target
(p99 <= 100 ms). Exits 1 when a socket failed or a notification did not arrive at its user's socket, or arrived at
another. Client, driver, server, Redis and the database share this machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._support import (  # noqa: E402 - after the path is set
    configure_environment,
    memory,
    percentile,
    platform_prepare,
    platform_stop,
    raise_open_files_limit,
    start_server,
    summary,
)

TARGET_SOCKETS = 1000
TARGET_P99_MS = 100
CONNECT_CONCURRENCY = 50


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=TARGET_SOCKETS, help="users, one socket each")
    parser.add_argument("--rounds", type=int, default=5, help="fan-outs: each notifies every user once")
    parser.add_argument("--notifiers", type=int, default=1, help="driver processes calling notify() in parallel")
    parser.add_argument("--driver", help=argparse.SUPPRESS)  # internal: run as a driver over this id file
    parser.add_argument("--round", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args()


# --- data -----------------------------------------------------------------------------------------------------


def make_users(count: int) -> list[tuple[str, str]]:
    """``count`` users with a verified email; (user id, access token) each."""
    from apps.accounts.models import User
    from apps.accounts.services.tokens import tokens_issue

    users = User.objects.bulk_create(
        [User(email=f"user{index}@bench.invalid", is_email_verified=True) for index in range(count)]
    )
    return [(str(user.pk), tokens_issue(user=user)["token"]) for user in users]


# --- driver (a separate process, like a worker) ----------------------------------------------------------------


def drive(id_file: str, round_number: int) -> None:
    """Notify every user listed in ``id_file``; print how long it took."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from apps.notifications.services import notify

    ids = json.loads(Path(id_file).read_text())
    users = {str(u.pk): u for u in get_user_model().objects.filter(pk__in=ids)}
    started = time.perf_counter()
    for user_id in ids:
        stamp = time.monotonic_ns()
        with transaction.atomic():
            notify(
                user=users[user_id],
                kind="price_alert",
                title="ETH crossed 3,000 USD",
                message="Bench fan-out",
                data={"bench_round": round_number, "bench_user": user_id, "bench_sent_ns": str(stamp)},
            )
    print(json.dumps({"seconds": time.perf_counter() - started, "count": len(ids)}), flush=True)


# --- client ---------------------------------------------------------------------------------------------------


class Client:
    def __init__(self, user_id: str, token: str) -> None:
        self.user_id, self.token = user_id, token
        self.ws = None
        self.held = False
        self.error: str | None = None


class Bench:
    def __init__(self, port: int, users: list[tuple[str, str]]) -> None:
        self.port = port
        self.clients = [Client(user_id, token) for user_id, token in users]
        self.latency_ms: list[float] = []
        self.received: dict[int, int] = {}  # round -> notifications received at the right socket
        self.last_receipt_ns: dict[int, int] = {}
        self.first_stamp_ns: dict[int, int] = {}
        self.wrong_socket = 0

    async def connect(self, client: Client, gate: asyncio.Semaphore) -> None:
        from websockets.asyncio.client import connect

        url = f"ws://127.0.0.1:{self.port}/ws/notifications/?token={client.token}"
        async with gate:
            try:
                client.ws = await connect(url, open_timeout=60, max_queue=None, ping_interval=None)
                hello = json.loads(await asyncio.wait_for(client.ws.recv(), 60))
            except Exception as exc:
                client.error = f"connect: {type(exc).__name__}: {exc}"
                return
        if hello.get("type") == "authenticated" and hello.get("user_id") == client.user_id:
            client.held = True
        else:
            client.error = f"unexpected greeting {hello}"

    async def listen(self, client: Client) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for raw in client.ws:
                received = time.monotonic_ns()
                event = json.loads(raw)
                if event.get("type") != "notification":
                    continue
                data = event["notification"].get("data") or {}
                if data.get("bench_user") != client.user_id:
                    self.wrong_socket += 1
                    continue
                self.latency_ms.append((received - int(data["bench_sent_ns"])) / 1e6)
                round_number = data["bench_round"]
                self.received[round_number] = self.received.get(round_number, 0) + 1
                self.last_receipt_ns[round_number] = max(self.last_receipt_ns.get(round_number, 0), received)
                stamp = int(data["bench_sent_ns"])
                self.first_stamp_ns[round_number] = min(self.first_stamp_ns.get(round_number, stamp), stamp)
        except ConnectionClosed as exc:
            client.held = False
            client.error = client.error or f"closed: {exc}"


async def run_round(bench: Bench, round_number: int, notifiers: int, workdir: Path) -> dict:
    held = [c.user_id for c in bench.clients if c.held]
    shares = [held[i::notifiers] for i in range(notifiers)]
    procs = []
    for index, share in enumerate(shares):
        id_file = workdir / f"round{round_number}-{index}.json"
        id_file.write_text(json.dumps(share))
        procs.append(
            await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--driver", str(id_file), "--round", str(round_number),
                cwd=ROOT, env=os.environ.copy(), stdout=asyncio.subprocess.PIPE,
            )
        )  # fmt: skip
    outputs = [json.loads((await proc.communicate())[0].decode().strip().splitlines()[-1]) for proc in procs]
    deadline = time.monotonic() + 10
    while bench.received.get(round_number, 0) < len(held) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    driver_seconds = max(out["seconds"] for out in outputs)
    first = bench.first_stamp_ns.get(round_number, 0)
    last = bench.last_receipt_ns.get(round_number, first)
    return {
        "round": round_number,
        "sent": sum(out["count"] for out in outputs),
        "received": bench.received.get(round_number, 0),
        "driver_rate": sum(out["count"] for out in outputs) / driver_seconds if driver_seconds else 0.0,
        # From the round's first notify() call to the last socket served.
        "fanout_seconds": (last - first) / 1e9,
    }


async def run(port: int, users: list[tuple[str, str]], rounds: int, notifiers: int) -> tuple[Bench, list[dict]]:
    bench = Bench(port, users)
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    started = time.perf_counter()
    await asyncio.gather(*(bench.connect(c, gate) for c in bench.clients))
    held = sum(c.held for c in bench.clients)
    print(f"sockets: {held}/{len(bench.clients)} held (authenticated) after {time.perf_counter() - started:.1f} s")
    listeners = [asyncio.create_task(bench.listen(c)) for c in bench.clients if c.ws is not None]
    results = []
    workdir = Path(tempfile.mkdtemp())
    if held:
        for round_number in range(1, rounds + 1):
            result = await run_round(bench, round_number, notifiers, workdir)
            results.append(result)
            print(
                f"round {round_number}: {result['received']}/{result['sent']} delivered; driver "
                f"{result['driver_rate']:.0f} notify()/s; fan-out done in {result['fanout_seconds']:.2f} s"
            )
            await asyncio.sleep(0.5)
    for client in bench.clients:
        if client.ws is not None:
            await client.ws.close()
    for task in listeners:
        task.cancel()
    return bench, results


def main() -> None:
    args = parse_args()
    if args.driver:
        drive(args.driver, args.round)
        return
    files = raise_open_files_limit()
    # The email deliveries notify() plans go to a queue of the bench's own (no worker reads it; purged at the end).
    description = configure_environment(
        "notify", {"DB_CONN_MAX_AGE": "600", "CELERY_QUEUE": f"engipay-bench-notify-{os.getpid()}"}
    )

    redis_was_running = platform_prepare(description)
    users = make_users(args.clients)
    print(f"data: {len(users)} users with a verified email (each notify() also plans an email delivery)")
    print(f"machine: {os.cpu_count()} CPU core(s) shared by server, drivers, Redis, database and client; "
          f"open files {files}")  # fmt: skip
    log = Path(tempfile.mkdtemp()) / "server.log"
    server, port = start_server(log)
    print(f"server: uvicorn, 1 process (pid {server.pid}), websockets implementation, DEBUG off, log {log}")
    try:
        idle = memory(server.pid)
        bench, results = asyncio.run(run(port, users, args.rounds, args.notifiers))
        loaded = memory(server.pid)
    finally:
        from engipay.celery import app

        app.control.purge()
        platform_stop(server, redis_was_running)
    report(bench, results, args, idle, loaded)


def report(bench: Bench, results: list[dict], args: argparse.Namespace, idle: dict, loaded: dict) -> None:
    sockets = len(bench.clients)
    held = sum(c.held for c in bench.clients)
    sent = sum(r["sent"] for r in results)
    received = sum(r["received"] for r in results)
    print(f"load: {len(results)} fan-out rounds x {held} users, {args.notifiers} driver process(es)")
    print(f"latency notify() -> socket: {summary(bench.latency_ms)}")
    print(f"server memory: idle {idle.get('VmRSS')}, with {sockets} sockets {loaded.get('VmRSS')}, "
          f"peak {loaded.get('VmHWM')}")  # fmt: skip
    p99 = percentile(sorted(bench.latency_ms), 0.99)
    print(
        f"targets: {TARGET_SOCKETS} sockets held: {'met' if held == sockets == TARGET_SOCKETS else 'NOT met'} "
        f"({held}/{sockets}); p99 <= {TARGET_P99_MS} ms: {'met' if p99 <= TARGET_P99_MS else 'NOT met'} ({p99:.1f} ms)"
    )
    errors = [c.error for c in bench.clients if c.error]
    if received != sent or bench.wrong_socket:
        errors.append(f"{sent - received} notifications not delivered, {bench.wrong_socket} at the wrong socket")
    if errors or held != sockets:
        print(f"errors: {len(errors)} (first 5):", *errors[:5], sep="\n  ")
        sys.exit(1)


if __name__ == "__main__":
    main()
