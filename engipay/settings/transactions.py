"""Transactions: fee estimation, confirmations and the chain tracker (apps/transactions).

Per-chain values may also be set in ``CHAINS`` (``block_time_seconds``, ``finality_depth``, ``ws_url``).
"""

from __future__ import annotations

from .env import env_bool, env_int

# eth_estimateGas plus this margin (percent) is the gas limit we prepare; a plain 21 000 transfer gets none.
TX_GAS_MARGIN_PERCENT = env_int("TX_GAS_MARGIN_PERCENT", 20, minimum=0)
# eth_feeHistory over this many blocks; the priority fee is this percentile of the rewards paid in them.
TX_FEE_HISTORY_BLOCKS = env_int("TX_FEE_HISTORY_BLOCKS", 10, minimum=1)
TX_PRIORITY_FEE_PERCENTILE = env_int("TX_PRIORITY_FEE_PERCENTILE", 50, minimum=0)
# The priority fee never goes below this (wei), so a chain of empty blocks still gets a transaction in.
TX_MIN_PRIORITY_FEE_WEI = env_int("TX_MIN_PRIORITY_FEE_WEI", 10_000_000, minimum=0)
# Used for estimated_confirmation when a chain sets no block_time_seconds.
TX_BLOCK_TIME_SECONDS = env_int("TX_BLOCK_TIME_SECONDS", 12, minimum=1)
# Depth counted as final on a node without the `finalized` block tag (pre-Merge, some L2s).
TX_FINALITY_FALLBACK_DEPTH = env_int("TX_FINALITY_FALLBACK_DEPTH", 64, minimum=1)
# chain_tracker: poll interval when no websocket is available, and whether to try one (derived from the
# RPC URL, http→ws, unless the chain sets ws_url).
TX_TRACKER_POLL_SECONDS = env_int("TX_TRACKER_POLL_SECONDS", 2, minimum=1)
TX_TRACKER_WEBSOCKET = env_bool("TX_TRACKER_WEBSOCKET", True)
# chain_tracker also sweeps every open transaction this often even without a new head (drops, restarts).
TX_TRACKER_SWEEP_SECONDS = env_int("TX_TRACKER_SWEEP_SECONDS", 30, minimum=1)
# Beat safety net: refresh every open transaction this often, whether or not the tracker runs.
TX_REFRESH_EVERY_SECONDS = env_int("TX_REFRESH_EVERY_SECONDS", 60, minimum=5)
