"""SMS: notifications and phone confirmation codes, through the provider ``SMS_PROVIDER`` names.

- ``console`` (the default): the text is written to the log (a developer reads the code there); nothing reaches a
  phone, and the result says so (``provider_message_id="console"``).
- ``twilio``: Twilio's Messages API (``POST {TWILIO_API_BASE}/2010-04-01/Accounts/{sid}/Messages.json``, HTTP
  Basic ``sid:token``, form fields ``To``, ``Body`` and ``From`` and/or ``MessagingServiceSid``). 201 is sent (the
  message ``sid`` is kept); errors 21211/21610/21614 (invalid, unsubscribed, not SMS-capable recipient) bounce;
  HTTP 429, error 20429, 5xx, timeouts and network errors are retried; anything else (20003: our credentials)
  fails without retry.

An unknown provider or missing Twilio credentials fail every send with a clear reason, and the system checks
warn about them at start-up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import httpx
from django.conf import settings
from django.core import checks

from ..models import Delivery
from ..preferences import E164
from .base import PermanentDeliveryError, SendResult, TransientDeliveryError, retry_after_seconds

logger = logging.getLogger(__name__)

PROVIDERS = ("console", "twilio")
# A notification text: title and message, at most three GSM-7 segments (153 characters each once split).
MAX_NOTIFICATION_CHARS = 320
MAX_BODY_CHARS = 1600  # Twilio refuses longer bodies (error 21617)
# Twilio errors that are about the recipient: the number will never take our texts.
BOUNCE_CODES = {
    21211: "invalid 'To' number",
    21610: "the recipient replied STOP (unsubscribed)",
    21614: "the 'To' number cannot receive SMS",
}
RATE_LIMITED = 20429
AUTH_FAILED = 20003


class SmsProvider(Protocol):
    name: ClassVar[str]

    def send(self, *, to: str, body: str) -> SendResult:
        """Hand one text to the provider; raise ``TransientDeliveryError`` / ``PermanentDeliveryError``."""
        ...


class ConsoleSmsProvider:
    """Development: the text goes to the log, never to a phone."""

    name: ClassVar[str] = "console"

    def send(self, *, to: str, body: str) -> SendResult:
        logger.info("SMS not sent (SMS_PROVIDER=console) to %s: %s", to, body)
        return SendResult(provider_message_id="console")


@dataclass(frozen=True)
class TwilioSmsProvider:
    """Twilio's Messages API (reference/external-apis.md section 6); tests/doubles/twilio.py speaks the same."""

    account_sid: str
    auth_token: str
    from_number: str
    messaging_service_sid: str
    api_base: str
    timeout: float
    name: ClassVar[str] = "twilio"

    @classmethod
    def from_settings(cls) -> TwilioSmsProvider:
        missing = twilio_settings_missing()
        if missing:
            raise PermanentDeliveryError(f"SMS_PROVIDER is twilio but these are not set: {missing}.")
        return cls(
            account_sid=settings.TWILIO_ACCOUNT_SID,
            auth_token=settings.TWILIO_AUTH_TOKEN,
            from_number=settings.TWILIO_FROM,
            messaging_service_sid=settings.TWILIO_MESSAGING_SERVICE_SID,
            api_base=settings.TWILIO_API_BASE.rstrip("/"),
            timeout=settings.SMS_TIMEOUT_SECONDS,
        )

    @property
    def messages_url(self) -> str:
        return f"{self.api_base}/2010-04-01/Accounts/{self.account_sid}/Messages.json"

    def send(self, *, to: str, body: str) -> SendResult:
        form = {"To": to, "Body": body}
        if self.messaging_service_sid:
            form["MessagingServiceSid"] = self.messaging_service_sid
        if self.from_number:
            form["From"] = self.from_number
        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
                response = client.post(
                    self.messages_url,
                    data=form,
                    auth=(self.account_sid, self.auth_token),
                    headers={"Accept": "application/json"},
                )
        except httpx.TimeoutException:
            raise TransientDeliveryError(f"Twilio did not answer within {self.timeout:g}s.") from None
        except httpx.TransportError as exc:
            raise TransientDeliveryError(f"Twilio is unreachable: {type(exc).__name__}.") from None
        if response.status_code in (200, 201):
            # Accepted: even an odd body must not make the loop send the text again.
            sid = _json(response).get("sid")
            return SendResult(provider_message_id=sid if isinstance(sid, str) else "")
        raise _refusal(response)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _refusal(response: httpx.Response) -> Exception:
    """Twilio's error body ``{code, message, more_info, status}`` as a delivery error."""
    error = _json(response)
    status, code = response.status_code, error.get("code")
    detail = f"Twilio answered {status}"
    if code is not None:
        detail += f", error {code}"
    if error.get("message"):
        detail += f": {str(error['message'])[:300]}"
    if code in BOUNCE_CODES:
        return PermanentDeliveryError(f"{detail} ({BOUNCE_CODES[code]}).", bounced=True)
    if status == 429 or code == RATE_LIMITED or status >= 500:
        return TransientDeliveryError(detail, retry_after=retry_after_seconds(response.headers.get("Retry-After")))
    if status in (401, 403) or code == AUTH_FAILED:
        return PermanentDeliveryError(f"{detail} (check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN).")
    return PermanentDeliveryError(detail)


