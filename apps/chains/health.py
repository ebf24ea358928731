"""Reachability of each configured chain RPC, for /api/health/."""

from __future__ import annotations

import time
from typing import Any

import httpx
from django.conf import settings
from starknet_py.constants import EXPECTED_RPC_VERSION

from .registry import ChainConfig, chains

STARKNET_SPEC_VERSION = EXPECTED_RPC_VERSION  # what starknet-py speaks (0.10.2 for starknet-py 0.30)


def _evm_probe(url: str, timeout: float) -> dict[str, Any]:
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_blockNumber", "params": []},
    ]
    response = httpx.post(url, json=batch, timeout=timeout)
    response.raise_for_status()
    results = {item["id"]: item.get("result") for item in response.json()}
    return {"chain_id": int(results[1], 16), "block_number": int(results[2], 16)}


def _starknet_probe(url: str, timeout: float) -> dict[str, Any]:
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "starknet_chainId", "params": []},
        {"jsonrpc": "2.0", "id": 2, "method": "starknet_blockNumber", "params": []},
        {"jsonrpc": "2.0", "id": 3, "method": "starknet_specVersion", "params": []},
    ]
    response = httpx.post(url, json=batch, timeout=timeout)
    response.raise_for_status()
    results = {item["id"]: item.get("result") for item in response.json()}
    return {"chain_id": int(results[1], 16), "block_number": int(results[2]), "spec_version": results[3]}


def _esplora_probe(url: str, timeout: float) -> dict[str, Any]:
    response = httpx.get(f"{url.rstrip('/')}/blocks/tip/height", timeout=timeout)
    response.raise_for_status()
    return {"block_number": int(response.text)}


def _expected_chain_id(chain: ChainConfig) -> int | None:
    if chain.kind == "evm":
        return int(chain.chain_id)
    if chain.kind == "starknet":
        value = str(chain.chain_id)
        return int(value, 16) if value.startswith("0x") else int.from_bytes(value.encode("ascii"), "big")
    return None  # Esplora does not say which network it serves


PROBES = {"evm": _evm_probe, "starknet": _starknet_probe, "bitcoin": _esplora_probe}


def chain_health(chain: ChainConfig) -> dict[str, Any]:
    base: dict[str, Any] = {"kind": chain.kind}
    if settings.CHAINS.get(chain.key, {}).get("sandbox"):
        # A local test double (make run SANDBOX=1): say so wherever its figures are shown.
        base.update(sandbox=True, note="Local sandbox test double, not a real network: balances are play money.")
    probe_of = PROBES.get(chain.kind)
    if probe_of is None:
        return {**base, "ok": False, "error": f"no health probe for {chain.kind} chains"}
    timeout = settings.CHAIN_RPC_TIMEOUT_SECONDS
    errors = []
    for url in chain.rpc_urls:
        started = time.monotonic()
        try:
            probe = probe_of(url, timeout)
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            errors.append(f"{type(exc).__name__}")
            continue
        latency_ms = round((time.monotonic() - started) * 1000)
        expected = _expected_chain_id(chain)
        ok = expected is None or probe["chain_id"] == expected
        if chain.kind == "starknet" and probe.get("spec_version") != STARKNET_SPEC_VERSION:
            ok = False
            base["error"] = f"RPC speaks spec {probe.get('spec_version')}, the client expects {STARKNET_SPEC_VERSION}"
        result = {**base, "ok": ok, "latency_ms": latency_ms, **probe}
        if expected is not None and probe["chain_id"] != expected:
            result["error"] = f"RPC serves chain id {probe['chain_id']}, expected {chain.chain_id}"
        if chain.kind == "starknet":
            result["chain_id"] = hex(probe["chain_id"])  # a short string as a felt: 0x534e5f4d41494e is SN_MAIN
        return result
    return {**base, "ok": False, "error": "unreachable", "attempts": errors}


def all_chains_health() -> dict[str, dict[str, Any]]:
    return {chain.key: chain_health(chain) for chain in chains()}
