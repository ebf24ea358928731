"""A JSON-RPC endpoint that misbehaves the way real providers do: every call answers one fixed error (a rate
limit, an internal error) or one fixed result that is off the spec's shape."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class MisbehavingRpc:
    def __init__(self, *, error: dict[str, Any] | None = None, result: Any = None) -> None:
        answer = {"error": error} if error is not None else {"result": result}

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                return

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                calls = request if isinstance(request, list) else [request]
                replies = [{"jsonrpc": "2.0", "id": call.get("id"), **answer} for call in calls]
                body = json.dumps(replies if isinstance(request, list) else replies[0]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __enter__(self) -> MisbehavingRpc:
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


RATE_LIMITED = {"code": -32005, "message": "Too many requests"}
