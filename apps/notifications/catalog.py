"""Notification topics: what a user can switch on or off per channel.

A notification's ``kind`` (``transaction_confirmed``, ``kyc_rejected``, ``escrow_accepted`` …) belongs to one
topic: the kind itself when it is a topic, else the first family (``escrow_*``) whose prefix it has, else
``other``. Requests may name a topic, a family without its star (``escrow``) or any kind of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import Channel


@dataclass(frozen=True)
class Topic:
    key: str
    label: str
    kinds: tuple[str, ...] = ()  # exact kinds beside the key itself
    prefix: str = ""  # a family: every kind starting with this
    default_channels: tuple[str, ...] = (Channel.IN_APP, Channel.EMAIL)


TOPICS: tuple[Topic, ...] = (
    Topic("transaction_confirmed", "Transaction confirmed", kinds=("transaction_finalized",)),
    Topic("transaction_failed", "Transaction failed or dropped", kinds=("transaction_dropped", "transaction_reorged")),
    Topic("transaction_pending", "Transaction sent", default_channels=(Channel.IN_APP,)),
    Topic("escrow_*", "Escrow payments", prefix="escrow_"),
    Topic("kyc_*", "Identity verification", prefix="kyc_"),
    Topic("support_reply", "Support replies", prefix="support_"),
    Topic("price_alert", "Price alerts", prefix="price_alert"),
    Topic("defi_*", "DeFi positions", prefix="defi_"),
    Topic("other", "Other notifications", default_channels=(Channel.IN_APP,)),
)
BY_KEY = {topic.key: topic for topic in TOPICS}
CHANNELS: tuple[str, ...] = tuple(Channel.values)
# With no preference row: the live push and email (when the account has a verified address) are on.
DEFAULT_CHANNELS: tuple[str, ...] = (Channel.IN_APP, Channel.EMAIL)


def topic_of(kind: str) -> Topic:
    if kind in BY_KEY:
        return BY_KEY[kind]
    for topic in TOPICS:
        if kind in topic.kinds:
            return topic
    for topic in TOPICS:
        if topic.prefix and kind.startswith(topic.prefix):
            return topic
    return BY_KEY["other"]


def topic_key_for(name: str) -> str | None:
    """The topic a request's type names (a topic key, a family without its star, or a kind), or None."""
    name = name.strip()
    if name in BY_KEY:
        return name
    if f"{name}_*" in BY_KEY:
        return f"{name}_*"
    if not name or not name.replace("_", "").isalnum():
        return None
    topic = topic_of(name)
    if topic.key == "other" and name != "other":
        return None
    return topic.key
