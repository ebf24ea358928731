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


# The genesis block hash of each Bitcoin network (``chain_id`` of a bitcoin chain): how an Esplora says which
# network it serves. ``testnet`` is testnet3.
BITCOIN_GENESIS_HASHES = {
    "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f": "mainnet",
    "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943": "testnet",
    "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6": "signet",
    "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206": "regtest",
}


def _esplora_probe(url: str, timeout: float) -> dict[str, Any]:
    base = url.rstrip("/")
    with httpx.Client(timeout=timeout) as http:
        tip = http.get(f"{base}/blocks/tip/height")
        tip.raise_for_status()
        genesis = http.get(f"{base}/block-height/0")
        genesis.raise_for_status()
    network = BITCOIN_GENESIS_HASHES.get(genesis.text.strip().lower(), "unknown")
    return {"block_number": int(tip.text), "network": network}


def _expected_chain_id(chain: ChainConfig) -> int | None:
    if chain.kind == "evm":
        return int(chain.chain_id)
    if chain.kind == "starknet":
        value = str(chain.chain_id)
        return int(value, 16) if value.startswith("0x") else int.from_bytes(value.encode("ascii"), "big")
    return None  # Bitcoin: the network of its genesis block, checked in chain_health


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
        if chain.kind == "bitcoin" and probe.get("network") != chain.chain_id:
            result.update(ok=False, error=f"Esplora serves {probe.get('network')}, expected {chain.chain_id}")
        if chain.kind == "starknet":
            result["chain_id"] = hex(probe["chain_id"])  # a short string as a felt: 0x534e5f4d41494e is SN_MAIN
        return result
    return {**base, "ok": False, "error": "unreachable", "attempts": errors}


def all_chains_health() -> dict[str, dict[str, Any]]:
    return {chain.key: chain_health(chain) for chain in chains()}
