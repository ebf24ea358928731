"""A local Twilio Messages API (reference/external-apis.md section 6), for tests and the sandbox.

``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` as Twilio checks it: HTTP Basic ``AccountSid:AuthToken``
for the account in the path (else 401, error 20003), an ``application/x-www-form-urlencoded`` body (a JSON body
has no ``To``: 21604), ``To`` in E.164 (else 21211), ``From`` one of the account's numbers (21606) and/or a known
``MessagingServiceSid`` (neither: 21603), a ``Body`` (21602) of at most 1600 characters (21617). An accepted
message answers 201 with Twilio's JSON (``sid`` = ``SM`` + 32 hex, ``status`` ``queued``, or ``accepted`` with a
Messaging Service, RFC 2822 dates, ``num_segments`` …) and is kept in :attr:`messages`;
``GET .../Messages/{sid}.json`` reads it back. Without ``.json`` Twilio answers XML, and so does this double.

Errors carry Twilio's body ``{code, message, more_info, status}``. A test can make a number refuse every text
(:meth:`refuse`, e.g. 21211 / 21610 / 21614, as Twilio's magic test numbers do) or queue answers for the next
requests (:meth:`plan`: ``plan("+14155550100", 500, 201)``, ``Answer(429, retry_after=30)``,
``Answer(400, code=21614)``; ``to="*"`` for any number).

``python -m tests.doubles.twilio --port 3006`` runs it as a sandbox (prints each text).
"""

from __future__ import annotations

import argparse
import base64
import hmac
import json
import re
import secrets
import sys
import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from tests.doubles.server import LocalHTTPDouble, LocalHTTPHandler, LocalHTTPServer

API_VERSION = "2010-04-01"
E164 = re.compile(r"^\+[1-9]\d{1,14}$")
MAX_BODY_CHARS = 1600
# GSM 03.38 basic character set (and the extension table, which takes two septets).
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")
MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    21211: "Invalid 'To' Phone Number: {to}",
    21602: "Message body is required.",
    21603: "A 'From' or 'MessagingServiceSid' parameter is required to send a message.",
    21604: "A 'To' phone number is required.",
    21606: "The From phone number {from_} is not a valid, SMS-capable inbound phone number or short code for your "
    "account.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
}
DEFAULT_CODES = {400: 21211, 401: 20003, 404: 20404, 429: 20429, 500: 20500, 503: 20500}


@dataclass(frozen=True)
class Answer:
    """A planned answer: a status, Twilio's error code (default per status) and an optional Retry-After."""

    status: int
    code: int | None = None
    retry_after: int | None = None


