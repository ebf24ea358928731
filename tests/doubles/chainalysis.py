"""A local Chainalysis sanctions screening API (the free "Sanctions Screening" REST API), for tests and the sandbox.

``GET /api/v1/address/{address}`` with header ``X-API-Key`` → ``{"identifications": [...]}``: one identification
(``category``, ``name``, ``description``, ``url``) per sanctioned address, an empty list otherwise. A missing or
wrong key → 401 ``{"message": ...}`` as the real service answers. Addresses match as the real API does for the
chains it screens: EVM hex case-insensitively, everything else exactly.

``python -m tests.doubles.chainalysis --port 3010 --key demo-key --sanctioned 0xabc...`` runs it as a sandbox.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
from typing import Any
from urllib.parse import unquote

from tests.doubles.server import LocalHTTPDouble, LocalHTTPHandler, LocalHTTPServer

_EVM = re.compile(r"^0x[0-9a-fA-F]{40}$")


def _key(address: str) -> str:
    return address.lower() if _EVM.match(address) else address


class ChainalysisState:
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.lock = threading.Lock()
        self.sanctioned: dict[str, dict[str, Any]] = {}
        self.requests: list[str] = []  # addresses asked about, in order

    def identification(self, name: str) -> dict[str, Any]:
        return {
            "category": "sanctions",
            "name": name,
            "description": f"{name} (test double entry; not a real designation)",
            "url": "https://home.treasury.gov/policy-issues/financial-sanctions/recent-actions",
        }


class _Server(LocalHTTPServer):
    state: ChainalysisState


class _Handler(LocalHTTPHandler):
    server: _Server

    def _send(self, status: int, body: dict[str, Any]) -> None:
        self._reply(status, json.dumps(body).encode(), "application/json")

    def do_GET(self) -> None:
        state = self.server.state
        parts = [unquote(p) for p in self.path.split("?")[0].split("/") if p]
        if self.headers.get("X-API-Key") != state.api_key:
            self._send(401, {"message": "Invalid API key"})
            return
        match parts:
            case ["api", "v1", "address", address]:
                with state.lock:
                    state.requests.append(address)
                    found = state.sanctioned.get(_key(address))
                self._send(200, {"identifications": [found] if found else []})
            case _:
                self._send(404, {"message": "Not found"})


class ChainalysisDouble(LocalHTTPDouble):
    """``with ChainalysisDouble(api_key="k") as api: api.sanction("0x...") ... api.url``."""

    server_class = _Server
    handler_class = _Handler
    thread_name = "chainalysis-double"

    def __init__(self, *, api_key: str = "test-chainalysis-key", host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = ChainalysisState(api_key)
        super().__init__(host=host, port=port)

    @property
    def api_key(self) -> str:
        return self.state.api_key

    def _attach(self, server: _Server) -> None:
        server.state = self.state

    def sanction(self, address: str, name: str = "SANCTIONS: TEST DOUBLE ENTITY") -> None:
        with self.state.lock:
            self.state.sanctioned[_key(address)] = self.state.identification(name)

    def clear(self) -> None:
        with self.state.lock:
            self.state.sanctioned.clear()
            self.state.requests.clear()

    @property
    def requests(self) -> list[str]:
        with self.state.lock:
            return list(self.state.requests)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local Chainalysis sanctions API test double (not the service).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3010)
    parser.add_argument("--key", default="test-chainalysis-key")
    parser.add_argument("--sanctioned", nargs="*", default=[], help="addresses to report as sanctioned")
    args = parser.parse_args(argv)
    double = ChainalysisDouble(api_key=args.key, host=args.host, port=args.port).start()
    for address in args.sanctioned:
        double.sanction(address)
    sys.stdout.write(f"SANDBOX Chainalysis sanctions API (test double) at {double.url}\n")
    sys.stdout.flush()
    double.serve_until_interrupted()


if __name__ == "__main__":
    main()
