"""Notifications (apps/notifications) and inbound webhooks (apps/webhooks).

Every variable is listed with its default in README.md ("Configuration").
"""

from __future__ import annotations

from .env import VAR_DIR, env_bool, env_int, env_json, env_list, env_optional, env_str, var_secret

# Where links in emails (unsubscribe, confirm address) point: this API's public origin.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://localhost:8000").rstrip("/")

# --- Deliveries (email, web push, SMS) ---
# Attempts per delivery before it is marked failed; the wait doubles from the base (with jitter), capped.
NOTIFY_DELIVERY_MAX_ATTEMPTS = env_int("NOTIFY_DELIVERY_MAX_ATTEMPTS", 6, minimum=1)
NOTIFY_RETRY_BASE_SECONDS = env_int("NOTIFY_RETRY_BASE_SECONDS", 30, minimum=0)
NOTIFY_RETRY_MAX_SECONDS = env_int("NOTIFY_RETRY_MAX_SECONDS", 3600, minimum=1)
# A queued delivery whose task was lost (broker down at enqueue time) is queued again after this long.
NOTIFY_SWEEP_GRACE_SECONDS = env_int("NOTIFY_SWEEP_GRACE_SECONDS", 120, minimum=1)
NOTIFY_SWEEP_EVERY_SECONDS = env_int("NOTIFY_SWEEP_EVERY_SECONDS", 60, minimum=1)

# --- Web push (VAPID, RFC 8292) ---
# The VAPID private key: base64url of the raw 32-byte P-256 scalar (or its DER). Unset on a development machine:
# a random key kept in var/ (never a key written in the source). The public key is served to browsers by
# GET /api/notifications/web-push/key.
WEB_PUSH_VAPID_PRIVATE_KEY = env_optional("WEB_PUSH_VAPID_PRIVATE_KEY") or ""
WEB_PUSH_VAPID_KEY_FILE = str(VAR_DIR / "vapid_private_key")
WEB_PUSH_VAPID_SUBJECT = env_str("WEB_PUSH_VAPID_SUBJECT", "mailto:ops@engipay.local")
WEB_PUSH_TTL_SECONDS = env_int("WEB_PUSH_TTL_SECONDS", 86400, minimum=0)
WEB_PUSH_TIMEOUT_SECONDS = env_int("WEB_PUSH_TIMEOUT_SECONDS", 10, minimum=1)
# Push endpoints are URLs the browser hands us and we POST to: only these push services' hosts (a leading dot
# allows subdomains), and only https unless WEB_PUSH_ALLOW_HTTP (tests, against a local push service).
WEB_PUSH_ENDPOINT_HOSTS = env_list(
    "WEB_PUSH_ENDPOINT_HOSTS",
    [
        "fcm.googleapis.com",
        "updates.push.services.mozilla.com",
        ".push.apple.com",
        ".notify.windows.com",
    ],
)
WEB_PUSH_ALLOW_HTTP = env_bool("WEB_PUSH_ALLOW_HTTP", False)

# --- SMS ---
# "console": the message is written to the log (development); "twilio": Twilio's Messages API.
SMS_PROVIDER = env_str("SMS_PROVIDER", "console")
TWILIO_API_BASE = env_str("TWILIO_API_BASE", "https://api.twilio.com").rstrip("/")
TWILIO_ACCOUNT_SID = env_optional("TWILIO_ACCOUNT_SID") or ""
TWILIO_AUTH_TOKEN = env_optional("TWILIO_AUTH_TOKEN") or ""
TWILIO_FROM = env_optional("TWILIO_FROM") or ""
TWILIO_MESSAGING_SERVICE_SID = env_optional("TWILIO_MESSAGING_SERVICE_SID") or ""
SMS_TIMEOUT_SECONDS = env_int("SMS_TIMEOUT_SECONDS", 10, minimum=1)
# Confirmation emails / phone codes per day: per user, and per address or number whoever asks.
NOTIFY_VERIFICATIONS_PER_USER_PER_DAY = env_int("NOTIFY_VERIFICATIONS_PER_USER_PER_DAY", 5, minimum=1)
NOTIFY_VERIFICATIONS_PER_TARGET_PER_DAY = env_int("NOTIFY_VERIFICATIONS_PER_TARGET_PER_DAY", 3, minimum=1)
# Phone confirmation codes: lifetime and wrong guesses allowed per code.
PHONE_CODE_TTL_SECONDS = env_int("PHONE_CODE_TTL_SECONDS", 600, minimum=60)
PHONE_CODE_MAX_ATTEMPTS = env_int("PHONE_CODE_MAX_ATTEMPTS", 5, minimum=1)

