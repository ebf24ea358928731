"""Who hears about what, where, and when: preferences, subscriptions, quiet hours, signed links.

Read by ``notify()`` (which channels a new notification goes out on) and written by the preferences API, the
subscribe endpoint and the signed links in emails (unsubscribe, confirm address), which need no login.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from engipay.api.errors import ApplicationError, InvalidInput, NotFound, StateConflict

from . import catalog
from .models import Channel, NotificationPreference, PushSubscription

UNSUBSCRIBE_SALT = "notifications.unsubscribe"
EMAIL_CONFIRM_SALT = "notifications.email-confirm"
EMAIL_CONFIRM_MAX_AGE = 3 * 24 * 3600
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MAX_PUSH_SUBSCRIPTIONS = 10
RESEND_AFTER = timedelta(seconds=60)  # least time between two phone codes


def preference_for(user) -> NotificationPreference:
    """The user's preferences, or the unsaved defaults (nothing is written by reading)."""
    found = NotificationPreference.objects.filter(user=user).first()
    if found is not None:
        return found
    pref = NotificationPreference(user=user, channels=list(catalog.DEFAULT_CHANNELS), types={})
    if user.email and user.is_email_verified:
        pref.email, pref.email_verified_at = user.email, user.created_at
    return pref


def _locked_preference(user) -> NotificationPreference:
    """The user's row, created with the defaults if missing, locked for the rest of the transaction."""
    default = preference_for(user)
    if default.pk is None or default._state.adding:
        try:
            with transaction.atomic():
                default.save(force_insert=True)
        except IntegrityError:
            pass  # created concurrently: lock theirs
    return NotificationPreference.objects.select_for_update().get(user=user)


def channels_for(pref: NotificationPreference, kind: str) -> list[str]:
    """Channels a notification of ``kind`` goes out on, before checking that each has a target."""
    topic = catalog.topic_of(kind)
    wanted = pref.types.get(topic.key, list(topic.default_channels))
    return [channel for channel in catalog.CHANNELS if channel in wanted and channel in pref.channels]


def effective_types(pref: NotificationPreference) -> dict[str, list[str]]:
    return {
        topic.key: [c for c in catalog.CHANNELS if c in pref.types.get(topic.key, list(topic.default_channels))]
        for topic in catalog.TOPICS
    }


# --- Quiet hours -------------------------------------------------------------------------------------------


def quiet_until(pref: NotificationPreference, now: datetime | None = None) -> datetime | None:
    """The end of the quiet hours ``now`` falls in, or None. Start == end means no quiet hours."""
    start, end = pref.quiet_hours_start, pref.quiet_hours_end
    if start is None or end is None or start == end:
        return None
    zone = ZoneInfo(pref.timezone or "UTC")
    local = (now or timezone.now()).astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= clock < end
        end_day = local.date()
    else:  # over midnight, e.g. 22:00-07:00
        inside = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not inside:
        return None
    return datetime.combine(end_day, end, tzinfo=zone)


def _clock(raw: Any) -> time | None:
    if not isinstance(raw, str) or not re.fullmatch(r"\d{2}:\d{2}", raw):
        return None
    try:
        return time.fromisoformat(raw)
    except ValueError:
        return None


def _zone_exists(name: Any) -> bool:
    if not isinstance(name, str) or not name or len(name) > 64:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _parse_quiet_hours(value: Any) -> tuple[time | None, time | None, str | None]:
    if value is None:
        return None, None, None
    if not isinstance(value, dict):
        raise InvalidInput("invalid_quiet_hours", "quiet_hours is an object {start, end, timezone} or null.")
    errors: dict[str, list[str]] = {}
    parsed: dict[str, time] = {}
    for field in ("start", "end"):
        clock = _clock(value.get(field))
        if clock is None:
            errors[field] = ["A local time HH:MM, e.g. 22:00."]
        else:
            parsed[field] = clock
    zone_name = value.get("timezone")  # absent: the user's current time zone stays
    if zone_name is not None and not _zone_exists(zone_name):
        errors["timezone"] = ["An IANA time zone name, e.g. Europe/Berlin."]
    if errors:
        raise InvalidInput("invalid_quiet_hours", "quiet_hours is not valid.", errors)
    return parsed["start"], parsed["end"], zone_name


# --- Validation --------------------------------------------------------------------------------------------


