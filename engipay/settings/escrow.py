"""Escrow payments (apps/escrow).

Every variable is listed with its default in README.md ("Configuration").
"""

from __future__ import annotations

from .env import VAR_DIR, env_int, env_optional, env_str

# Dispute evidence lives here, outside MEDIA_ROOT and STATIC_ROOT, streamed only through permission-checked views.
ESCROW_PRIVATE_ROOT = env_str("ESCROW_PRIVATE_ROOT", str(VAR_DIR / "private" / "escrow"))
# The key that deploys the contract (`manage.py escrow_deploy`); read by that command only, never logged. The API
# guide's name ESCROW_PRIVATE_KEY is accepted too.
ESCROW_OPERATOR_PRIVATE_KEY = env_optional("ESCROW_OPERATOR_PRIVATE_KEY") or env_optional("ESCROW_PRIVATE_KEY")
# EngiPay's dispute resolver (an address; its key is held by the resolvers, never by the server). Escrows created
# without a `dispute_resolver` name this one; blank: such escrows cannot be disputed.
ESCROW_RESOLVER_ADDRESS = env_str("ESCROW_RESOLVER_ADDRESS", "")
# The network escrows are created on when a request names none (a key of CHAINS with a deployment).
ESCROW_DEFAULT_NETWORK = env_str("ESCROW_DEFAULT_NETWORK", "")
# Bounds of `expires_in_hours`.
ESCROW_MIN_HOURS = env_int("ESCROW_MIN_HOURS", 1, minimum=1)
ESCROW_MAX_HOURS = env_int("ESCROW_MAX_HOURS", 24 * 90, minimum=1)
ESCROW_MEMO_MAX_CHARS = env_int("ESCROW_MEMO_MAX_CHARS", 500, minimum=1)
# A prepared transition that was not submitted within this many seconds lapses: another may be prepared.
ESCROW_ACTION_TTL_SECONDS = env_int("ESCROW_ACTION_TTL_SECONDS", 900, minimum=10)
# Gas limit for a call that depends on an earlier one of the same set (create after approve) when the node
# cannot simulate the set (no eth_simulateV1).
ESCROW_FALLBACK_CALL_GAS = env_int("ESCROW_FALLBACK_CALL_GAS", 300_000, minimum=21_000)
# Indexer: blocks per eth_getLogs request, and how often the beat safety net runs it (the chain tracker also
# runs it on every new head).
ESCROW_INDEX_BATCH_BLOCKS = env_int("ESCROW_INDEX_BATCH_BLOCKS", 2000, minimum=1)
ESCROW_INDEX_EVERY_SECONDS = env_int("ESCROW_INDEX_EVERY_SECONDS", 15, minimum=1)
# Block hashes kept for reorg detection (older blocks are final on every chain we run).
ESCROW_INDEX_KEEP_BLOCKS = env_int("ESCROW_INDEX_KEEP_BLOCKS", 256, minimum=8)
# Events older than this (chain time) when indexed do not notify (a re-index does not replay old news).
ESCROW_NOTIFY_MAX_AGE_SECONDS = env_int("ESCROW_NOTIFY_MAX_AGE_SECONDS", 24 * 3600, minimum=0)
# Dispute evidence: largest file (bytes), files per statement, image pixels.
ESCROW_EVIDENCE_MAX_BYTES = env_int("ESCROW_EVIDENCE_MAX_BYTES", 5 * 1024 * 1024, minimum=1024)
ESCROW_EVIDENCE_PER_STATEMENT = env_int("ESCROW_EVIDENCE_PER_STATEMENT", 5, minimum=1)
ESCROW_EVIDENCE_MAX_PIXELS = env_int("ESCROW_EVIDENCE_MAX_PIXELS", 25_000_000, minimum=10_000)
# Largest dispute statement body (JSON with base64 evidence, or multipart): a full set of evidence files in base64
# plus room for the text. Larger bodies are refused with 413 before they are parsed.
ESCROW_REQUEST_MAX_BYTES = env_int(
    "ESCROW_REQUEST_MAX_BYTES",
    ESCROW_EVIDENCE_PER_STATEMENT * ((ESCROW_EVIDENCE_MAX_BYTES + 2) // 3 * 4 * 105 // 100 + 64) + 256 * 1024,
    minimum=64 * 1024,
)
