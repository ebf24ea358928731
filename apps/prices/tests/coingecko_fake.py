"""A local CoinGecko API v3 for tests: the documented paths, parameters, key headers and error bodies.

Reference: ../shared/reference/external-apis.md section 1. State is kept per coin; numbers are written to the
wire exactly as given (Decimals, no binary float), as the real API sends full precision with ``precision=full``.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


def dumps(value: Any) -> str:
    """JSON with Decimals written as number literals (json.dumps would need a float)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value)


@dataclass
class Coin:
    usd: Decimal
    usd_24h_change: Decimal | None = None
    usd_market_cap: Decimal | None = None
    usd_24h_vol: Decimal | None = None
    last_updated_at: int = field(default_factory=lambda: int(time.time()))
    # market_chart points: (timestamp_ms, price, market_cap, volume)
    chart: list[tuple[int, Decimal, Decimal, Decimal]] = field(default_factory=list)


@dataclass
class Seen:
    path: str
    params: dict[str, str]
    headers: dict[str, str]


class FakeCoinGecko:
    def __init__(self, *, plan: str = "demo", api_key: str | None = None) -> None:
        self.plan = plan  # which host this pretends to be: "demo" (api.coingecko.com) or "pro" (pro-api)
        self.api_key = api_key  # None: keyless access allowed
        self.coins: dict[str, Coin] = {}
        self.requests: list[Seen] = []
        self.rate_limited = 0  # answer this many next requests with 429
        self.retry_after = 119
        self.fail_status: int | None = None  # e.g. 503: every request fails with it
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                return

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                params = {k: v[-1] for k, v in parse_qs(url.query).items()}
                headers = {k.lower(): v for k, v in self.headers.items()}
                fake.requests.append(Seen(url.path, params, headers))
                status, body, extra = fake.answer(url.path, params, headers)
                payload = body.encode() if isinstance(body, str) else dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if not isinstance(body, str) else "text/html")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v3"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- protocol ------------------------------------------------------------------------------------------

    @staticmethod
    def status_error(code: int, message: str) -> dict:
        return {"status": {"error_code": code, "error_message": message}}

    def auth_error(self, params: dict[str, str], headers: dict[str, str]) -> tuple[int, dict] | None:
        other = "pro" if self.plan == "demo" else "demo"
        if headers.get(f"x-cg-{other}-api-key") or params.get(f"x_cg_{other}_api_key"):
            # 10010: a Pro key sent to the public host; 10011: a Demo key sent to the Pro host.
            code = 10010 if self.plan == "demo" else 10011
            return 401, self.status_error(code, f"If you are using a {other} API key, use the other host.")
        key = headers.get(f"x-cg-{self.plan}-api-key") or params.get(f"x_cg_{self.plan}_api_key")
        if self.api_key is None:
            return None
        if not key:
            return 401, self.status_error(10002, "API Key Missing")
        if key != self.api_key:
            return 401, {"error": {"status": {"error_code": 10002, "error_message": "Invalid API Key"}}}
        return None

    def answer(self, path: str, params: dict[str, str], headers: dict[str, str]) -> tuple[int, Any, dict]:
        if self.fail_status is not None:
            return self.fail_status, "<html><body>Service Unavailable</body></html>", {}
        if self.rate_limited > 0:
            self.rate_limited -= 1
            body = self.status_error(429, "You've exceeded the Rate Limit. Please visit our API page.")
            return 429, body, {"Retry-After": str(self.retry_after)}
        refused = self.auth_error(params, headers)
        if refused is not None:
            return (*refused, {})
        if path == "/api/v3/simple/price":
            return self.simple_price(params)
        prefix, suffix = "/api/v3/coins/", "/market_chart"
        if path.startswith(prefix) and path.endswith(suffix):
            return self.market_chart(path[len(prefix) : -len(suffix)], params)
        return 404, {"error": "Incorrect path. Please check https://www.coingecko.com/api/"}, {}

    def simple_price(self, params: dict[str, str]) -> tuple[int, Any, dict]:
        if not params.get("vs_currencies"):
            return 400, {"error": "Missing parameter vs_currencies"}, {}
        currencies = params["vs_currencies"].split(",")
        flag = {name: params.get(name) == "true" for name in ["include_market_cap", "include_24hr_vol"]}
        flag |= {name: params.get(name) == "true" for name in ["include_24hr_change", "include_last_updated_at"]}
        result = {}
        for coin_id in params.get("ids", "").split(","):
            coin = self.coins.get(coin_id)
            if coin is None or "usd" not in currencies:
                continue  # unknown ids are simply absent
            entry: dict[str, Any] = {"usd": coin.usd}
            if flag["include_market_cap"]:
                entry["usd_market_cap"] = coin.usd_market_cap
            if flag["include_24hr_vol"]:
                entry["usd_24h_vol"] = coin.usd_24h_vol
            if flag["include_24hr_change"]:
                entry["usd_24h_change"] = coin.usd_24h_change
            if flag["include_last_updated_at"]:
                entry["last_updated_at"] = coin.last_updated_at
            result[coin_id] = entry
        return 200, result, {}

    def market_chart(self, coin_id: str, params: dict[str, str]) -> tuple[int, Any, dict]:
        coin = self.coins.get(coin_id)
        if coin is None:
            return 404, {"error": "coin not found"}, {}
        if params.get("vs_currency") != "usd" or not params.get("days"):
            return 400, {"error": "Missing parameter vs_currency or days"}, {}
        since_ms = (int(time.time()) - int(params["days"]) * 86400) * 1000
        points = [p for p in coin.chart if p[0] >= since_ms]
        return (
            200,
            {
                "prices": [[p[0], p[1]] for p in points],
                "market_caps": [[p[0], p[2]] for p in points],
                "total_volumes": [[p[0], p[3]] for p in points],
            },
            {},
        )
