"""Dispute statements and evidence through the API: both parties write, files are checked like ticket attachments
(a refused file stores nothing), only the parties see and download them. Escrows are created and disputed on the
session's anvil with the parties' keys and projected into rows by the real indexer."""

from __future__ import annotations

import base64
import hashlib
import io
import secrets
import zipfile
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from PIL import Image
from rest_framework.test import APIClient

from apps.escrow import chain as contract
from apps.escrow.models import DisputeEvidence, DisputeStatement, Escrow
from apps.escrow.services import disputes
from apps.escrow.services.indexer import escrow_index
from apps.notifications.models import Notification
from tests.helpers import Party, assert_error_shape

from .conftest import RESOLVER, send_call

ETH = 10**18


# --- escrows on chain ------------------------------------------------------------------------------------------


def escrow_on_chain(
    w3, deployment, sender: Party, recipient: Party, *, amount: int = ETH, resolver: str | None = None, memo: str = ""
) -> str:
    """createEth from the sender's key (a day to expiry, confirmation required); the escrow's on-chain id."""
    salt = secrets.token_bytes(32)
    expires = w3.eth.get_block("latest")["timestamp"] + 24 * 3600
    memo_hash = bytes.fromhex(contract.memo_hash(memo)[2:])
    data = contract.calldata(
        "createEth", salt, recipient.address, expires, memo_hash, True, resolver or RESOLVER.address
    )
    receipt = send_call(w3, sender.signer.account, to=deployment.address, data=data, value=amount)
    assert receipt["status"] == 1
    return contract.escrow_id(sender.address, salt)


def call_on_chain(w3, deployment, party: Any, function: str, onchain_id: str, *args: Any) -> None:
    """``function(id, *args)`` sent with ``party``'s key (a Party or an eth-account)."""
    account = getattr(getattr(party, "signer", None), "account", party)
    data = contract.calldata(function, contract.id_bytes(onchain_id), *args)
    receipt = send_call(w3, account, to=deployment.address, data=data)
    assert receipt["status"] == 1, f"{function} reverted"


def indexed(onchain_id: str) -> Escrow:
    """The escrow's row after the indexer has read everything up to the head."""
    escrow_index(network="local")
    return Escrow.objects.select_related("deployment", "token").get(onchain_id=onchain_id)


@dataclass
class Dispute:
    sender: Party
    recipient: Party
    escrow: Escrow
    deployment: Any

    @property
    def url(self) -> str:
        return f"/api/payments/escrow/{self.escrow.id}/dispute/statements"


def make_dispute(
    w3, deployment, party, *, amount: int = ETH, disputed: bool = True, sender: Party | None = None
) -> Dispute:
    """An ETH escrow from ``sender`` (default: a new party) to a new party, disputed by the recipient, indexed."""
    sender, recipient = sender or party(), party()
    onchain_id = escrow_on_chain(w3, deployment, sender, recipient, amount=amount)
    if disputed:
        call_on_chain(w3, deployment, recipient, "dispute", onchain_id)
    escrow = indexed(onchain_id)
    assert escrow.status == ("disputed" if disputed else "pending")
    return Dispute(sender=sender, recipient=recipient, escrow=escrow, deployment=deployment)


@pytest.fixture
def dispute(escrow_chain, anvil_w3, party, evidence_root) -> Dispute:
    return make_dispute(anvil_w3, escrow_chain, party)


# --- sample files ----------------------------------------------------------------------------------------------


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (24, 16), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def pdf(catalog: bytes = b"") -> bytes:
    """A well-formed PDF (cross-reference table and startxref, as real files have); ``catalog`` adds entries."""
    head = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    objects = [
        b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R " + catalog + b">>\nendobj\n",
        b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n",
    ]
    offsets, position = [], len(head)
    for item in objects:
        offsets.append(position)
        position += len(item)
    xref = b"xref\n0 3\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    trailer = b"trailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % position
    return head + b"".join(objects) + xref + trailer


def zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload.html", "<html><script>alert(1)</script></html>")
    return out.getvalue()


def b64(content: bytes, mime: str | None = None) -> str:
    encoded = base64.b64encode(content).decode()
    return f"data:{mime};base64,{encoded}" if mime else encoded


def stored_files(root) -> list:
    return sorted(path for path in root.rglob("*") if path.is_file())


def assert_nothing_stored(root) -> None:
    assert not DisputeStatement.objects.exists()
    assert not DisputeEvidence.objects.exists()
    assert stored_files(root) == []


# --- statements ------------------------------------------------------------------------------------------------


