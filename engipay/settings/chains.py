"""Chain configuration: ``CHAINS`` maps a network key to its kind, chain id, RPC URLs and confirmations.

``CHAINS_JSON`` (a JSON object of the same shape) replaces the default, which is the local anvil node that
``make run`` starts (key ``local``, chain id 31337). ``EVM_LOCAL_RPC_URL`` moves just that node.
"""

from __future__ import annotations

from .env import env_int, env_json, env_str

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
CHAIN_RPC_TIMEOUT_SECONDS = env_int("CHAIN_RPC_TIMEOUT_SECONDS", 5, minimum=1)
