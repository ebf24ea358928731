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

# --- Live chat (apps/support/services/chat.py) ---
# Minutes one chat takes when fewer than 3 chats ended in the last 24 h to average over (queue wait estimates).
SUPPORT_CHAT_DEFAULT_HANDLING_MINUTES = env_int("SUPPORT_CHAT_DEFAULT_HANDLING_MINUTES", 5, minimum=1)
# Longest chat message (characters), over the API and the websocket.
SUPPORT_CHAT_MESSAGE_MAX_CHARS = env_int("SUPPORT_CHAT_MESSAGE_MAX_CHARS", 2000, minimum=1)
# Per chat socket: a burst of this many messages, refilled at SUPPORT_CHAT_MESSAGES_PER_MINUTE.
SUPPORT_CHAT_MESSAGE_BURST = env_int("SUPPORT_CHAT_MESSAGE_BURST", 10, minimum=1)
SUPPORT_CHAT_MESSAGES_PER_MINUTE = env_int("SUPPORT_CHAT_MESSAGES_PER_MINUTE", 60, minimum=1)
# Queued sessions listed in an agent console snapshot (the oldest first).
SUPPORT_CHAT_CONSOLE_QUEUE_LIMIT = env_int("SUPPORT_CHAT_CONSOLE_QUEUE_LIMIT", 50, minimum=1)
# Largest ticket request body (JSON with base64 attachments, or multipart): a full set of attachments in base64
# plus room for the text fields. Larger bodies are refused with 413 before they are parsed.
SUPPORT_REQUEST_MAX_BYTES = env_int(
    "SUPPORT_REQUEST_MAX_BYTES",
    SUPPORT_ATTACHMENTS_PER_MESSAGE * ((SUPPORT_ATTACHMENT_MAX_BYTES + 2) // 3 * 4 * 105 // 100 + 64) + 1024 * 1024,
    minimum=64 * 1024,
)
