"""A shared response cache in front of Django for public, anonymous GET endpoints (a micro-cache, as a reverse
proxy would keep), so a hot search is answered without Django's request cycle.

An app registers a path with the lifetime of its responses and the cache key of its content version (the app bumps
that version on every change, so an edit shows at once). For an anonymous GET of a registered path (no
``Authorization``, no ``Cookie``), one Lua call to Redis counts the visitor against the anonymous throttle rate,
reads the content version and the stored response for (path, sorted query, Accept, Origin, version). A hit is
sent as stored (headers included, plus ``X-Edge-Cache: hit``); a miss goes to Django, and a 200 without cookies is
stored for the registered lifetime. A visitor over the rate gets the 429 here (the misses Django saw were counted
by DRF's throttles too, so the edge never lets more through than the rate). A host Django would refuse, plain HTTP
when HTTPS is required, any Redis failure and every other request simply go to Django.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.conf import settings
from django.http.request import split_domain_port, validate_host

logger = logging.getLogger(__name__)

_RULES: dict[str, Rule] = {}
# KEYS: throttle counter, content version. ARGV: window seconds, allowed per window, entry key prefix.
_LOOKUP = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if count > tonumber(ARGV[2]) then return {0, false, false} end
local version = redis.call('GET', KEYS[2]) or ''
return {1, version, redis.call('GET', ARGV[3] .. version)}
"""
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class Rule:
    ttl: int
    version_key: str


def register(path: str, *, ttl: int, version_key: str) -> None:
    """Cache anonymous GETs of ``path`` for ``ttl`` seconds under the content version kept in the Django cache at
    ``version_key`` (an integer)."""
    _RULES[path] = Rule(ttl=ttl, version_key=version_key)


def _rate() -> tuple[int, int]:
    """(requests, seconds) of DRF's anonymous throttle."""
    rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["anon"]
    count, period = rate.split("/")
    return int(count), _PERIODS[period[0]]


def _ident(scope: dict[str, Any], headers: dict[bytes, bytes]) -> str:
    """The client address as DRF's throttles see it (NUM_PROXIES and X-Forwarded-For)."""
    remote = (scope.get("client") or ("", 0))[0] or ""
    xff = headers.get(b"x-forwarded-for", b"").decode("latin-1") or None
    proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES")
    if proxies is not None:
        if proxies == 0 or xff is None:
            return remote
        addresses = xff.split(",")
        return addresses[-min(proxies, len(addresses))].strip()
    return "".join(xff.split()) if xff else remote


async def _throttled(send: Any, *, retry_after: int) -> None:
    body = json.dumps(
        {
            "error": {
                "code": "throttled",
                "message": f"Request was throttled. Expected available in {retry_after} seconds.",
                "details": {},
            }
        }
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(retry_after).encode()),
        (b"x-content-type-options", b"nosniff"),
    ]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class EdgeCache:
    """ASGI middleware around the Django HTTP application."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._loop: Any = None
        self._redis: Any = None
        self._lookup: Any = None

    def _client(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._redis is None or self._loop is not loop:  # a client belongs to the event loop that made it
            from redis.asyncio import Redis

            self._loop = loop
            self._redis = Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
            self._lookup = self._redis.register_script(_LOOKUP)
        return self._redis

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        rule = _RULES.get(scope.get("path", "")) if scope["type"] == "http" and scope["method"] == "GET" else None
        headers = dict(scope.get("headers") or []) if rule is not None else {}
        if rule is None or b"authorization" in headers or b"cookie" in headers:
            await self.app(scope, receive, send)
            return
        from django.core.cache import cache

        host = headers.get(b"host", b"").decode("latin-1")
        if not validate_host(split_domain_port(host)[0], settings.ALLOWED_HOSTS) or (
            settings.SECURE_SSL_REDIRECT and scope.get("scheme") != "https"
        ):  # Django answers what it answers to these (400 DisallowedHost, the HTTPS redirect)
            await self.app(scope, receive, send)
            return
        try:
            pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            # By name only: a repeated parameter keeps its order (Django reads the last value).
            query = urlencode(sorted(pairs, key=lambda pair: pair[0]))
            accept, origin = (headers.get(name, b"").decode("latin-1") for name in (b"accept", b"origin"))
            variant = json.dumps([scope["path"], query, accept, origin])
            prefix = cache.make_key(f"edge:{hashlib.sha256(variant.encode()).hexdigest()[:40]}:")
            allowed, window = _rate()
            now = int(time.time())
            throttle_key = cache.make_key(f"edge:throttle:{_ident(scope, headers)}:{now // window}")
            self._client()
            passed, version, entry = await self._lookup(
                keys=[throttle_key, cache.make_key(rule.version_key)], args=[window, allowed, prefix]
            )
        except Exception:  # Redis down or slow, or an odd request: Django serves it (and reports in its own way)
            logger.warning("Edge cache unavailable; %s goes to Django", scope["path"], exc_info=True)
            await self.app(scope, receive, send)
            return
        if not passed:  # over the anonymous rate: refused here (the requests Django saw were counted there too)
            await _throttled(send, retry_after=window - now % window)
            return
        if entry:
            await self._replay(entry, send)
            return
        if not version:  # no content version to file it under (evicted): served, not stored
            await self.app(scope, receive, send)
            return
        await self._fill(scope, receive, send, key=prefix + version.decode(), ttl=rule.ttl)

    async def _replay(self, entry: bytes, send: Any) -> None:
        size = int.from_bytes(entry[:4], "big")
        stored = json.loads(entry[4 : 4 + size])
        raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in stored["headers"]]
        await send(
            {"type": "http.response.start", "status": stored["status"], "headers": [*raw, (b"x-edge-cache", b"hit")]}
        )
        await send({"type": "http.response.body", "body": entry[4 + size :]})

    async def _fill(self, scope: dict[str, Any], receive: Any, send: Any, *, key: str, ttl: int) -> None:
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                message = {**message, "headers": [*message.get("headers", []), (b"x-edge-cache", b"miss")]}
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        names = {name.lower() for name, _ in start.get("headers", [])}
        if start.get("status") != 200 or b"set-cookie" in names or len(body) > MAX_BODY:
            return
        head = json.dumps(
            {
                "status": 200,
                "headers": [[name.decode("latin-1"), value.decode("latin-1")] for name, value in start["headers"]],
            }
        ).encode()
        try:
            await self._client().set(key, len(head).to_bytes(4, "big") + head + body, ex=ttl)
        except Exception:
            logger.warning("Edge cache: could not store %s", scope["path"], exc_info=True)