@dataclass
class Message:
    sid: str
    account_sid: str
    to: str
    from_: str | None
    body: str
    messaging_service_sid: str | None
    created: datetime
    status: str

    @property
    def num_segments(self) -> int:
        if all(c in GSM7 or c in GSM7_EXTENDED for c in self.body):
            septets = len(self.body) + sum(c in GSM7_EXTENDED for c in self.body)
            return 1 if septets <= 160 else -(-septets // 153)
        units = len(self.body.encode("utf-16-le")) // 2
        return 1 if units <= 70 else -(-units // 67)

    def as_json(self) -> dict[str, Any]:
        date = format_datetime(self.created)
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": date,
            "date_sent": None,
            "date_updated": date,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": "0",
            "num_segments": str(self.num_segments),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": self.to,
            "uri": f"{uri}.json",
        }


class _Refused(Exception):
    def __init__(self, status: int, code: int, headers: dict[str, str] | None = None, **fields: str) -> None:
        self.status, self.code, self.headers = status, code, headers or {}
        self.message = MESSAGES.get(code, "Error").format(to=fields.get("to", ""), from_=fields.get("from_", ""))
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


class TwilioState:
    def __init__(
        self, *, account_sid: str, auth_token: str, numbers: set[str], messaging_service_sids: set[str]
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.numbers = numbers
        self.messaging_service_sids = messaging_service_sids
        self.lock = threading.RLock()
        self.messages: list[Message] = []
        self.requests: list[dict[str, Any]] = []  # every request: method, path, form, status, code
        self.refusals: dict[str, int] = {}  # number -> error code, for every text
        self.plans: dict[str, deque[Answer]] = {}  # number (or "*") -> next answers


def _xml(payload: dict[str, Any], root: str) -> bytes:
    inner = "".join(f"<{_camel(k)}>{escape(str(v))}</{_camel(k)}>" for k, v in payload.items() if v is not None)
    return f'<?xml version="1.0" encoding="UTF-8"?><TwilioResponse><{root}>{inner}</{root}></TwilioResponse>'.encode()


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


class _Handler(LocalHTTPHandler):
    server: _Server

    def _send(
        self, status: int, payload: dict[str, Any], *, as_json: bool, root: str, headers: dict[str, str] | None = None
    ) -> None:
        if as_json:
            self._reply(status, json.dumps(payload).encode(), "application/json; charset=utf-8", headers)
        else:
            self._reply(status, _xml(payload, root), "application/xml", headers)

    def _handle(self) -> None:
        state = self.server.double.state
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urlsplit(self.path).path
        as_json = path.endswith(".json")
        record: dict[str, Any] = {"method": self.command, "path": path, "form": {}, "status": 0, "code": None}
        with state.lock:
            state.requests.append(record)
        try:
            status, payload = self._route(state, path.removesuffix(".json"), body, record)
        except _Refused as exc:
            with state.lock:
                record.update(status=exc.status, code=exc.code)
            self._send(exc.status, exc.body(), as_json=as_json, root="RestException", headers=exc.headers)
            return
        with state.lock:
            record["status"] = status
        self._send(status, payload, as_json=as_json, root="Message")

    do_GET = _handle
    do_POST = _handle

    def _route(self, state: TwilioState, path: str, body: bytes, record: dict[str, Any]) -> tuple[int, dict]:
        parts = [p for p in path.split("/") if p]
        if len(parts) < 3 or parts[:2] != [API_VERSION, "Accounts"]:
            raise _Refused(404, 20404)
        self._authenticate(state, parts[2])
        match (self.command, parts[3:]):
            case ("POST", ["Messages"]):
                form = self._form(body)
                record["form"] = form
                return 201, self._create(state, form).as_json()
            case ("GET", ["Messages", sid]):
                with state.lock:
                    found = next((m for m in state.messages if m.sid == sid), None)
                if found is None:
                    raise _Refused(404, 20404)
                return 200, found.as_json()
        raise _Refused(404, 20404)

    def _authenticate(self, state: TwilioState, account_sid: str) -> None:
        scheme, _, encoded = (self.headers.get("Authorization") or "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except ValueError:
            user = password = ""
        ok = (
            scheme.lower() == "basic"
            and hmac.compare_digest(user, state.account_sid)
            and hmac.compare_digest(password, state.auth_token)
            and account_sid == state.account_sid
        )
        if not ok:
            raise _Refused(401, 20003, {"WWW-Authenticate": 'Basic realm="Twilio API"'})

    def _form(self, body: bytes) -> dict[str, str]:
        if not (self.headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
            return {}  # Twilio reads only form fields: a JSON body has no To (21604)
        try:
            parsed = parse_qs(body.decode(), keep_blank_values=True, strict_parsing=bool(body))
        except (ValueError, UnicodeDecodeError):
            return {}
        return {name: values[0] for name, values in parsed.items()}

    def _create(self, state: TwilioState, form: dict[str, str]) -> Message:
        to, from_, service = form.get("To", ""), form.get("From") or None, form.get("MessagingServiceSid") or None
        text = form.get("Body", "")
        if not to:
            raise _Refused(400, 21604)
        if not E164.fullmatch(to):
            raise _Refused(400, 21211, to=to)
        if from_ is None and service is None:
            raise _Refused(400, 21603)
        if service is not None and service not in state.messaging_service_sids:
            raise _Refused(404, 20404)
        if from_ is not None and from_ not in state.numbers:
            raise _Refused(400, 21606, from_=from_)
        if not text:
            raise _Refused(400, 21602)
        if len(text) > MAX_BODY_CHARS:
            raise _Refused(400, 21617)
        self._planned(state, to)
        message = Message(
            sid="SM" + secrets.token_hex(16),
            account_sid=state.account_sid,
            to=to,
            from_=from_,
            body=text,
            messaging_service_sid=service,
            created=datetime.now(tz=UTC).replace(microsecond=0),
            status="accepted" if service else "queued",
        )
        with state.lock:
            state.messages.append(message)
        return message

    def _planned(self, state: TwilioState, to: str) -> None:
        with state.lock:
            if to in state.refusals:
                raise _Refused(400, state.refusals[to], to=to)
            for key in (to, "*"):
                if state.plans.get(key):
                    answer = state.plans[key].popleft()
                    break
            else:
                return
        if answer.status in (200, 201):
            return
        headers = {"Retry-After": str(answer.retry_after)} if answer.retry_after is not None else {}
        raise _Refused(answer.status, answer.code or DEFAULT_CODES.get(answer.status, 20500), headers, to=to)


class _Server(LocalHTTPServer):
    double: TwilioDouble


class TwilioDouble(LocalHTTPDouble):
    """``with TwilioDouble() as twilio: ... twilio.url, twilio.account_sid, twilio.messages``."""

    server_class = _Server
    handler_class = _Handler
    thread_name = "twilio-double"

    def __init__(
        self,
        *,
        account_sid: str | None = None,
        auth_token: str = "test-auth-token",  # noqa: S107 - a test double's own credentials
        numbers: tuple[str, ...] = ("+15005550006",),
        messaging_service_sids: tuple[str, ...] = (),
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.state = TwilioState(
            account_sid=account_sid or "AC" + secrets.token_hex(16),
            auth_token=auth_token,
            numbers=set(numbers),
            messaging_service_sids=set(messaging_service_sids),
        )
        super().__init__(host=host, port=port)

    def _attach(self, server: _Server) -> None:
        server.double = self
        self._port = server.server_address[1]

    @property
    def account_sid(self) -> str:
        return self.state.account_sid

    @property
    def auth_token(self) -> str:
        return self.state.auth_token

    # --- Python conveniences --------------------------------------------------------------------------------

    def refuse(self, number: str, code: int) -> None:
        """Every text to ``number`` is refused with HTTP 400 and this Twilio error code."""
        with self.state.lock:
            self.state.refusals[number] = code

    def plan(self, to: str, *answers: int | Answer) -> None:
        """Answer the next texts to ``to`` (``"*"``: any number) with these, in order (then 201 again)."""
        with self.state.lock:
            queue = self.state.plans.setdefault(to, deque())
            queue.extend(a if isinstance(a, Answer) else Answer(a) for a in answers)

    @property
    def messages(self) -> list[Message]:
        with self.state.lock:
            return list(self.state.messages)

    def messages_to(self, number: str) -> list[Message]:
        return [m for m in self.messages if m.to == number]

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return [dict(r) for r in self.state.requests]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local Twilio Messages API test double (not the real vendor).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3006)
    parser.add_argument("--account-sid", default="AC" + "0" * 32)
    parser.add_argument("--auth-token", default="test-auth-token")
    parser.add_argument("--from", dest="from_", default="+15005550006")
    args = parser.parse_args(argv)
    double = TwilioDouble(
        account_sid=args.account_sid,
        auth_token=args.auth_token,
        numbers=(args.from_,),
        host=args.host,
        port=args.port,
    ).start()
    sys.stdout.write(
        f"SANDBOX Twilio (test double, not the real vendor) at {double.url}: TWILIO_API_BASE={double.url} "
        f"TWILIO_ACCOUNT_SID={double.account_sid} TWILIO_AUTH_TOKEN={args.auth_token} TWILIO_FROM={args.from_}\n"
    )
    sys.stdout.flush()
    shown = 0

    def show_new() -> None:
        nonlocal shown
        for message in double.messages[shown:]:
            sys.stdout.write(f"SMS {message.sid} to {message.to}: {message.body}\n")
            shown += 1
        sys.stdout.flush()

    double.serve_until_interrupted(every=2, tick=show_new)


if __name__ == "__main__":
    main()
