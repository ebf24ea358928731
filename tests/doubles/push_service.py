"""A local Web Push service (RFC 8030) and the browsers subscribed to it, for tests and the sandbox.

:meth:`PushServiceDouble.subscribe` plays a browser's ``pushManager.subscribe()``: a P-256 key pair and a 16-byte
auth secret per endpoint, returned as ``PushSubscription.toJSON()`` (``{endpoint, expirationTime, keys: {p256dh,
auth}}``); given ``application_server_key``, the subscription is bound to that VAPID key as browsers do.

Every ``POST`` to an endpoint is checked as a push service checks it, then decrypted as the browser would:

- ``Authorization: vapid t=<JWT>,k=<key>`` (RFC 8292): an ES256 JWT whose signature verifies with ``k``, ``aud``
  the endpoint's origin, ``exp`` in the future and at most 24 h ahead, ``sub`` a ``mailto:`` or ``https:``
  contact; else 401. A ``k`` other than the key the subscription was bound to: 403.
- ``TTL`` (RFC 8030 section 5.2: 400 without it), ``Urgency`` one of the four RFC values if present,
  ``Content-Encoding: aes128gcm`` for a body (RFC 8291), at most 4096 bytes of body (else 413).
- The body is decrypted (RFC 8188 / 8291) with the subscription's private key and auth secret; a body the
  browser could not decrypt is refused with 400 (a real service would accept it and the browser would drop it:
  stricter, so a test notices).

An accepted message answers 201 with a ``Location`` (the message URI) and is kept in :attr:`messages`, decrypted.
:meth:`plan` queues answers per endpoint (``plan(endpoint, 500, 201)``, ``Answer(429, {"Retry-After": "60"})``,
``Answer(201, delay=2)`` for a slow service); :meth:`unsubscribe` makes an endpoint answer 410 from then on; an
unknown path answers 404. Errors carry Mozilla autopush's JSON shape ``{code, error, message}``.

``python -m tests.doubles.push_service --port 3005`` runs it as a sandbox and prints one subscription.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import secrets
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.doubles.server import LocalHTTPDouble, LocalHTTPHandler, LocalHTTPServer

MAX_BODY_BYTES = 4096  # RFC 8030 section 7.2: push services must accept at least this much; FCM and Mozilla refuse more
MAX_EXP_SECONDS = 24 * 3600  # RFC 8292 section 2
URGENCIES = {"very-low", "low", "normal", "high"}  # RFC 8030 section 5.3
_VAPID = re.compile(r"^vapid\s+(.+)$", re.IGNORECASE)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Answer:
    """What the push service answers one request with (``delay``: seconds to wait first)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Subscription:
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    application_server_key: str | None
    gone: bool = False
    plan: deque[Answer] = field(default_factory=deque)

    def browser_json(self) -> dict[str, Any]:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(point), "auth": b64url(self.auth)},
        }


@dataclass(frozen=True)
class PushMessage:
    """A message the browser received: decrypted, with what the sender asked of the push service."""

    endpoint: str
    message_id: str
    payload: bytes
    ttl: int
    urgency: str | None
    topic: str | None
    claims: dict[str, Any]
    vapid_key: str

    @property
    def json(self) -> Any:
        return json.loads(self.payload)