def test_both_parties_state_their_case_with_evidence(dispute, evidence_root):
    sender, recipient = dispute.sender, dispute.recipient
    response = sender.client.post(
        dispute.url,
        {"text": "  Nothing arrived.  ", "files": [b64(png(), "image/png"), b64(pdf(), "application/pdf")]},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["role"], body["mine"], body["text"]) == ("sender", True, "Nothing arrived.")
    assert [(e["filename"], e["content_type"]) for e in body["evidence"]] == [
        ("evidence.png", "image/png"),
        ("evidence.pdf", "application/pdf"),
    ]
    multipart = {"text": "Delivered, see the log.", "files": [SimpleUploadedFile("courier.txt", b"2024-01-22 ok\n")]}
    response = recipient.client.post(dispute.url, multipart, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["evidence"][0]["filename"] == "courier.txt"

    for who, mine in ((sender, ["sender"]), (recipient, ["recipient"])):
        listed = who.client.get(dispute.url)
        assert listed.status_code == 200
        data = listed.json()
        assert (data["escrow_id"], data["status"]) == (str(dispute.escrow.id), "disputed")
        assert [s["role"] for s in data["statements"]] == ["sender", "recipient"]
        assert [s["role"] for s in data["statements"] if s["mine"]] == mine
        urls = [e["download_url"] for s in data["statements"] for e in s["evidence"]]
        assert len(urls) == 3
        assert all(
            u.startswith(f"http://testserver/api/payments/escrow/{dispute.escrow.id}/dispute/evidence/") for u in urls
        )
    assert len(stored_files(evidence_root)) == 3
    statement = DisputeStatement.objects.get(role="sender")
    assert (statement.author, statement.escrow_id) == (sender.user, dispute.escrow.id)
    stored = DisputeEvidence.objects.get(statement=statement, content_type="image/png")
    assert stored.sha256 == hashlib.sha256(stored.file.read()).hexdigest()
    # Each party hears about the other's statement, never about their own.
    assert list(Notification.objects.filter(kind="escrow_dispute_statement").values_list("user", "data__role")) in (
        [(recipient.user.pk, "sender"), (sender.user.pk, "recipient")],
        [(sender.user.pk, "recipient"), (recipient.user.pk, "sender")],
    )


def test_a_pending_escrow_takes_a_statement_before_the_dispute_is_opened(escrow_chain, anvil_w3, party, evidence_root):
    pending = make_dispute(anvil_w3, escrow_chain, party, disputed=False)
    response = pending.recipient.client.post(pending.url, {"text": "About to dispute: wrong item."}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["evidence"] == []


def test_a_settled_escrow_takes_no_statement(escrow_chain, anvil_w3, party, evidence_root):
    done = make_dispute(anvil_w3, escrow_chain, party, disputed=False)
    call_on_chain(anvil_w3, escrow_chain, done.recipient, "accept", done.escrow.onchain_id)
    assert indexed(done.escrow.onchain_id).status == "accepted"
    response = done.sender.client.post(done.url, {"text": "Too late", "files": [b64(png())]}, format="json")
    error = assert_error_shape(response, 409, "invalid_state")
    assert error["details"]["status"] == "accepted"
    assert_nothing_stored(evidence_root)


BAD_FILES = [
    ("too big", lambda: b64(b"a" * 2049), "evidence_too_large"),
    ("executable", lambda: b64(b"MZ\x90\x00" + b"\0" * 64), "evidence_type_not_allowed"),
    ("html", lambda: b64(b"<html><script>alert(1)</script></html>", "text/html"), "evidence_type_not_allowed"),
    ("claimed type differs", lambda: b64(png(), "application/pdf"), "evidence_type_mismatch"),
    ("png + zip polyglot", lambda: b64(png() + zip_bytes()), "evidence_polyglot"),
    ("pdf + zip polyglot", lambda: b64(pdf() + zip_bytes()), "evidence_polyglot"),
    ("pdf with javascript", lambda: b64(pdf(b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >> ")),
     "evidence_pdf_active_content"),
    ("not base64", lambda: "%%%not base64%%%", "evidence_invalid_base64"),
]  # fmt: skip


@pytest.mark.parametrize(("label", "make", "code"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_refused_file_stores_nothing(dispute, evidence_root, settings, label, make, code):
    settings.ESCROW_EVIDENCE_MAX_BYTES = 2048
    payload = {"text": "See the files", "files": [b64(b"fine notes"), make()]}
    response = dispute.sender.client.post(dispute.url, payload, format="json")
    error = assert_error_shape(response, 400, code)
    assert (error["details"]["index"], error["details"]["field"]) == (1, "files[1]")
    assert_nothing_stored(evidence_root)
    assert not Notification.objects.filter(kind="escrow_dispute_statement").exists()


def test_a_refused_multipart_file_stores_nothing(dispute, evidence_root):
    upload = SimpleUploadedFile("photo.png", pdf(), content_type="image/png")
    response = dispute.sender.client.post(dispute.url, {"text": "x", "files": [upload]}, format="multipart")
    assert_error_shape(response, 400, "evidence_type_mismatch")
    assert_nothing_stored(evidence_root)


def test_too_many_files(dispute, evidence_root, settings):
    settings.ESCROW_EVIDENCE_PER_STATEMENT = 2
    payload = {"text": "Three files", "files": [b64(b"one"), b64(b"two"), b64(b"three")]}
    error = assert_error_shape(dispute.sender.client.post(dispute.url, payload, format="json"), 400)
    assert (error["code"], error["details"]["limit"]) == ("too_many_evidence_files", 2)
    assert_nothing_stored(evidence_root)


@pytest.mark.parametrize(
    ("text", "code"),
    [("", "text_required"), ("   \n ", "text_required"), ("x" * 5001, "text_too_long"), (None, "invalid_input")],
)
def test_a_statement_needs_text_of_at_most_5000_characters(dispute, evidence_root, text, code):
    response = dispute.recipient.client.post(dispute.url, {"text": text, "files": [b64(png())]}, format="json")
    assert_error_shape(response, 400, code)
    assert_nothing_stored(evidence_root)


def test_exactly_5000_characters_are_accepted(dispute, evidence_root):
    response = dispute.recipient.client.post(dispute.url, {"text": "y" * 5000}, format="json")
    assert response.status_code == 201, response.content


def test_files_written_in_a_failed_transaction_are_removed(dispute, evidence_root):
    """Something fails after the files were written, inside the transaction: the rows roll back, the files go."""
    prepared = disputes.evidence_prepare([b64(png()), b64(b"notes")])
    written: list[str] = []

    def store_then_fail() -> None:
        with disputes.evidence_files_removed_on_error() as names, transaction.atomic():
            statement = DisputeStatement.objects.create(
                escrow=dispute.escrow, author=dispute.sender.user, role="sender", text="t"
            )
            disputes.dispute_evidence_store(statement=statement, items=prepared, written=names)
            written.extend(names)
            assert len(stored_files(evidence_root)) == 2
            raise RuntimeError("failure after the files were written")

    with pytest.raises(RuntimeError, match="after the files"):
        store_then_fail()
    assert len(written) == 2
    assert_nothing_stored(evidence_root)


def test_a_stranger_sees_nothing(dispute, party, evidence_root):
    dispute.sender.client.post(dispute.url, {"text": "Mine", "files": [b64(png())]}, format="json")
    evidence = DisputeEvidence.objects.get()
    stranger = party()
    assert_error_shape(stranger.client.get(dispute.url), 404, "escrow_not_found")
    assert_error_shape(stranger.client.post(dispute.url, {"text": "me too"}, format="json"), 404, "escrow_not_found")
    download = f"/api/payments/escrow/{dispute.escrow.id}/dispute/evidence/{evidence.pk}"
    assert_error_shape(stranger.client.get(download), 404)
    assert_error_shape(APIClient().get(dispute.url), 401)
    assert_error_shape(APIClient().get(download), 401)
    assert DisputeStatement.objects.count() == 1


def test_both_parties_download_the_evidence_safely(dispute, evidence_root):
    sent = dispute.sender.client.post(
        dispute.url,
        {"text": "Invoice", "files": [SimpleUploadedFile("invoice.pdf", pdf(), content_type="application/pdf")]},
        format="multipart",
    )
    assert sent.status_code == 201, sent.content
    [evidence] = sent.json()["evidence"]
    for who in (dispute.sender, dispute.recipient):
        response = who.client.get(evidence["download_url"])
        assert response.status_code == 200
        content = b"".join(response.streaming_content)
        assert hashlib.sha256(content).hexdigest() == evidence["sha256"]
        assert content == stored_files(evidence_root)[0].read_bytes()
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"].startswith("attachment;")
        assert 'filename="invoice.pdf"' in response["Content-Disposition"]
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Security-Policy"].startswith("sandbox")
        assert "no-store" in response["Cache-Control"]


def test_evidence_is_only_found_under_its_own_escrow(dispute, escrow_chain, anvil_w3, party, evidence_root):
    dispute.sender.client.post(dispute.url, {"text": "Photo", "files": [b64(png())]}, format="json")
    evidence = DisputeEvidence.objects.get()
    other = make_dispute(anvil_w3, escrow_chain, party, sender=dispute.sender)
    response = dispute.sender.client.get(f"/api/payments/escrow/{other.escrow.id}/dispute/evidence/{evidence.pk}")
    assert_error_shape(response, 404, "evidence_not_found")
    missing = f"/api/payments/escrow/{dispute.escrow.id}/dispute/evidence/999999"
    assert_error_shape(dispute.sender.client.get(missing), 404, "evidence_not_found")


def test_statement_writes_are_throttled(dispute, evidence_root, throttle_rates):
    throttle_rates(escrow_write="2/min")
    client = dispute.sender.client
    for _ in range(2):
        assert client.post(dispute.url, {"text": "again"}, format="json").status_code == 201
    assert_error_shape(client.post(dispute.url, {"text": "again"}, format="json"), 429, "throttled")
    assert client.get(dispute.url).status_code == 200  # reads are not counted
