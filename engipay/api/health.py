from __future__ import annotations

import contextlib
import hashlib
import json
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.chains.health import all_chains_health
from engipay.api.errors import error_body
from engipay.api.validation import ErrorSerializer


def _timed(check) -> dict[str, Any]:
    started = time.monotonic()
    try:
        detail = check() or {}
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "latency_ms": round((time.monotonic() - started) * 1000), **detail}


def _database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def _redis() -> dict[str, Any]:
    client = cache._cache.get_client(write=True)  # the cache's own connection pool
    client.ping()
    return {}


CHAIN_HEALTH_CACHE_SECONDS = 5


def _chains() -> dict[str, Any]:
    key = "health:chains:" + hashlib.sha256(json.dumps(settings.CHAINS, sort_keys=True).encode()).hexdigest()
    try:
        cached = cache.get(key)
    except Exception:
        cached = None
    if cached is not None:
        return cached
    result = all_chains_health()
    with contextlib.suppress(Exception):
        cache.set(key, result, CHAIN_HEALTH_CACHE_SECONDS)
    return result


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    # Default anonymous throttle; chain probes are cached briefly, so polling this cannot hammer paid RPCs.

    @extend_schema(
        tags=["health"],
        summary="Database, Redis and every configured chain RPC; 503 when one is down",
        responses={
            200: inline_serializer("Health", {"status": serializers.CharField(), "checks": serializers.DictField()}),
            503: ErrorSerializer,
        },
        examples=[
            OpenApiExample(
                "All up",
                value={
                    "status": "ok",
                    "checks": {
                        "database": {"ok": True, "latency_ms": 1, "vendor": "postgresql"},
                        "redis": {"ok": True, "latency_ms": 0},
                        "chains": {
                            "local": {"ok": True, "kind": "evm", "latency_ms": 3, "chain_id": 31337, "block_number": 12}
                        },
                    },
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        checks = {"database": _timed(_database), "redis": _timed(_redis), "chains": _chains()}
        down = [name for name in ("database", "redis") if not checks[name]["ok"]]
        down += [f"chains.{key}" for key, check in checks["chains"].items() if not check["ok"]]
        if not down:
            return Response({"status": "ok", "checks": checks})
        # Still the one error shape; the full report rides in ``details`` for operators and load balancers.
        details = {"status": "down", "down": down, "checks": checks}
        code = "chain_unavailable" if all(d.startswith("chains.") for d in down) else "service_unavailable"
        return Response(error_body(code, f"Unavailable: {', '.join(down)}.", details), status=503)
