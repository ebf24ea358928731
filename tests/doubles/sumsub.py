"""A local Sumsub (reference/external-apis.md section 3) with real state, for tests and the sandbox.

Every request must carry ``X-App-Token``, ``X-App-Access-Ts`` and ``X-App-Access-Sig`` = hex HMAC-SHA256 (secret
key) over ``ts + METHOD + path_with_query + body``, exactly as sent; otherwise 401 with Sumsub's error body
``{"description", "code", "correlationId"}``. Applicants (one per externalUserId: a second create is 409) and
their documents (multipart ``metadata`` + ``content``, answered with an ``X-Image-Id`` header) are kept in memory.

Endpoints: ``POST /resources/applicants?levelName=``, ``GET /resources/applicants/{id}/one``,
``GET /resources/applicants/-;externalUserId={id}/one``, ``POST /resources/applicants/{id}/info/idDoc``,
``POST /resources/applicants/{id}/status/pending`` (request a check; 409 without documents or when already
pending) and the sandbox ``POST /resources/applicants/{id}/status/testCompleted`` ({reviewAnswer, rejectLabels,
reviewRejectType, clientComment, moderationComment}), which completes the review and, when a webhook URL is set,
delivers a signed ``applicantReviewed`` to it. :meth:`SumsubDouble.webhook` builds a signed delivery for a test to
post itself.

``python -m tests.doubles.sumsub --port 3004 --webhook-url http://127.0.0.1:8000/api/webhooks/kyc/sumsub`` runs
it as a sandbox.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import re
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from tests.doubles.server import LocalHTTPDouble, LocalHTTPHandler, LocalHTTPServer

ID_DOC_TYPES = {
    "PASSPORT",
    "ID_CARD",
    "DRIVERS",
    "RESIDENCE_PERMIT",
    "SELFIE",
    "UTILITY_BILL",
    "BANK_STATEMENT",
    "PROFILE_IMAGE",
    "OTHER",
}
DIGESTS = {"HMAC_SHA1_HEX": hashlib.sha1, "HMAC_SHA256_HEX": hashlib.sha256, "HMAC_SHA512_HEX": hashlib.sha512}
MAX_CLOCK_SKEW_SECONDS = 300


@dataclass
class Document:
    image_id: str
    metadata: dict[str, Any]
    content: bytes
    filename: str
    content_type: str


@dataclass
class Applicant:
    id: str
    external_user_id: str
    level_name: str
    fixed_info: dict[str, Any]
    created_at: str
    inspection_id: str = field(default_factory=lambda: secrets.token_hex(12))
    review_status: str = "init"
    review_result: dict[str, Any] | None = None
    documents: list[Document] = field(default_factory=list)

    def as_json(self, client_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "createdAt": self.created_at,
            "key": "SANDBOXKEY",
            "clientId": client_id,
            "inspectionId": self.inspection_id,
            "externalUserId": self.external_user_id,
            "levelName": self.level_name,
            "type": "individual",
            "fixedInfo": self.fixed_info,
            "info": dict(self.fixed_info),
            "review": {"reviewStatus": self.review_status, "levelName": self.level_name},
        }
        if self.review_result is not None:
            body["review"]["reviewResult"] = self.review_result
        return body


class SumsubState:
    def __init__(self, *, app_token: str, secret_key: str, client_id: str = "engipay-test") -> None:
        self.app_token = app_token
        self.secret_key = secret_key
        self.client_id = client_id
        self.lock = threading.RLock()
        self.applicants: dict[str, Applicant] = {}
        self.requests: list[dict[str, Any]] = []  # every request: method, path, status (signed or not)

    def by_external_id(self, external_user_id: str) -> Applicant | None:
        return next((a for a in self.applicants.values() if a.external_user_id == external_user_id), None)


class _Refused(Exception):
    def __init__(self, status: int, description: str) -> None:
        self.status = status
        self.description = description
        super().__init__(description)


def _error_body(status: int, description: str) -> dict[str, Any]:
    return {"description": description, "code": status, "correlationId": secrets.token_hex(16)}


def _now_ms() -> str:
    now = datetime.now(tz=UTC)
    return now.strftime("%Y-%m-%d %H:%M:%S.") + f"{now.microsecond // 1000:03d}"


def parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[dict[str, str], bytes]]:
    """``name → (part headers, content)`` of a multipart/form-data body (RFC 7578), binary-safe."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/form-data") or match is None:
        raise _Refused(400, "Expected multipart/form-data")
    delimiter = b"--" + match.group(1).encode()
    parts: dict[str, tuple[dict[str, str], bytes]] = {}
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, content = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        name_match = re.search(r'name="([^"]*)"', headers.get("content-disposition", ""))
        if name_match:
            parts[name_match.group(1)] = (headers, content.removesuffix(b"\r\n"))
    return parts


