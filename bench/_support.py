"""What the benchmarks share: a database and Redis of their own, the real app server, a fresh anvil, percentiles."""

from __future__ import annotations

import math
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
ANVIL = ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
DEV_MNEMONIC = "test test test test test test test test test test test junk"


def raise_open_files_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def is_postgres(url: str) -> bool:
    return urlsplit(url).scheme in {"postgres", "postgresql", "pgsql", "postgis"}


def recreate_postgres_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def configure_environment(name: str, extra: dict[str, str] | None = None) -> str:
    """A database of this bench's own (``engipay_bench_<name>`` on PostgreSQL, or a temporary SQLite file), its own
    embedded Redis directory and cache prefix, DEBUG off; ``extra`` are environment defaults for the server."""
    url = os.environ.get("DATABASE_URL", "")
    if is_postgres(url):
        name = os.environ.get("BENCH_DATABASE_NAME", f"engipay_bench_{name}")
        url = urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
        recreate_postgres_database(url)
        os.environ["DATABASE_URL"] = url
        description = f"PostgreSQL, {name} (dropped and recreated)"
    else:
        os.environ.pop("DATABASE_URL", None)
        os.environ["SQLITE_PATH"] = str(Path(tempfile.mkdtemp()) / f"bench-{name}.sqlite3")
        description = f"SQLite, {os.environ['SQLITE_PATH']} (temporary)"
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "engipay.settings")
    os.environ.setdefault("EMBEDDED_REDIS_DIR", f"var/bench-{name}-redis")
    os.environ.setdefault("CACHE_KEY_PREFIX", f"engipay-bench-{name}-{os.getpid()}")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # Consumers reach the database from one thread (database_sync_to_async is thread-sensitive): one persistent
    # connection serves them all, instead of a new PostgreSQL backend per call.
    os.environ.setdefault("DB_CONN_MAX_AGE", "600")
    for key, value in (extra or {}).items():
        os.environ.setdefault(key, value)
    return description


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_anvil(*extra: str) -> tuple[subprocess.Popen, str]:
    """A fresh anvil (chain id 31337, the development mnemonic) on a free port; (process, RPC URL)."""
    import httpx

    port = free_port()
    command = [str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--chain-id", "31337"]
    proc = subprocess.Popen(  # noqa: S603 - fixed binary and arguments
        [*command, "--mnemonic", DEV_MNEMONIC, "--silent", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=1).is_success:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("anvil did not start")


def percentile(ms: list[float], q: float) -> float:
    return ms[max(0, math.ceil(q * len(ms)) - 1)] if ms else math.nan


def summary(samples: list[float]) -> str:
    ms = sorted(samples)
    if not ms:
        return "no samples"
    return (
        f"n={len(ms)} p50 {percentile(ms, 0.50):.1f} ms, p90 {percentile(ms, 0.90):.1f} ms, "
        f"p99 {percentile(ms, 0.99):.1f} ms, max {ms[-1]:.1f} ms"
    )


def memory(pid: int) -> dict[str, str]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in {"VmRSS", "VmHWM", "Threads"}:
            fields[key] = value.strip()
    return fields


def start_server(log: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603 - fixed interpreter and arguments
        [
            sys.executable, "-m", "uvicorn", "engipay.asgi:application", "--host", "127.0.0.1",
            "--port", str(port), "--ws", "websockets", "--no-access-log",
        ],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        preexec_fn=raise_open_files_limit,  # only sets a resource limit
    )  # fmt: skip
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health/", timeout=2).status_code < 500:
                return proc, port
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the app server did not start (log: {log})")


def platform_prepare(description: str) -> bool:
    """Django set up on the bench's database (migrated) and Redis; prints both. True when an embedded Redis was
    already running (then ``platform_stop`` leaves it running)."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from engipay import embedded_redis
    from engipay.bootstrap import prepare

    redis_was_running = settings.REDIS_EMBEDDED and embedded_redis._alive(
        embedded_redis.socket_path(settings.EMBEDDED_REDIS_DIR)
    )
    prepare()
    call_command("migrate", verbosity=0)
    print(f"database: {description}")
    print(f"redis: {'embedded (' + str(settings.EMBEDDED_REDIS_DIR) + ')' if settings.REDIS_EMBEDDED else 'REDIS_URL'}")
    return bool(redis_was_running)


def platform_stop(server: subprocess.Popen, redis_was_running: bool) -> None:
    """Stop the app server (killed if a graceful close of its sockets takes too long: the figures are taken
    already) and the embedded Redis this run started."""
    from django.conf import settings

    from engipay import embedded_redis

    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)
    if settings.REDIS_EMBEDDED and not redis_was_running:
        embedded_redis.stop(settings.EMBEDDED_REDIS_DIR)
