"""A JSON-RPC recording proxy: sits between our client and anvil and counts what crosses the wire."""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


class RpcRecorder:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.methods: Counter[str] = Counter()
        self.round_trips = 0
        self.down = False  # when True the proxy refuses to forward (a node outage without killing anvil)
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if recorder.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                payload = json.loads(body)
                calls = payload if isinstance(payload, list) else [payload]
                recorder.round_trips += 1
                for call in calls:
                    recorder.methods[call.get("method", "?")] += 1
                answer = httpx.post(
                    recorder.upstream, content=body, headers={"Content-Type": "application/json"}, timeout=30
                )
                self.send_response(answer.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reset(self) -> None:
        self.methods.clear()
        self.round_trips = 0

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