class _Handler(LocalHTTPHandler):
    server: _Server

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._reply(status, json.dumps(body).encode(), "application/json", headers)

    def _signature_check(self, state: SumsubState, body: bytes) -> None:
        token = self.headers.get("X-App-Token")
        ts = self.headers.get("X-App-Access-Ts") or ""
        sig = (self.headers.get("X-App-Access-Sig") or "").lower()
        if token != state.app_token:
            raise _Refused(401, "App token is invalid or missing")
        if not ts.isdigit() or abs(time.time() - int(ts)) > MAX_CLOCK_SKEW_SECONDS:
            raise _Refused(401, "Request timestamp is missing or too far from the current time")
        message = ts.encode() + self.command.upper().encode() + self.path.encode() + body
        expected = hmac.new(state.secret_key.encode(), message, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, sig):
            raise _Refused(401, "Request signature mismatch")

    def _handle(self) -> None:
        state = self.server.double.state
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        record = {"method": self.command, "path": self.path, "status": 0}
        try:
            with state.lock:
                state.requests.append(record)
                self._signature_check(state, body)
                status, payload, headers = self._route(state, body)
        except _Refused as exc:
            status, payload, headers = exc.status, _error_body(exc.status, exc.description), {}
        record["status"] = status
        self._send(status, payload, headers)

    do_GET = _handle
    do_POST = _handle

    def _route(self, state: SumsubState, body: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.split("/") if p]
        query = parse_qs(url.query)
        match (self.command, parts):
            case ("POST", ["resources", "applicants"]):
                return self._applicant_create(state, body, (query.get("levelName") or [""])[0])
            case ("GET", ["resources", "applicants", ref, "one"]):
                return 200, self._applicant(state, ref).as_json(state.client_id), {}
            case ("POST", ["resources", "applicants", applicant_id, "info", "idDoc"]):
                return self._document_add(self._applicant(state, applicant_id), body)
            case ("POST", ["resources", "applicants", applicant_id, "status", "pending"]):
                applicant = self._applicant(state, applicant_id)
                if not applicant.documents:
                    raise _Refused(409, "Not all required documents or data are submitted.")
                if applicant.review_status in ("pending", "queued", "prechecked"):
                    raise _Refused(409, "Applicant is already pending")
                if (applicant.review_result or {}).get("reviewRejectType") == "FINAL":
                    raise _Refused(409, "Applicant is rejected")
                applicant.review_status = "pending"
                return 200, {"ok": 1}, {}
            case ("POST", ["resources", "applicants", applicant_id, "moveToLevel"]):
                applicant = self._applicant(state, applicant_id)
                level_name = (query.get("name") or [""])[0]
                if not level_name:
                    raise _Refused(400, "name is required")
                applicant.level_name = level_name
                applicant.review_status = "init"
                return 200, applicant.as_json(state.client_id), {}
            case ("POST", ["resources", "applicants", applicant_id, "status", "testCompleted"]):
                applicant = self._applicant(state, applicant_id)
                result = json.loads(body or b"{}")
                self.server.double._complete(applicant, result)
                return 200, {"ok": 1}, {}
        raise _Refused(404, "Not found")

    def _applicant(self, state: SumsubState, ref: str) -> Applicant:
        if ref.startswith("-;externalUserId="):
            applicant = state.by_external_id(ref.removeprefix("-;externalUserId="))
        else:
            applicant = state.applicants.get(ref)
        if applicant is None:
            raise _Refused(404, "Applicant not found")
        return applicant

    def _applicant_create(self, state: SumsubState, body: bytes, level_name: str):
        if not level_name:
            raise _Refused(400, "levelName is required")
        if not self.headers.get("Content-Type", "").startswith("application/json"):
            raise _Refused(400, "Content-Type must be application/json")
        try:
            data = json.loads(body)
        except ValueError:
            raise _Refused(400, "Malformed JSON") from None
        external_user_id = data.get("externalUserId") if isinstance(data, dict) else None
        if not isinstance(external_user_id, str) or not external_user_id:
            raise _Refused(400, "externalUserId is required")
        existing = state.by_external_id(external_user_id)
        if existing is not None:
            raise _Refused(409, f"Applicant with external user id '{external_user_id}' already exists: {existing.id}")
        applicant = Applicant(
            id=secrets.token_hex(12),
            external_user_id=external_user_id,
            level_name=level_name,
            fixed_info=dict(data.get("fixedInfo") or {}),
            created_at=datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M:%S"),
        )
        state.applicants[applicant.id] = applicant
        return 201, applicant.as_json(state.client_id), {}

    def _document_add(self, applicant: Applicant, body: bytes):
        parts = parse_multipart(self.headers.get("Content-Type", ""), body)
        if "metadata" not in parts or "content" not in parts:
            raise _Refused(400, "Parts 'metadata' and 'content' are required")
        try:
            metadata = json.loads(parts["metadata"][1])
        except ValueError:
            raise _Refused(400, "metadata is not JSON") from None
        if not isinstance(metadata, dict) or metadata.get("idDocType") not in ID_DOC_TYPES:
            raise _Refused(400, "Unknown idDocType")
        headers, content = parts["content"]
        if not content:
            raise _Refused(400, "Empty content")
        filename = (re.search(r'filename="([^"]*)"', headers.get("content-disposition", "")) or [None, ""])[1]
        image_id = str(secrets.randbelow(10**9))
        applicant.documents.append(
            Document(image_id, metadata, content, filename, headers.get("content-type", "application/octet-stream"))
        )
        return 200, metadata, {"X-Image-Id": image_id}


