"""Support: tickets, attachments, live chat (apps/support).

Every variable is listed with its default in README.md ("Configuration").
"""

from __future__ import annotations

from .env import VAR_DIR, env_int, env_str

# Ticket and chat attachments live here, outside MEDIA_ROOT and STATIC_ROOT: never under a public URL, served
# only through a permission-checked view.
SUPPORT_PRIVATE_ROOT = env_str("SUPPORT_PRIVATE_ROOT", str(VAR_DIR / "private" / "support"))
# Largest accepted attachment (decoded bytes) and how many a ticket message may carry.
SUPPORT_ATTACHMENT_MAX_BYTES = env_int("SUPPORT_ATTACHMENT_MAX_BYTES", 5 * 1024 * 1024, minimum=1024)
SUPPORT_ATTACHMENTS_PER_MESSAGE = env_int("SUPPORT_ATTACHMENTS_PER_MESSAGE", 5, minimum=1)
# Images larger than this many pixels are refused before decoding (decompression bombs).
SUPPORT_IMAGE_MAX_PIXELS = env_int("SUPPORT_IMAGE_MAX_PIXELS", 25_000_000, minimum=10_000)
# Concurrent chats an agent takes unless their profile says otherwise.
SUPPORT_AGENT_DEFAULT_CAPACITY = env_int("SUPPORT_AGENT_DEFAULT_CAPACITY", 3, minimum=1)
