"""Chain configuration: ``CHAINS`` maps a network key to its kind, chain id, RPC URLs and confirmations.

``CHAINS_JSON`` (a JSON object of the same shape) replaces the default, which is the local anvil node that
``make run`` starts (key ``local``, chain id 31337). ``EVM_LOCAL_RPC_URL`` moves just that node.

Kinds: ``evm`` (chain_id an int), ``starknet`` (chain_id ``SN_MAIN``/``SN_SEPOLIA`` or its hex felt; rpc_urls are
JSON-RPC 0.10 endpoints), ``bitcoin`` (chain_id ``mainnet``/``testnet``/``signet``/``regtest``; rpc_urls are
Esplora base URLs such as https://blockstream.info/api; ``finality_depth`` defaults to 6).
"""

from __future__ import annotations

from .env import env_bool, env_int, env_json, env_str

# `make run SANDBOX=1`: local Starknet and Esplora test doubles (tests/doubles) join the default chains, labelled
# "sandbox" in /api/health/. Play money for frontend developers; never set in production.
CHAIN_SANDBOX = env_bool("CHAIN_SANDBOX", False)
_SANDBOX_CHAINS = {
    "starknet": {
        "kind": "starknet",
        "name": "Starknet sandbox (local test double)",
        "chain_id": "SN_SEPOLIA",
        "rpc_urls": [f"http://127.0.0.1:{env_int('STARKNET_SANDBOX_PORT', 5050, minimum=1)}"],
        "confirmations": 1,
        "sandbox": True,
    },
    "bitcoin": {
        "kind": "bitcoin",
        "name": "Bitcoin sandbox (local regtest test double)",
        "chain_id": "regtest",
        "rpc_urls": [f"http://127.0.0.1:{env_int('ESPLORA_SANDBOX_PORT', 3002, minimum=1)}"],
        "confirmations": 1,
        "finality_depth": 6,
        "sandbox": True,
    },
}

CHAINS = env_json(
    "CHAINS_JSON",
    {
        "local": {
            "kind": "evm",
            "name": "Local anvil",
            "chain_id": 31337,
            "rpc_urls": [env_str("EVM_LOCAL_RPC_URL", "http://127.0.0.1:8545")],
            "confirmations": 1,
            "explorer_url": "",
        }
    },
)
if CHAIN_SANDBOX:
    CHAINS = {**CHAINS, **{key: value for key, value in _SANDBOX_CHAINS.items() if key not in CHAINS}}
CHAIN_RPC_TIMEOUT_SECONDS = env_int("CHAIN_RPC_TIMEOUT_SECONDS", 5, minimum=1)
