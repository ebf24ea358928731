"""KYC/AML: identity submissions, encrypted documents, sanctions screening, tiered limits (apps/kyc).

Every variable is listed with its default in README.md ("Configuration").
"""

from __future__ import annotations

from .env import VAR_DIR, env_bool, env_int, env_json, env_list, env_optional, env_str

# Encrypted identity documents live here: outside MEDIA_ROOT and STATIC_ROOT, never under a URL.
KYC_PRIVATE_ROOT = env_str("KYC_PRIVATE_ROOT", str(VAR_DIR / "private" / "kyc"))
# Fernet keys (urlsafe base64, 32 bytes), comma-separated, newest first: the first encrypts, all decrypt.
# Rotation: put a new key first, run `manage.py kyc_rotate_keys`, then drop the old one. Unset on a development
# machine: a random key kept in var/ (never a key written in the source).
KYC_ENCRYPTION_KEYS = env_list("KYC_ENCRYPTION_KEYS", [])
KYC_DOCUMENT_MAX_BYTES = env_int("KYC_DOCUMENT_MAX_BYTES", 8 * 1024 * 1024, minimum=1024)
# Images outside these bounds are refused; the pixel cap is checked before decoding (decompression bombs).
KYC_IMAGE_MIN_SIDE = env_int("KYC_IMAGE_MIN_SIDE", 200, minimum=1)
KYC_IMAGE_MAX_SIDE = env_int("KYC_IMAGE_MAX_SIDE", 10_000, minimum=100)
KYC_IMAGE_MAX_PIXELS = env_int("KYC_IMAGE_MAX_PIXELS", 40_000_000, minimum=10_000)
# Largest submit request body (two or three base64 documents plus personal info); larger → 413 before parsing.
KYC_REQUEST_MAX_BYTES = env_int(
    "KYC_REQUEST_MAX_BYTES", 3 * ((KYC_DOCUMENT_MAX_BYTES + 2) // 3 * 4 * 105 // 100) + 256 * 1024, minimum=64 * 1024
)
# Documents are deleted this many days after a final decision (verified or rejected); the decision is kept.
KYC_DOCUMENT_RETENTION_DAYS = env_int("KYC_DOCUMENT_RETENTION_DAYS", 90, minimum=0)
# Hours a submission may wait for a decision before it is over SLA (queue ordering, estimated_completion).
KYC_REVIEW_SLA_HOURS = env_int("KYC_REVIEW_SLA_HOURS", 24, minimum=1)
# A tier_2 approval needs a second reviewer to confirm (four-eyes).
KYC_FOUR_EYES_TIER_2 = env_bool("KYC_FOUR_EYES_TIER_2", True)
# Per-tier limits in USD over a rolling 24 hours ("daily") and 30 days ("monthly"); tier_0 is a wallet only.
KYC_LIMITS = env_json(
    "KYC_LIMITS",
    {
        "tier_0": {"daily": "1000", "monthly": "5000"},
        "tier_1": {"daily": "5000", "monthly": "25000"},
        "tier_2": {"daily": "10000", "monthly": "100000"},
    },
)
# A transfer is valued for the limits at the latest stored USD price of its asset if it is at most this old; with
# no such price the transfer is refused (503 price_unavailable) rather than let through unvalued.
KYC_PRICE_MAX_AGE_HOURS = env_int("KYC_PRICE_MAX_AGE_HOURS", 24, minimum=1)
# Verification provider: "manual" (reviewers decide in the admin) or "sumsub" (vendor flow, signed webhook).
KYC_PROVIDER = env_str("KYC_PROVIDER", "manual")
SUMSUB_BASE_URL = env_str("SUMSUB_BASE_URL", "https://api.sumsub.com")
SUMSUB_APP_TOKEN = env_optional("SUMSUB_APP_TOKEN")
SUMSUB_SECRET_KEY = env_optional("SUMSUB_SECRET_KEY")
SUMSUB_WEBHOOK_SECRET = env_optional("SUMSUB_WEBHOOK_SECRET")
SUMSUB_LEVEL_NAMES = env_json("SUMSUB_LEVEL_NAMES", {"tier_1": "basic-kyc-level", "tier_2": "full-kyc-level"})
SUMSUB_TIMEOUT_SECONDS = env_int("SUMSUB_TIMEOUT_SECONDS", 10, minimum=1)

# --- AML screening ---
# An OFAC SDN file (legacy CSV: sdn.csv, or sdn_advanced.xml is not read) reloaded by the beat task when it changes.
AML_SDN_PATH = env_optional("AML_SDN_PATH")
AML_SDN_RELOAD_MINUTES = env_int("AML_SDN_RELOAD_MINUTES", 60, minimum=1)
# A Chainalysis-style sanctions screening API (GET {url}/api/v1/address/{address}, X-API-Key); unset = off.
CHAINALYSIS_API_URL = env_optional("CHAINALYSIS_API_URL")
CHAINALYSIS_API_KEY = env_optional("CHAINALYSIS_API_KEY")
CHAINALYSIS_TIMEOUT_SECONDS = env_int("CHAINALYSIS_TIMEOUT_SECONDS", 5, minimum=1)
