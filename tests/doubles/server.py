"""The lifecycle shared by the local HTTP test doubles: a threading HTTP server on a daemon thread.

A double subclasses ``LocalHTTPDouble``, names its server and handler (a ``LocalHTTPHandler``) classes, and attaches
its own state to the server in ``_attach`` (the handler reads it from ``self.server``). ``start()`` / ``stop()`` or
``with`` run it; ``serve_until_interrupted()`` keeps a sandbox (``python -m tests.doubles.<name>``) up until Ctrl-C.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self


class LocalHTTPServer(ThreadingHTTPServer):
    daemon_threads = True


class LocalHTTPHandler(BaseHTTPRequestHandler):
    """Quiet, keep-alive HTTP/1.1; ``_reply`` sends a whole response."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class LocalHTTPDouble:
    """Serves ``handler_class`` on ``server_class`` at ``host:port`` (port 0: a free one) while started."""

    server_class: ClassVar[type[LocalHTTPServer]] = LocalHTTPServer
    handler_class: ClassVar[type[LocalHTTPHandler]]
    thread_name: ClassVar[str]

    def __init__(self, *, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._server: LocalHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _attach(self, server: LocalHTTPServer) -> None:
        """Give the new server what its handler needs (before it serves its first request)."""

    def start(self) -> Self:
        self._server = self.server_class((self._host, self._port), self.handler_class)
        self._attach(self._server)
        server = self._server
        self._thread = threading.Thread(
            target=lambda: server.serve_forever(poll_interval=0.05), name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_until_interrupted(self, every: float = 3600, tick: Callable[[], object] | None = None) -> None:
        """Keep serving (calling ``tick``, if any, every ``every`` seconds) until Ctrl-C, then stop."""
        try:
            while True:
                time.sleep(every)
                if tick is not None:
                    tick()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
