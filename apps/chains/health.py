"""Reachability of each configured chain RPC, for /api/health/."""

from __future__ import annotations

import time
from typing import Any

import httpx
from django.conf import settings

from .registry import ChainConfig, chains


def _evm_probe(url: str, timeout: float) -> dict[str, Any]:
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_blockNumber", "params": []},
    ]
    response = httpx.post(url, json=batch, timeout=timeout)
    response.raise_for_status()
    results = {item["id"]: item.get("result") for item in response.json()}
    return {"chain_id": int(results[1], 16), "block_number": int(results[2], 16)}


def chain_health(chain: ChainConfig) -> dict[str, Any]:
    if chain.kind != "evm":
        return {"ok": False, "kind": chain.kind, "error": f"no health probe for {chain.kind} chains yet"}
    timeout = settings.CHAIN_RPC_TIMEOUT_SECONDS
    errors = []
    for url in chain.rpc_urls:
        started = time.monotonic()
        try:
            probe = _evm_probe(url, timeout)
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            errors.append(f"{type(exc).__name__}")
            continue
        latency_ms = round((time.monotonic() - started) * 1000)
        ok = probe["chain_id"] == int(chain.chain_id)
        result = {"ok": ok, "kind": chain.kind, "latency_ms": latency_ms, **probe}
        if not ok:
            result["error"] = f"RPC serves chain id {probe['chain_id']}, expected {chain.chain_id}"
        return result
    return {"ok": False, "kind": chain.kind, "error": "unreachable", "attempts": errors}


def all_chains_health() -> dict[str, dict[str, Any]]:
    return {chain.key: chain_health(chain) for chain in chains()}