class _Server(LocalHTTPServer):
    double: SumsubDouble


class SumsubDouble(LocalHTTPDouble):
    """``with SumsubDouble(app_token=..., secret_key=..., webhook_secret=...) as sumsub: ... sumsub.url``."""

    server_class = _Server
    handler_class = _Handler
    thread_name = "sumsub-double"

    def __init__(
        self,
        *,
        app_token: str = "sbx:test-app-token",  # noqa: S107 - a test double's own credentials
        secret_key: str = "test-secret-key",  # noqa: S107
        webhook_secret: str = "test-webhook-secret",  # noqa: S107
        webhook_url: str | None = None,
        digest_alg: str = "HMAC_SHA256_HEX",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.state = SumsubState(app_token=app_token, secret_key=secret_key)
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.digest_alg = digest_alg
        super().__init__(host=host, port=port)

    def _attach(self, server: _Server) -> None:
        server.double = self
        self._port = server.server_address[1]  # a restart comes back on the same port

    # --- Python conveniences --------------------------------------------------------------------------------

    def applicant(self, applicant_id: str) -> Applicant:
        with self.state.lock:
            return self.state.applicants[applicant_id]

    def applicant_for(self, external_user_id: str) -> Applicant | None:
        with self.state.lock:
            return self.state.by_external_id(external_user_id)

    def webhook(
        self,
        applicant_id: str,
        *,
        type: str = "applicantReviewed",
        review_result: dict[str, Any] | None = None,
        created_at_ms: str | None = None,
        alg: str | None = None,
        secret: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """A webhook delivery for the applicant as Sumsub sends it: (raw body, headers with the digest)."""
        with self.state.lock:
            applicant = self.state.applicants[applicant_id]
            stamp = created_at_ms or _now_ms()
            payload: dict[str, Any] = {
                "applicantId": applicant.id,
                "inspectionId": applicant.inspection_id,
                "correlationId": "req-" + secrets.token_hex(8),
                "externalUserId": applicant.external_user_id,
                "levelName": applicant.level_name,
                "type": type,
                "sandboxMode": True,
                "reviewStatus": "completed" if type == "applicantReviewed" else "pending",
                "createdAtMs": stamp,
                "createdAt": stamp.split(".")[0],
                "clientId": self.state.client_id,
                "applicantType": "individual",
            }
            if review_result is not None:
                payload["reviewResult"] = review_result
        return self.sign(json.dumps(payload).encode(), alg=alg, secret=secret)

    def review(
        self, applicant_id: str, review_result: dict[str, Any], *, created_at_ms: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """Complete the applicant's review (as the sandbox testCompleted does) and return the signed
        applicantReviewed delivery for the test to post."""
        with self.state.lock:
            applicant = self.state.applicants[applicant_id]
            applicant.review_status = "completed"
            applicant.review_result = dict(review_result)
        return self.webhook(applicant_id, review_result=review_result, created_at_ms=created_at_ms)

    def sign(self, body: bytes, *, alg: str | None = None, secret: str | None = None) -> tuple[bytes, dict[str, str]]:
        alg = alg or self.digest_alg
        digest = hmac.new((secret or self.webhook_secret).encode(), body, DIGESTS[alg]).hexdigest()
        return body, {"Content-Type": "application/json", "X-Payload-Digest": digest, "X-Payload-Digest-Alg": alg}

    def _complete(self, applicant: Applicant, result: dict[str, Any]) -> None:
        """testCompleted: the review is done; the signed applicantReviewed goes to the webhook URL, if any."""
        applicant.review_status = "completed"
        applicant.review_result = {k: v for k, v in result.items() if v not in (None, [], "")}
        if self.webhook_url:
            body, headers = self.webhook(applicant.id, review_result=applicant.review_result)
            threading.Thread(target=self._deliver, args=(body, headers), daemon=True).start()

    def _deliver(self, body: bytes, headers: dict[str, str]) -> None:
        try:
            httpx.post(self.webhook_url, content=body, headers=headers, timeout=5)
        except httpx.HTTPError:
            sys.stderr.write("sumsub double: webhook delivery failed\n")


def later(created_at_ms: str, seconds: float) -> str:
    """``createdAtMs`` ``seconds`` after another (tests of ordering)."""
    moment = datetime.strptime(created_at_ms, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC) + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local Sumsub test double (not the real vendor).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3004)
    parser.add_argument("--app-token", default="sbx:test-app-token")
    parser.add_argument("--secret-key", default="test-secret-key")
    parser.add_argument("--webhook-secret", default="test-webhook-secret")
    parser.add_argument("--webhook-url", default=None)
    args = parser.parse_args(argv)
    double = SumsubDouble(
        app_token=args.app_token,
        secret_key=args.secret_key,
        webhook_secret=args.webhook_secret,
        webhook_url=args.webhook_url,
        host=args.host,
        port=args.port,
    ).start()
    sys.stdout.write(f"SANDBOX Sumsub (test double, not the real vendor) at {double.url}\n")
    sys.stdout.flush()
    double.serve_until_interrupted()


if __name__ == "__main__":
    main()