def twilio_settings_missing() -> str:
    """What Twilio needs and is not set, as a sentence fragment ('' when complete)."""
    missing = [name for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN") if not getattr(settings, name)]
    if not settings.TWILIO_FROM and not settings.TWILIO_MESSAGING_SERVICE_SID:
        missing.append("TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID")
    return "; ".join(missing)


def provider() -> SmsProvider:
    name = settings.SMS_PROVIDER.strip().lower()
    if name == ConsoleSmsProvider.name:
        return ConsoleSmsProvider()
    if name == TwilioSmsProvider.name:
        return TwilioSmsProvider.from_settings()
    raise PermanentDeliveryError(
        f"SMS_PROVIDER={settings.SMS_PROVIDER!r} is not an SMS provider: use {' or '.join(PROVIDERS)}."
    )


def sms_send_text(*, to: str, body: str) -> SendResult:
    """Text ``body`` to the E.164 number ``to`` (phone codes, notifications)."""
    if not E164.fullmatch(to or ""):
        raise PermanentDeliveryError(f"{to!r} is not an E.164 phone number.", bounced=True)
    body = body.strip()
    if not body:
        raise PermanentDeliveryError("An SMS needs a body.")
    return provider().send(to=to, body=shorten(body, MAX_BODY_CHARS))


def notification_text(delivery: Delivery) -> str:
    notification = delivery.notification
    title, message = notification.title.strip(), notification.message.strip()
    return shorten(f"{title}\n{message}" if message else title, MAX_NOTIFICATION_CHARS)


def shorten(text: str, limit: int) -> str:
    # "..." rather than "…": one non-GSM-7 character makes the whole text UCS-2, 70 characters a segment.
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def send(delivery: Delivery) -> SendResult:
    return sms_send_text(to=delivery.target, body=notification_text(delivery))


@checks.register(checks.Tags.compatibility)
def sms_configuration_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    name = settings.SMS_PROVIDER.strip().lower()
    if name not in PROVIDERS:
        return [
            checks.Warning(
                f"SMS_PROVIDER={settings.SMS_PROVIDER!r} is not an SMS provider: every SMS will fail.",
                hint=f"Use one of: {', '.join(PROVIDERS)}.",
                id="notifications.W002",
            )
        ]
    missing = twilio_settings_missing()
    if name == TwilioSmsProvider.name and missing:
        return [
            checks.Warning(
                f"SMS_PROVIDER is twilio but these are not set: {missing}. Every SMS will fail.",
                id="notifications.W003",
            )
        ]
    return []


@checks.register(checks.Tags.security, deploy=True)
def sms_deploy_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    if settings.SMS_PROVIDER.strip().lower() != ConsoleSmsProvider.name:
        return []
    return [
        checks.Warning(
            "SMS_PROVIDER is console: texts, phone confirmation codes included, are written to the log and never "
            "reach a phone.",
            hint="Set SMS_PROVIDER=twilio and the TWILIO_* variables.",
            id="notifications.W004",
        )
    ]
