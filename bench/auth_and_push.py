"""Benchmark: wallet sign-in through the API, and notify() → websocket delivery through Redis.

Run on demand: `.venv/bin/python bench/auth_and_push.py [N]`. Uses a throwaway SQLite database (or the
DATABASE_URL you set) and the configured/embedded Redis; prints latency percentiles. Not part of the test suite.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
if not os.environ.get("DATABASE_URL"):
    os.environ["SQLITE_PATH"] = str(Path(tempfile.mkdtemp()) / "bench.sqlite3")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "engipay.settings")
os.environ.setdefault("CACHE_KEY_PREFIX", "engipay-bench")
os.environ.setdefault("THROTTLE_AUTH_IP", "100000/min")
os.environ.setdefault("THROTTLE_NONCE", "100000/min")

import django  # noqa: E402

django.setup()

from channels.db import database_sync_to_async  # noqa: E402
from channels.testing import WebsocketCommunicator  # noqa: E402
from django.core.management import call_command  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from engipay.bootstrap import prepare  # noqa: E402
from tests.helpers import Signer, wallet_sign_in  # noqa: E402


def percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
    return f"n={len(ms)} p50={p(0.50):.1f}ms p95={p(0.95):.1f}ms p99={p(0.99):.1f}ms mean={statistics.mean(ms):.1f}ms"


def bench_sign_in(n: int) -> list[float]:
    samples = []
    for _ in range(n):
        client, signer = APIClient(), Signer()
        started = time.perf_counter()
        wallet_sign_in(client, signer)  # GET nonce + POST wallet-connect (SIWE parse, ecrecover, user create)
        samples.append(time.perf_counter() - started)
    return samples


async def bench_push(n: int) -> list[float]:
    from apps.accounts.models import User
    from apps.accounts.services import tokens_issue
    from apps.notifications.services import notify
    from engipay.asgi import application

    user = await database_sync_to_async(User.objects.create_user)()
    token = (await database_sync_to_async(tokens_issue)(user=user))["token"]
    socket = WebsocketCommunicator(application, f"/ws/notifications/?token={token}")
    await socket.connect()
    await socket.receive_json_from(timeout=5)
    samples = []
    for i in range(n):
        started = time.perf_counter()
        await database_sync_to_async(notify)(user=user, kind="bench", title=f"n{i}")
        await socket.receive_json_from(timeout=5)
        samples.append(time.perf_counter() - started)
    await socket.disconnect()
    return samples


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    prepare()
    call_command("migrate", verbosity=0)
    print(f"database: {django.db.connection.vendor}")
    print("wallet sign-in (nonce + SIWE wallet-connect):", percentiles(bench_sign_in(n)))
    print("notify() -> websocket delivery:", percentiles(asyncio.run(bench_push(n))))


if __name__ == "__main__":
    main()