# --- Inbound webhooks (apps/webhooks) ---
# Senders of our own signed format: {"<source>": {"secret": "<hmac key>", "topics": ["blockchain", "prices",
# "defi"]}}. A source may only post to its topics. Header X-EngiPay-Source names the source.
WEBHOOK_SOURCES = env_json("WEBHOOK_SOURCES", {})
# `make run` sets WEBHOOK_DEV_SOURCE: with WEBHOOK_SOURCES unset, a sender "dev" for every topic whose secret is a
# random one kept in var/webhook_dev_secret (`manage.py webhook_sign` signs a payload with it). Never in production.
if env_bool("WEBHOOK_DEV_SOURCE", False) and not WEBHOOK_SOURCES:
    import secrets as _secrets

    WEBHOOK_SOURCES = {
        "dev": {
            "secret": var_secret(VAR_DIR / "webhook_dev_secret", lambda: _secrets.token_urlsafe(32)),
            "topics": ["blockchain", "prices", "defi"],
        }
    }
# Alchemy Notify (address activity): the webhook's signing key(s), and its network names -> our chain keys.
ALCHEMY_WEBHOOK_SIGNING_KEYS = env_list("ALCHEMY_WEBHOOK_SIGNING_KEYS", [])
ALCHEMY_NETWORKS = env_json("ALCHEMY_NETWORKS", {"ETH_MAINNET": "ethereum", "ETH_SEPOLIA": "sepolia"})
# A delivery whose timestamp is further than this from now (either way) is refused; for Alchemy, whose createdAt
# is kept by its retries, only a createdAt this far ahead of our clock.
WEBHOOK_TOLERANCE_SECONDS = env_int("WEBHOOK_TOLERANCE_SECONDS", 300, minimum=1)
# Larger bodies are refused before Django reads them (engipay/body_limit.py), and again by the view.
WEBHOOK_MAX_BYTES = env_int("WEBHOOK_MAX_BYTES", 256 * 1024, minimum=1024)
# Stored deliveries older than this are deleted (must exceed the tolerance: replays are refused by time after).
WEBHOOK_RETENTION_DAYS = env_int("WEBHOOK_RETENTION_DAYS", 30, minimum=1)
# Alchemy signs no timestamp and its retries (after an outage here) keep the original createdAt: its deliveries
# may be this old. Their replay guard is the event id, kept WEBHOOK_RETENTION_DAYS, so this is at most that long
# (a larger value is reported by the system check and cut to it).
ALCHEMY_WEBHOOK_TOLERANCE_SECONDS = env_int(
    "ALCHEMY_WEBHOOK_TOLERANCE_SECONDS", WEBHOOK_RETENTION_DAYS * 86400, minimum=1
)
# An accepted delivery still queued this long after its task was sent is queued again (the broker lost it), and so
# is a delivery that failed on a transient error this long after its retry was due.
WEBHOOK_SWEEP_GRACE_SECONDS = env_int("WEBHOOK_SWEEP_GRACE_SECONDS", 300, minimum=30)
WEBHOOK_SWEEP_EVERY_SECONDS = env_int("WEBHOOK_SWEEP_EVERY_SECONDS", 120, minimum=10)
# A pushed price is refused when it moves more than this percent from the latest price we read ourselves
# (Chainlink, CoinGecko) in the last 24 hours, or when there is none.
WEBHOOK_PRICE_MAX_DEVIATION_PERCENT = env_int("WEBHOOK_PRICE_MAX_DEVIATION_PERCENT", 10, minimum=1)
