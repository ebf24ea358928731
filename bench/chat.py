"""Benchmark: 1,000 concurrent live-chat websockets on one ASGI process, message round trips through Redis.

Run on demand: `.venv/bin/python bench/chat.py [--sessions 500] [--rate 200] [--seconds 15]`.
Database: with a PostgreSQL DATABASE_URL the script drops and recreates a database of its own on that server
(`engipay_bench_chat`, or BENCH_DATABASE_NAME); otherwise a temporary SQLite file. Redis: REDIS_URL, or the embedded
Redis (its own directory, stopped at the end if this run started it). It creates SESSIONS users and enough agents
(capacity 20 each, online) through the services, so every session is active with an agent; starts the real app
server (uvicorn, one process, DEBUG off) on a free port; opens SESSIONS user sockets and SESSIONS agent sockets on
`/api/support/chat/<id>` (2 x 500 = 1,000 by default) and checks that every one is held (`authenticated`, then
`history`). Then RATE messages per second, for SECONDS, each from a socket picked round robin over the 1,000;
it measures the sender's round trip (send -> its own echo) and the other party's delivery (send -> received),
prints p50/p90/p99/max, the server process's memory (VmRSS/VmHWM from /proc) and the targets (all 1,000 held,
round-trip p99 <= 50 ms), and exits 1 when any socket failed, closed, or a message was not delivered.
Client, server, Redis and the database share this machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
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
TARGET_P99_MS = 50
AGENT_CAPACITY = 20
CONNECT_CONCURRENCY = 50


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=TARGET_SOCKETS // 2, help="chat sessions (2 sockets each)")
    parser.add_argument("--rate", type=int, default=100, help="messages per second, all sockets together")
    parser.add_argument("--seconds", type=int, default=15, help="how long to send")
    return parser.parse_args()


# --- data -----------------------------------------------------------------------------------------------------


def make_sessions(count: int) -> list[dict[str, str]]:
    """``count`` users, each with an active session and its agent; their access tokens."""
    from django.contrib.auth.models import Permission

    from apps.accounts.models import User
    from apps.accounts.services.tokens import tokens_issue
    from apps.support.services import chat as services

    permission = Permission.objects.get(codename="change_chatsession")
    agents = []
    for index in range(math.ceil(count / AGENT_CAPACITY)):
        agent = User.objects.create_user(email=f"agent{index}@bench.invalid", first_name=f"Agent {index}")
        agent.is_staff = True
        agent.save(update_fields=["is_staff"])
        agent.user_permissions.add(permission)
        services.agent_set_capacity(agent=agent, capacity=AGENT_CAPACITY)
        services.agent_set_status(agent=agent, status="online")
        agents.append((agent, tokens_issue(user=agent)["token"]))
    tokens = {agent.pk: token for agent, token in agents}
    rows = []
    for index in range(count):
        user = User.objects.create_user(first_name=f"User {index}")
        session, _ = services.chat_session_create(
            user=user, initial_message=f"bench chat {index}", user_context={"current_page": "/bench"}
        )
        if session.status != "active":
            raise RuntimeError(f"session {index} was not assigned ({session.status})")
        rows.append(
            {
                "session": session.id,
                "user_token": tokens_issue(user=user)["token"],
                "agent_token": tokens[session.agent_id],
            }
        )
    return rows


# --- server ---------------------------------------------------------------------------------------------------


# --- clients --------------------------------------------------------------------------------------------------


class Party:
    """One socket: a session's user or its agent."""

    def __init__(self, index: int, session: str, role: str, token: str) -> None:
        self.index, self.session, self.role, self.token = index, session, role, token
        self.ws = None
        self.held = False
        self.error: str | None = None
        self.peer: Party | None = None


class Bench:
    def __init__(self, port: int, rows: list[dict[str, str]]) -> None:
        self.port = port
        self.parties: list[Party] = []
        for index, row in enumerate(rows):
            user = Party(2 * index, row["session"], "user", row["user_token"])
            agent = Party(2 * index + 1, row["session"], "agent", row["agent_token"])
            user.peer, agent.peer = agent, user
            self.parties += [user, agent]
        self.sent: dict[str, float] = {}
        self.echo_ms: list[float] = []
        self.delivery_ms: list[float] = []
        self.echoed: set[str] = set()
        self.delivered: set[str] = set()
        self.unexpected: list[str] = []

    async def connect(self, party: Party, gate: asyncio.Semaphore) -> None:
        from websockets.asyncio.client import connect

        url = f"ws://127.0.0.1:{self.port}/api/support/chat/{party.session}?token={party.token}"
        async with gate:
            try:
                party.ws = await connect(url, open_timeout=60, max_queue=None, ping_interval=None)
                first = json.loads(await asyncio.wait_for(party.ws.recv(), 60))
                second = json.loads(await asyncio.wait_for(party.ws.recv(), 60))
            except Exception as exc:
                party.error = f"connect: {type(exc).__name__}: {exc}"
                return
        greeting = (first.get("type"), second.get("type"), second.get("session", {}).get("status"))
        if greeting == ("authenticated", "history", "active"):
            party.held = True
        else:
            party.error = f"unexpected greeting {greeting}"

    async def listen(self, party: Party) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for raw in party.ws:
                received = time.perf_counter()
                event = json.loads(raw)
                if event.get("type") != "message":
                    continue
                key = event["message"]["body"]
                started = self.sent.get(key)
                if started is None:
                    continue
                if key.startswith(f"{party.index}:"):
                    self.echo_ms.append((received - started) * 1000)
                    self.echoed.add(key)
                elif key.startswith(f"{party.peer.index}:"):
                    self.delivery_ms.append((received - started) * 1000)
                    self.delivered.add(key)
                else:
                    self.unexpected.append(key)
        except ConnectionClosed as exc:
            party.held = False
            party.error = party.error or f"closed: {exc}"

    async def send_load(self, rate: int, seconds: int) -> int:
        total = rate * seconds
        started = time.perf_counter()
        held = [p for p in self.parties if p.held]
        for n in range(total):
            # Steady pacing: message n leaves at n / rate seconds, from the sockets in turn.
            delay = started + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            party = held[(n * 7919) % len(held)]
            key = f"{party.index}:{n}"
            self.sent[key] = time.perf_counter()
            try:
                await party.ws.send(json.dumps({"type": "message", "body": key}))
            except Exception as exc:
                party.error = f"send: {type(exc).__name__}"
        return total