def _channels(value: Any, field: str = "channels") -> list[str]:
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise InvalidInput("invalid_channels", f"{field} is a list of channel names.", {field: list(catalog.CHANNELS)})
    unknown = sorted(set(value) - set(catalog.CHANNELS))
    if unknown:
        raise InvalidInput(
            "invalid_channels",
            f"Unknown channel(s): {', '.join(unknown)}.",
            {field: [f"Choose from {', '.join(catalog.CHANNELS)}."]},
        )
    return [c for c in catalog.CHANNELS if c in value]


def _topics(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise InvalidInput("invalid_types", "types is a list of notification types.")
    keys, unknown = [], []
    for name in value:
        key = catalog.topic_key_for(name)
        (keys if key else unknown).append(key or name)
    if unknown:
        raise InvalidInput(
            "invalid_types",
            f"Unknown notification type(s): {', '.join(sorted(unknown))}.",
            {"types": [f"Choose from {', '.join(catalog.BY_KEY)}."]},
        )
    return list(dict.fromkeys(keys))


def _email(value: Any) -> str:
    invalid = InvalidInput("invalid_email", "email is not a valid address.", {"email": ["Enter a valid email."]})
    if not isinstance(value, str) or len(value) > 254:
        raise invalid
    try:
        validate_email(value.strip())
    except ValidationError:
        raise invalid from None
    local, _, domain = value.strip().rpartition("@")
    return f"{local}@{domain.lower()}"


def _phone(value: Any) -> str:
    if not isinstance(value, str) or not E164.fullmatch(value.strip()):
        raise InvalidInput(
            "invalid_phone", "phone must be in E.164 form, e.g. +14155550123.", {"phone": ["E.164, e.g. +14155550123."]}
        )
    return value.strip()


class VerificationLimit(ApplicationError):
    """Too many confirmation emails or codes: 429 (no inbox bombing, no SMS pumping)."""

    status_code = 429
    default_code = "verification_limit"


def _verification_budget(kind: str, *, user_id: Any, target: str) -> None:
    """Count one confirmation sent to ``target`` for ``user_id``; refuse past the daily budgets: per user (an
    account cycling through numbers or addresses) and per target (many accounts aiming at one victim)."""
    day = 24 * 3600
    digest = hashlib.sha256(target.lower().encode()).hexdigest()[:32]
    budgets = [
        (f"notify-verify:{kind}:user:{user_id}", settings.NOTIFY_VERIFICATIONS_PER_USER_PER_DAY),
        (f"notify-verify:{kind}:target:{digest}", settings.NOTIFY_VERIFICATIONS_PER_TARGET_PER_DAY),
    ]
    for key, _ in budgets:
        cache.add(key, 0, timeout=day)
    counts = [(cache.incr(key), budget) for key, budget in budgets]
    if any(count > budget for count, budget in counts):
        noun = "emails" if kind == "email" else "codes"
        raise VerificationLimit(
            "verification_limit",
            f"Too many confirmation {noun} today; try again tomorrow.",
            {"retry_after_seconds": day},
        )


@dataclass(frozen=True)
class PushKeys:
    endpoint: str
    p256dh: str
    auth: str


def _push_subscription(value: Any) -> PushKeys:
    """A browser's ``PushSubscription.toJSON()``; the endpoint must be a known push service (we POST to it)."""
    bad = InvalidInput(
        "invalid_push_subscription",
        "push_subscription is the browser's PushSubscription JSON: {endpoint, keys: {p256dh, auth}}.",
    )
    if not isinstance(value, dict) or not isinstance(value.get("keys"), dict):
        raise bad
    endpoint, keys = value.get("endpoint"), value["keys"]
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    b64url = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")
    if not (isinstance(p256dh, str) and b64url.fullmatch(p256dh) and 80 <= len(p256dh) <= 100):
        raise bad  # an uncompressed P-256 point: 65 bytes, 87 characters of base64url
    try:  # a point on the curve, or nothing can ever be encrypted to it
        raw = base64.urlsafe_b64decode(p256dh + "=" * (-len(p256dh) % 4))
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        raise bad from None
    if not (isinstance(auth, str) and b64url.fullmatch(auth) and 16 <= len(auth) <= 32):
        raise bad  # 16 random bytes
    if not isinstance(endpoint, str) or len(endpoint) > 1024:
        raise bad
    parts = urlsplit(endpoint)
    schemes = {"https", "http"} if settings.WEB_PUSH_ALLOW_HTTP else {"https"}
    host = (parts.hostname or "").lower()
    allowed = any(
        host == entry or (entry.startswith(".") and host.endswith(entry)) for entry in settings.WEB_PUSH_ENDPOINT_HOSTS
    )
    if parts.scheme not in schemes or not allowed or parts.username or parts.password:
        raise InvalidInput(
            "push_endpoint_not_allowed",
            "The push endpoint is not a known push service.",
            {"endpoint": [f"Allowed hosts: {', '.join(settings.WEB_PUSH_ENDPOINT_HOSTS)}."]},
        )
    return PushKeys(endpoint=endpoint, p256dh=p256dh, auth=auth)


# --- Writes ------------------------------------------------------------------------------------------------


@dataclass
class Pending:
    """Targets waiting for proof (a link mailed, a code texted): sent after commit by the caller's tasks."""

    email: bool = False
    phone: bool = False

    def as_list(self) -> list[str]:
        return [name for name, flag in (("email", self.email), ("phone", self.phone)) if flag]


def _set_email(pref: NotificationPreference, email: str, pending: Pending) -> None:
    user = pref.user
    if email == pref.email and pref.email_verified_at:
        return
    pref.email = email
    if user.email and user.is_email_verified and user.email.lower() == email.lower():
        pref.email_verified_at = timezone.now()  # the account's own, already proven address
    else:
        _verification_budget("email", user_id=user.pk, target=email)
        pref.email_verified_at = None
        pending.email = True


def _set_phone(pref: NotificationPreference, phone: str, pending: Pending) -> None:
    if phone == pref.phone and pref.phone_verified_at:
        return
    _verification_budget("phone", user_id=pref.user_id, target=phone)
    if phone != pref.phone:
        pref.phone_code_hash, pref.phone_code_expires_at, pref.phone_code_attempts = "", None, 0
    pref.phone, pref.phone_verified_at = phone, None
    pending.phone = True


def _add_push_subscription(user, keys: PushKeys, user_agent: str) -> PushSubscription:
    existing = PushSubscription.objects.filter(endpoint=keys.endpoint).first()
    if existing is not None and existing.user_id != user.pk:
        same_browser = hmac.compare_digest(existing.p256dh, keys.p256dh) and hmac.compare_digest(
            existing.auth, keys.auth
        )
        if not same_browser:  # someone who merely knows the endpoint URL must not take it over
            raise StateConflict(
                "push_subscription_in_use", "This push subscription belongs to another browser session."
            )
        existing.delete()  # the browser signed in to another account: the old one must not get its pushes
        existing = None
    if existing is None and PushSubscription.objects.filter(user=user).count() >= MAX_PUSH_SUBSCRIPTIONS:
        raise StateConflict(
            "too_many_push_subscriptions",
            f"At most {MAX_PUSH_SUBSCRIPTIONS} browsers can receive push notifications; remove one first.",
        )
    subscription, _ = PushSubscription.objects.update_or_create(
        endpoint=keys.endpoint,
        defaults={"user": user, "p256dh": keys.p256dh, "auth": keys.auth, "user_agent": user_agent[:256]},
    )
    return subscription


def _after_commit(user, pending: Pending) -> None:
    from . import tasks  # the tasks module imports services, which import this module

    # robust: the choice is committed; a broker outage loses the email / code (the user asks again), not the request.
    if pending.email:
        transaction.on_commit(lambda: tasks.email_confirmation_send.delay(user_id=str(user.pk)), robust=True)
    if pending.phone:
        transaction.on_commit(lambda: tasks.phone_code_send.delay(user_id=str(user.pk)), robust=True)


@transaction.atomic
def notifications_subscribe(
    *,
    user,
    channels: Any,
    types: Any = None,
    email: Any = None,
    phone: Any = None,
    push_subscription: Any = None,
    user_agent: str = "",
) -> tuple[NotificationPreference, Pending]:
    """``POST /api/notifications/subscribe``: switch ``channels`` on for ``types`` (all topics when omitted)."""
    wanted = _channels(channels)
    if not wanted:
        raise InvalidInput("invalid_channels", "Name at least one channel.", {"channels": ["Required."]})
    topics = _topics(types) if types is not None else [topic.key for topic in catalog.TOPICS]
    keys = _push_subscription(push_subscription) if push_subscription is not None else None
    new_email = _email(email) if email is not None else None
    new_phone = _phone(phone) if phone is not None else None
    pref = _locked_preference(user)
    pending = Pending()
    if new_email:
        _set_email(pref, new_email, pending)
    if new_phone:
        _set_phone(pref, new_phone, pending)
    if keys is not None:
        _add_push_subscription(user, keys, user_agent)
    missing = {}
    if Channel.EMAIL in wanted and not pref.email:
        missing["email"] = ["Give an email address (the account has no verified one)."]
    if Channel.SMS in wanted and not pref.phone:
        missing["phone"] = ["Give a phone number for SMS."]
    if Channel.WEB_PUSH in wanted and keys is None and not PushSubscription.objects.filter(user=user).exists():
        missing["push_subscription"] = ["Give the browser's push subscription."]
    if missing:
        raise InvalidInput("channel_target_missing", "A channel has nowhere to deliver to.", missing)
    pref.channels = [c for c in catalog.CHANNELS if c in pref.channels or c in wanted]
    types_now = effective_types(pref)
    for key in topics:
        types_now[key] = [c for c in catalog.CHANNELS if c in types_now[key] or c in wanted]
    pref.types = types_now
    pref.save()
    _after_commit(user, pending)
    return pref, pending


@transaction.atomic
def preferences_update(*, user, data: dict[str, Any]) -> tuple[NotificationPreference, Pending]:
    """``PATCH /api/notifications/preferences``: only the fields given change."""
    known = {"channels", "types", "email", "phone", "quiet_hours"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidInput(
            "unknown_fields", f"Unknown field(s): {', '.join(unknown)}.", {f: ["Unknown."] for f in unknown}
        )
    channels = _channels(data["channels"]) if "channels" in data else None
    types: dict[str, list[str]] | None = None
    if "types" in data:
        if not isinstance(data["types"], dict):
            raise InvalidInput("invalid_types", "types is an object: notification type -> list of channels.")
        types = {}
        for name, value in data["types"].items():
            key = catalog.topic_key_for(name) if isinstance(name, str) else None
            if key is None:
                raise InvalidInput("invalid_types", f"Unknown notification type: {name}.", {"types": [str(name)]})
            types[key] = _channels(value, field=f"types.{name}")
    quiet = _parse_quiet_hours(data["quiet_hours"]) if "quiet_hours" in data else None
    new_email = _email(data["email"]) if data.get("email") is not None else None
    new_phone = _phone(data["phone"]) if data.get("phone") is not None else None
    pref = _locked_preference(user)
    pending = Pending()
    if channels is not None:
        pref.channels = channels
    if types is not None:
        pref.types = {**effective_types(pref), **types}
    if quiet is not None:
        pref.quiet_hours_start, pref.quiet_hours_end, zone = quiet
        pref.timezone = zone or pref.timezone or "UTC"
    if "email" in data:
        if new_email:
            _set_email(pref, new_email, pending)
        else:
            pref.email, pref.email_verified_at = "", None
    if "phone" in data:
        if new_phone:
            _set_phone(pref, new_phone, pending)
        else:
            pref.phone, pref.phone_verified_at, pref.phone_code_hash = "", None, ""
    pref.save()
    _after_commit(user, pending)
    return pref, pending


def target_unconfirm(*, user, channel: str, target: str) -> None:
    """The email address or phone bounced: it is not used again until confirmed again (or replaced)."""
    pref = _locked_preference(user)
    if channel == Channel.EMAIL and pref.email == target:
        pref.email_verified_at = None
    elif channel == Channel.SMS and pref.phone == target:
        pref.phone_verified_at = None
    else:
        return
    pref.save()


@transaction.atomic
def push_subscription_delete(*, user, subscription_id) -> None:
    deleted, _ = PushSubscription.objects.filter(user=user, pk=subscription_id).delete()
    if not deleted:
        raise NotFound("not_found", "No such push subscription.")


# --- Unsubscribe links (no login: the signed token is the authority) ---------------------------------------


def unsubscribe_token(*, user_id: Any, topic: str | None) -> str:
    """A link that switches email off for one topic (or all email with ``topic=None``). Never expires: a link in
    an old email must still work; it can only switch email off for the user it was made for."""
    return signing.dumps({"u": str(user_id), "t": topic or "*"}, salt=UNSUBSCRIBE_SALT, compress=True)


@dataclass(frozen=True)
class UnsubscribeClaim:
    user_id: str
    topic: str | None

    @property
    def label(self) -> str:
        return catalog.BY_KEY[self.topic].label if self.topic else "all notification emails"


def unsubscribe_claim(token: str) -> UnsubscribeClaim:
    invalid = InvalidInput("invalid_token", "This unsubscribe link is not valid.")
    try:
        claim = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        raise invalid from None
    if not isinstance(claim, dict) or not isinstance(claim.get("u"), str):
        raise invalid
    topic = claim.get("t")
    if topic != "*" and topic not in catalog.BY_KEY:
        raise invalid
    return UnsubscribeClaim(user_id=claim["u"], topic=None if topic == "*" else topic)


@transaction.atomic
def unsubscribe_apply(*, token: str) -> UnsubscribeClaim:
    """Switch email off as the token says; idempotent (a second click changes nothing)."""
    from django.contrib.auth import get_user_model

    claim = unsubscribe_claim(token)
    user = get_user_model().objects.filter(pk=claim.user_id).first()
    if user is None:
        raise InvalidInput("invalid_token", "This unsubscribe link is not valid.")
    pref = _locked_preference(user)
    if claim.topic is None:
        pref.channels = [c for c in pref.channels if c != Channel.EMAIL]
    else:
        types = effective_types(pref)
        types[claim.topic] = [c for c in types[claim.topic] if c != Channel.EMAIL]
        pref.types = types
    pref.save()
    return claim


# --- Confirming an email address and a phone number -------------------------------------------------------


def email_confirmation_token(pref: NotificationPreference) -> str:
    return signing.dumps({"u": str(pref.user_id), "e": pref.email}, salt=EMAIL_CONFIRM_SALT)


@transaction.atomic
def email_confirm(*, token: str) -> NotificationPreference:
    invalid = InvalidInput("invalid_token", "This confirmation link is not valid or has expired.")
    try:
        claim = signing.loads(token, salt=EMAIL_CONFIRM_SALT, max_age=EMAIL_CONFIRM_MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError):
        raise invalid from None
    pref = NotificationPreference.objects.select_for_update().filter(user_id=claim.get("u")).first()
    if pref is None or pref.email != claim.get("e"):
        raise invalid  # the address changed since this link was sent
    if pref.email_verified_at is None:
        pref.email_verified_at = timezone.now()
        pref.save(update_fields=["email_verified_at", "updated_at"])
    return pref


def _code_hash(user_id: Any, phone: str, code: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"phone-code:{user_id}:{phone}:{code}".encode(), hashlib.sha256).hexdigest()


@transaction.atomic
def phone_code_issue(*, user_id: Any, resend_guard: bool = True) -> tuple[str, str] | None:
    """A fresh 6-digit code for the user's unconfirmed phone: (phone, code), or None if nothing to confirm.
    ``resend_guard=False`` for a retry of a send that failed: the code issued before never reached the phone."""
    pref = NotificationPreference.objects.select_for_update().filter(user_id=user_id).first()
    if pref is None or not pref.phone or pref.phone_verified_at:
        return None
    now = timezone.now()
    ttl = timedelta(seconds=settings.PHONE_CODE_TTL_SECONDS)
    recent = pref.phone_code_expires_at and pref.phone_code_expires_at - ttl > now - RESEND_AFTER
    if resend_guard and pref.phone_code_hash and recent:
        return None  # a code went out less than a minute ago: no SMS flood by repeating the request
    code = f"{secrets.randbelow(10**6):06d}"
    pref.phone_code_hash = _code_hash(user_id, pref.phone, code)
    pref.phone_code_expires_at = now + ttl
    pref.phone_code_attempts = 0
    pref.save(update_fields=["phone_code_hash", "phone_code_expires_at", "phone_code_attempts", "updated_at"])
    return pref.phone, code


def phone_verify(*, user, code: Any) -> NotificationPreference:
    """``POST /api/notifications/phone/verify``: the code texted to the phone proves it."""
    if not isinstance(code, str) or not re.fullmatch(r"\d{6}", code.strip()):
        raise InvalidInput("invalid_code", "code is the 6-digit code sent by SMS.", {"code": ["Six digits."]})
    with transaction.atomic():
        pref = NotificationPreference.objects.select_for_update().filter(user=user).first()
        if pref is None or not pref.phone:
            raise StateConflict("no_phone", "There is no phone number to confirm.")
        if pref.phone_verified_at:
            return pref
        expired = pref.phone_code_expires_at is None or pref.phone_code_expires_at < timezone.now()
        if not pref.phone_code_hash or expired or pref.phone_code_attempts >= settings.PHONE_CODE_MAX_ATTEMPTS:
            raise StateConflict("code_expired", "The code has expired or was tried too often; ask for a new one.")
        if hmac.compare_digest(pref.phone_code_hash, _code_hash(user.pk, pref.phone, code.strip())):
            pref.phone_verified_at, pref.phone_code_hash = timezone.now(), ""
            pref.save(update_fields=["phone_verified_at", "phone_code_hash", "updated_at"])
            return pref
        pref.phone_code_attempts += 1
        pref.save(update_fields=["phone_code_attempts", "updated_at"])
    raise InvalidInput("wrong_code", "The code is not right.", {"code": ["Wrong code."]})