class _Refused(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def verify_vapid(header: str | None, *, audience: str, now: float | None = None) -> tuple[dict[str, Any], str]:
    """Check an ``Authorization: vapid t=..,k=..`` header as a push service does; returns (claims, k)."""
    match = _VAPID.match(header or "")
    if match is None:
        raise _Refused(401, "Missing or malformed VAPID Authorization header (expected: vapid t=<JWT>,k=<key>)")
    params = {}
    for part in match.group(1).split(","):
        name, _, value = part.strip().partition("=")
        params[name.strip()] = value.strip()
    token, key = params.get("t", ""), params.get("k", "")
    try:
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(key))
        header_b64, claims_b64, signature_b64 = token.split(".")
        jose = json.loads(b64url_decode(header_b64))
        claims = json.loads(b64url_decode(claims_b64))
        signature = b64url_decode(signature_b64)
    except ValueError:
        raise _Refused(401, "The VAPID token or key is malformed") from None
    if not isinstance(jose, dict) or jose.get("alg") != "ES256" or len(signature) != 64:
        raise _Refused(401, "The VAPID token must be an ES256 JWT")
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    try:
        public.verify(encode_dss_signature(r, s), f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise _Refused(401, "The VAPID signature does not verify with the key k") from None
    _check_claims(claims, audience=audience, now=time.time() if now is None else now)
    return claims, key


def _check_claims(claims: Any, *, audience: str, now: float) -> None:
    if not isinstance(claims, dict):
        raise _Refused(401, "The VAPID claims are not an object")
    if claims.get("aud") != audience:
        raise _Refused(401, f"The VAPID aud claim must be {audience}, got {claims.get('aud')!r}")
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= now:
        raise _Refused(401, "The VAPID token has expired (exp)")
    if exp > now + MAX_EXP_SECONDS:
        raise _Refused(401, "The VAPID exp claim is more than 24 hours ahead")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.startswith(("mailto:", "https:")):
        raise _Refused(401, "The VAPID sub claim must be a mailto: or https: contact")


class PushServiceState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.subscriptions: dict[str, Subscription] = {}  # by path
        self.messages: list[PushMessage] = []
        self.requests: list[dict[str, Any]] = []  # every request: path, status, reason


class _Handler(LocalHTTPHandler):
    server: _Server

    def do_POST(self) -> None:
        double = self.server.double
        state = double.state
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        record: dict[str, Any] = {"path": self.path, "status": 0, "reason": ""}
        with state.lock:
            state.requests.append(record)
        try:
            subscription, claims, key = self._check(double, body)
            self._planned(subscription)
            message = self._deliver(subscription, body, claims, key)
        except _Refused as exc:
            with state.lock:
                record.update(status=exc.status, reason=exc.message)
            error = {"code": exc.status, "error": HTTPStatus(exc.status).phrase, "message": exc.message}
            self._reply(exc.status, json.dumps(error).encode(), "application/json", exc.headers)
            return
        with state.lock:
            record["status"] = 201
        location = f"{double.url}/m/{message.message_id}"
        self._reply(201, b"", "text/plain", {"Location": location, "TTL": str(message.ttl)})

    def _planned(self, subscription: Subscription) -> None:
        """Play the test's planned answer for this request, if any (a 201 goes on to delivery)."""
        with self.server.double.state.lock:
            answer = subscription.plan.popleft() if subscription.plan else Answer(201)
        if answer.delay:
            time.sleep(answer.delay)
        if answer.status != 201:
            phrase = HTTPStatus(answer.status).phrase
            raise _Refused(answer.status, f"{phrase} (planned by the test)", answer.headers)

    def _check(self, double: PushServiceDouble, body: bytes) -> tuple[Subscription, dict[str, Any], str]:
        with double.state.lock:
            subscription = double.state.subscriptions.get(self.path)
        if subscription is None:
            raise _Refused(404, "No such subscription")
        if subscription.gone:
            raise _Refused(410, "The subscription has expired or was unsubscribed")
        claims, key = verify_vapid(self.headers.get("Authorization"), audience=double.url)
        if subscription.application_server_key and key != subscription.application_server_key:
            raise _Refused(403, "The VAPID key does not match the subscription's applicationServerKey")
        ttl = self.headers.get("TTL")
        if ttl is None or not ttl.isdigit():
            raise _Refused(400, "A TTL header (seconds) is required")
        urgency = self.headers.get("Urgency")
        if urgency is not None and urgency not in URGENCIES:
            raise _Refused(400, f"Urgency must be one of {', '.join(sorted(URGENCIES))}")
        if len(body) > MAX_BODY_BYTES:
            raise _Refused(413, f"The body is {len(body)} bytes; at most {MAX_BODY_BYTES} are accepted")
        if body and (self.headers.get("Content-Encoding") or "").lower() != "aes128gcm":
            raise _Refused(400, "A message body must be encrypted with Content-Encoding: aes128gcm (RFC 8291)")
        return subscription, claims, key

    def _deliver(self, subscription: Subscription, body: bytes, claims: dict[str, Any], key: str) -> PushMessage:
        try:
            payload = (
                http_ece.decrypt(
                    body, private_key=subscription.private_key, auth_secret=subscription.auth, version="aes128gcm"
                )
                if body
                else b""
            )
        except (http_ece.ECEException, ValueError) as exc:
            raise _Refused(400, f"The browser could not decrypt the message: {exc}") from None
        message = PushMessage(
            endpoint=subscription.endpoint,
            message_id=secrets.token_urlsafe(12),
            payload=payload,
            ttl=int(self.headers["TTL"]),
            urgency=self.headers.get("Urgency"),
            topic=self.headers.get("Topic"),
            claims=claims,
            vapid_key=key,
        )
        with self.server.double.state.lock:
            self.server.double.state.messages.append(message)
        return message


class _Server(LocalHTTPServer):
    double: PushServiceDouble

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up on a slow answer (Answer(delay=...)) is expected, not an error to print.
        if not isinstance(sys.exc_info()[1], BrokenPipeError | ConnectionResetError):
            super().handle_error(request, client_address)


class PushServiceDouble(LocalHTTPDouble):
    """``with PushServiceDouble() as push: sub = push.subscribe(); ... push.messages``."""

    server_class = _Server
    handler_class = _Handler
    thread_name = "push-service-double"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = PushServiceState()
        super().__init__(host=host, port=port)

    def _attach(self, server: _Server) -> None:
        server.double = self
        self._port = server.server_address[1]

    # --- Python conveniences --------------------------------------------------------------------------------

    def subscribe(self, *, application_server_key: str | None = None) -> dict[str, Any]:
        """A new browser subscription: its ``PushSubscription.toJSON()``."""
        path = f"/wpush/v2/{secrets.token_urlsafe(32)}"
        subscription = Subscription(
            endpoint=f"{self.url}{path}",
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth=secrets.token_bytes(16),
            application_server_key=application_server_key,
        )
        with self.state.lock:
            self.state.subscriptions[path] = subscription
        return subscription.browser_json()

    def _subscription(self, endpoint: str) -> Subscription:
        return self.state.subscriptions[endpoint.removeprefix(self.url)]

    def plan(self, endpoint: str, *answers: int | Answer) -> None:
        """Answer the next requests to ``endpoint`` with these, in order (then 201 again)."""
        with self.state.lock:
            self._subscription(endpoint).plan.extend(a if isinstance(a, Answer) else Answer(a) for a in answers)

    def unsubscribe(self, endpoint: str) -> None:
        """The browser withdrew the subscription: 410 Gone from now on."""
        with self.state.lock:
            self._subscription(endpoint).gone = True

    @property
    def messages(self) -> list[PushMessage]:
        with self.state.lock:
            return list(self.state.messages)

    def messages_to(self, endpoint: str) -> list[PushMessage]:
        return [m for m in self.messages if m.endpoint == endpoint]

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return [dict(r) for r in self.state.requests]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local Web Push service test double (not a real one).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3005)
    args = parser.parse_args(argv)
    double = PushServiceDouble(host=args.host, port=args.port).start()
    sys.stdout.write(f"SANDBOX push service (test double) at {double.url}\n")
    sys.stdout.write(f"A subscription: {json.dumps(double.subscribe())}\n")
    sys.stdout.flush()
    shown = 0

    def show_new() -> None:
        nonlocal shown
        for message in double.messages[shown:]:
            sys.stdout.write(f"push to {message.endpoint}: {message.payload.decode(errors='replace')}\n")
            shown += 1
        sys.stdout.flush()

    double.serve_until_interrupted(every=2, tick=show_new)


if __name__ == "__main__":
    main()