async def run(port: int, rows: list[dict[str, str]], rate: int, seconds: int) -> tuple[Bench, float, int]:
    bench = Bench(port, rows)
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    started = time.perf_counter()
    await asyncio.gather(*(bench.connect(p, gate) for p in bench.parties))
    connect_seconds = time.perf_counter() - started
    listeners = [asyncio.create_task(bench.listen(p)) for p in bench.parties if p.ws is not None]
    held = sum(p.held for p in bench.parties)
    print(f"sockets: {held}/{len(bench.parties)} held (authenticated + history) after {connect_seconds:.1f} s")
    if held:
        await bench.send_load(rate, seconds)
        deadline = time.perf_counter() + 10
        while time.perf_counter() < deadline and (
            len(bench.echoed) < len(bench.sent) or len(bench.delivered) < len(bench.sent)
        ):
            await asyncio.sleep(0.1)
    held_after = sum(p.held for p in bench.parties)
    for party in bench.parties:
        if party.ws is not None:
            await party.ws.close()
    for task in listeners:
        task.cancel()
    return bench, connect_seconds, held_after


def main() -> None:
    args = parse_args()
    files = raise_open_files_limit()
    # The bench's own pacing stays far below the per-socket chat limit; raise it anyway so that it never interferes.
    description = configure_environment(
        "chat", {"SUPPORT_CHAT_MESSAGES_PER_MINUTE": "6000", "SUPPORT_CHAT_MESSAGE_BURST": "100"}
    )

    redis_was_running = platform_prepare(description)
    made = time.perf_counter()
    rows = make_sessions(args.sessions)
    print(
        f"data: {len(rows)} users with an active chat, {math.ceil(len(rows) / AGENT_CAPACITY)} agents "
        f"(capacity {AGENT_CAPACITY}, online), made through the services in {time.perf_counter() - made:.1f} s"
    )
    print(f"machine: {os.cpu_count()} CPU core(s) shared by server, Redis, database and client; open files {files}")
    log = Path(tempfile.mkdtemp()) / "server.log"
    server, port = start_server(log)
    print(f"server: uvicorn, 1 process (pid {server.pid}), websockets implementation, DEBUG off, log {log}")
    try:
        idle = memory(server.pid)
        bench, _, held_after = asyncio.run(run(port, rows, args.rate, args.seconds))
        loaded = memory(server.pid)
    finally:
        platform_stop(server, redis_was_running)
    report(bench, args, held_after, idle, loaded)


def report(bench: Bench, args: argparse.Namespace, held_after: int, idle: dict, loaded: dict) -> None:
    sockets = len(bench.parties)
    sent = len(bench.sent)
    print(f"load: {sent} messages at {args.rate}/s for {args.seconds} s, round robin over the held sockets")
    print(f"round trip (send -> own echo): {summary(bench.echo_ms)}")
    print(f"delivery to the other party: {summary(bench.delivery_ms)}")
    print(f"server memory: idle {idle.get('VmRSS')}, with {sockets} sockets after the load {loaded.get('VmRSS')}, "
          f"peak {loaded.get('VmHWM')}, threads {loaded.get('Threads')}")  # fmt: skip
    missing_echo, missing_delivery = sent - len(bench.echoed), sent - len(bench.delivered)
    p99 = percentile(sorted(bench.echo_ms), 0.99)
    held_ok = held_after == sockets == TARGET_SOCKETS
    print(
        f"targets: all {TARGET_SOCKETS} sockets held: {'met' if held_ok else 'NOT met'} ({held_after}/{sockets}); "
        f"round-trip p99 <= {TARGET_P99_MS} ms: {'met' if p99 <= TARGET_P99_MS else 'NOT met'} ({p99:.1f} ms)"
    )
    errors = [p.error for p in bench.parties if p.error]
    if missing_echo or missing_delivery or bench.unexpected:
        errors.append(
            f"{missing_echo} echoes and {missing_delivery} deliveries missing, "
            f"{len(bench.unexpected)} messages at the wrong socket"
        )
    if errors or held_after != sockets:
        print(f"errors: {len(errors)} (first 5):", *errors[:5], sep="\n  ")
        sys.exit(1)


if __name__ == "__main__":
    main()
