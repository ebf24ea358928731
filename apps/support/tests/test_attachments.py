"""Attachment rules (ASVS V5): type by content, size, decompression bombs, active PDFs, metadata stripped; a
refused attachment stores nothing (no ticket, no message, no row, no file); downloads only for the owner."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from PIL import ExifTags, Image, PngImagePlugin
from rest_framework.test import APIClient

from apps.support.models import Attachment, Ticket, TicketMessage
from apps.support.services import attachments as attachment_services
from apps.support.services import tickets as services

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("support_teams")]

TICKET = {"subject": "Screenshot", "description": "See attached", "category": "technical"}


# --- sample files ----------------------------------------------------------------------------------------------


def image_bytes(fmt: str, size=(24, 16), mode="RGB", **save) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 30, 30) if mode == "RGB" else 1).save(out, format=fmt, **save)
    return out.getvalue()


def jpeg_with_gps_and_rotation() -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyCam"
    exif[ExifTags.Base.Orientation] = 6  # rotate 90° clockwise to display
    exif[ExifTags.Base.GPSInfo] = {ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLongitudeRef: "E"}
    return image_bytes("JPEG", size=(40, 20), exif=exif.tobytes())


def png_with_text_and_icc() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Alice Secret")
    info.add_text("Comment", "gps 52.1,4.3")
    return image_bytes("PNG", pnginfo=info, icc_profile=b"\0" * 128)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge 1-bit image (a decompression bomb's first bytes)."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + png_chunk(b"IEND", b"")
    )


def pdf(extra: bytes = b"", trailer: bytes = b"") -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R " + extra + b">>\nendobj\n"
        b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
        b"trailer\n<< /Root 1 0 R " + trailer + b">>\n%%EOF\n"
    )


def pdf_with_js_in_object_stream() -> bytes:
    hidden = zlib.compress(b"3 0 << /S /JavaScript /JS (app.alert(1)) >>")
    return pdf() + b"3 0 obj\n<< /Type /ObjStm /Filter /FlateDecode >>\nstream\n" + hidden + b"\nendstream\nendobj\n"


def pdf_with_object_stream(filters: bytes, data: bytes, eol: bytes = b"\n") -> bytes:
    """A PDF whose object stream (encoded as ``filters`` says) holds a JavaScript action."""
    stream = b"3 0 obj\n<< /Type /ObjStm /Filter " + filters + b" >>\nstream" + eol + data + b"\nendstream\nendobj\n"
    return pdf() + stream


HIDDEN_JS = b"3 0 << /S /JavaScript /JS (app.alert(1)) >>"


def pdf_js_encoded(how: str) -> bytes:
    """``HIDDEN_JS`` in an object stream behind the filters a reader undoes, so no name shows in the raw file."""
    return {
        "hex": lambda: pdf_with_object_stream(b"/ASCIIHexDecode", binascii.hexlify(HIDDEN_JS) + b">"),
        "ascii85": lambda: pdf_with_object_stream(b"/ASCII85Decode", base64.a85encode(HIDDEN_JS) + b"~>"),
        "hex+flate": lambda: pdf_with_object_stream(
            b"[/ASCIIHexDecode /FlateDecode]", binascii.hexlify(zlib.compress(HIDDEN_JS)) + b">"
        ),
        "cr eol": lambda: pdf_with_object_stream(b"/FlateDecode", zlib.compress(HIDDEN_JS), b"\r"),
        "raw deflate": lambda: pdf_with_object_stream(b"/FlateDecode", zlib.compress(HIDDEN_JS)[2:-4]),
    }[how]()


def b64(content: bytes, mime: str | None = None) -> str:
    encoded = base64.b64encode(content).decode()
    return f"data:{mime};base64,{encoded}" if mime else encoded


def stored_files(root) -> list:
    return [path for path in root.rglob("*") if path.is_file()]


def assert_nothing_stored(root) -> None:
    assert not Ticket.objects.exists()
    assert not TicketMessage.objects.exists()
    assert not Attachment.objects.exists()
    assert stored_files(root) == []


# --- accepted --------------------------------------------------------------------------------------------------


ACCEPTED = [
    ("png", lambda: b64(image_bytes("PNG")), "image/png", (24, 16)),
    ("png data url", lambda: b64(image_bytes("PNG"), "image/png"), "image/png", (24, 16)),
    ("jpeg", lambda: b64(image_bytes("JPEG"), "image/jpeg"), "image/jpeg", (24, 16)),
    ("jpg alias", lambda: b64(image_bytes("JPEG"), "image/jpg"), "image/jpeg", (24, 16)),
    ("webp", lambda: b64(image_bytes("WEBP"), "image/webp"), "image/webp", (24, 16)),
    ("palette png", lambda: b64(image_bytes("PNG", mode="P", transparency=0)), "image/png", (24, 16)),
    ("pdf", lambda: b64(pdf(), "application/pdf"), "application/pdf", (None, None)),
    ("text", lambda: b64("Logs:\n\terror ✓ 0x12\r\n".encode(), "text/plain"), "text/plain", (None, None)),
]


@pytest.mark.parametrize(("label", "make", "content_type", "size"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_accepted_types_are_stored_privately_under_random_names(
    api_client_for, alice, support_files, label, make, content_type, size
):
    response = api_client_for(alice).post("/api/support/tickets", {**TICKET, "attachments": [make()]}, format="json")
    assert response.status_code == 201, response.content
    attachment = Attachment.objects.get()
    assert attachment.ticket_id == response.json()["ticket_id"]
    assert attachment.message is None
    assert (attachment.content_type, attachment.width, attachment.height) == (content_type, *size)
    assert re.fullmatch(r"tickets/\d{4}/\d\d/[0-9a-f]{32}\.(png|jpg|webp|pdf|txt)", attachment.file.name)
    [path] = stored_files(support_files)
    content = path.read_bytes()
    assert (attachment.size, attachment.sha256) == (len(content), hashlib.sha256(content).hexdigest())
    assert attachment_services.sniff_type(content) == content_type


def test_a_jpeg_loses_its_exif_and_gps_and_is_turned_upright(api_client_for, alice, support_files):
    original = jpeg_with_gps_and_rotation()
    assert Image.open(io.BytesIO(original)).getexif()  # the sample really has metadata
    api_client_for(alice).post("/api/support/tickets", {**TICKET, "attachments": [b64(original)]}, format="json")
    [path] = stored_files(support_files)
    stored = Image.open(path)
    assert stored.format == "JPEG"
    assert stored.size == (20, 40)  # orientation 6 applied
    assert not stored.getexif()
    assert "exif" not in stored.info
    assert b"SpyCam" not in path.read_bytes()
    assert (Attachment.objects.get().width, Attachment.objects.get().height) == (20, 40)


def test_a_png_loses_its_text_chunks_and_colour_profile(api_client_for, alice, support_files):
    api_client_for(alice).post(
        "/api/support/tickets", {**TICKET, "attachments": [b64(png_with_text_and_icc())]}, format="json"
    )
    [path] = stored_files(support_files)
    stored = Image.open(path)
    assert "icc_profile" not in stored.info
    assert "Author" not in stored.info
    assert b"Alice Secret" not in path.read_bytes()


def test_a_pdf_is_stored_as_sent(api_client_for, alice, support_files):
    api_client_for(alice).post("/api/support/tickets", {**TICKET, "attachments": [b64(pdf())]}, format="json")
    assert stored_files(support_files)[0].read_bytes() == pdf()


def test_a_pdf_with_harmless_encoded_streams_is_accepted(api_client_for, alice, support_files):
    page = b"BT /F1 12 Tf 72 712 Td (Statement) Tj ET"
    content = pdf_with_object_stream(b"[/ASCIIHexDecode /FlateDecode]", binascii.hexlify(zlib.compress(page)) + b">")
    payload = {**TICKET, "attachments": [b64(content)]}
    response = api_client_for(alice).post("/api/support/tickets", payload, format="json")
    assert response.status_code == 201, response.content
    assert stored_files(support_files)[0].read_bytes() == content


# --- refused: nothing stored ------------------------------------------------------------------------------------


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
HTML = b"<html><script>alert(1)</script></html>"
JS_ACTION = b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >> "
REFUSED = [
    ("zip", lambda: b64(b"PK\x03\x04\x14\x00\x00\x00" + b"\0" * 40), "attachment_type_not_allowed"),
    ("elf", lambda: b64(b"\x7fELF\x02\x01\x01" + b"\0" * 40), "attachment_type_not_allowed"),
    ("windows exe", lambda: b64(b"MZ\x90\x00\x03" + b"\0" * 40), "attachment_type_not_allowed"),
    ("svg", lambda: b64(SVG), "attachment_type_not_allowed"),
    ("html", lambda: b64(b"  <!DOCTYPE html><html><body>hi</body></html>"), "attachment_type_not_allowed"),
    ("xml", lambda: b64(b"<?xml version='1.0'?><a/>"), "attachment_type_not_allowed"),
    ("gif", lambda: b64(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"), "attachment_type_not_allowed"),
    ("latin-1 text", lambda: b64("café".encode("latin-1")), "attachment_type_not_allowed"),
    ("text with NUL", lambda: b64(b"hello\x00world"), "attachment_type_not_allowed"),
    ("empty", lambda: "", "attachment_invalid_base64"),
    ("pdf as png", lambda: b64(pdf(), "image/png"), "attachment_type_mismatch"),
    ("png as jpeg", lambda: b64(image_bytes("PNG"), "image/jpeg"), "attachment_type_mismatch"),
    ("text as exe", lambda: b64(b"hello", "application/x-msdownload"), "attachment_type_mismatch"),
    ("svg mime", lambda: b64(image_bytes("PNG"), "image/svg+xml"), "attachment_type_mismatch"),
    ("not base64", lambda: "this is not base64!!", "attachment_invalid_base64"),
    ("bad padding", lambda: "iVBORw0KGgo===", "attachment_invalid_base64"),
    ("data url not base64", lambda: "data:image/png,rawbytes", "attachment_invalid_base64"),
    ("truncated png", lambda: b64(image_bytes("PNG", size=(200, 200))[:80]), "attachment_invalid_image"),
    ("truncated jpeg", lambda: b64(image_bytes("JPEG", size=(200, 200))[:300]), "attachment_invalid_image"),
    ("bomb 30000x30000", lambda: b64(png_declaring(30_000, 30_000)), "attachment_image_too_large"),
    ("over our pixel cap", lambda: b64(png_declaring(6_000, 6_000)), "attachment_image_too_large"),
    ("pdf javascript", lambda: b64(pdf(JS_ACTION)), "attachment_pdf_active_content"),
    ("pdf escaped name", lambda: b64(pdf(b"/OpenAction << /S /J#61vaScript >> ")), "attachment_pdf_active_content"),
    ("pdf hidden js", lambda: b64(pdf_with_js_in_object_stream()), "attachment_pdf_active_content"),
    ("pdf js in hex stream", lambda: b64(pdf_js_encoded("hex")), "attachment_pdf_active_content"),
    ("pdf js in ascii85 stream", lambda: b64(pdf_js_encoded("ascii85")), "attachment_pdf_active_content"),
    ("pdf js in hex+flate stream", lambda: b64(pdf_js_encoded("hex+flate")), "attachment_pdf_active_content"),
    ("pdf js, stream after a CR", lambda: b64(pdf_js_encoded("cr eol")), "attachment_pdf_active_content"),
    ("pdf js, raw deflate", lambda: b64(pdf_js_encoded("raw deflate")), "attachment_pdf_active_content"),
    ("pdf embedded file", lambda: b64(pdf(b"/Names << /EmbeddedFiles << /Names [(a.exe) 5 0 R] >> >> ")),
     "attachment_pdf_active_content"),
    ("pdf xfa form", lambda: b64(pdf(b"/AcroForm << /XFA 6 0 R >> ")), "attachment_pdf_active_content"),
    ("pdf launch", lambda: b64(pdf(b"/OpenAction << /S /Launch /F (calc.exe) >> ")), "attachment_pdf_active_content"),
    ("pdf encrypted", lambda: b64(pdf(trailer=b"/Encrypt 9 0 R ")), "attachment_pdf_encrypted"),
]  # fmt: skip


@pytest.mark.parametrize(("label", "make", "code"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_attachments_store_nothing(api_client_for, alice, support_files, label, make, code):
    good = b64(image_bytes("PNG"))
    payload = {**TICKET, "attachments": [good, make()]}
    response = api_client_for(alice).post("/api/support/tickets", payload, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == code
    assert error["details"]["index"] == 1
    assert error["details"]["field"] == "attachments[1]"
    assert_nothing_stored(support_files)


def test_an_attachment_over_the_size_limit_is_refused_before_decoding(api_client_for, alice, settings, support_files):
    settings.SUPPORT_ATTACHMENT_MAX_BYTES = 2048
    client = api_client_for(alice)
    just_over = b64(b"a" * 2049)
    error = client.post("/api/support/tickets", {**TICKET, "attachments": [just_over]}, format="json").json()["error"]
    assert (error["code"], error["details"]["index"]) == ("attachment_too_large", 0)
    assert error["details"]["max_bytes"] == 2048
    huge_garbage = "!" * 10_000  # refused by its length: never decoded, so not reported as bad base64
    error = client.post("/api/support/tickets", {**TICKET, "attachments": [huge_garbage]}, format="json").json()
    assert error["error"]["code"] == "attachment_too_large"
    assert_nothing_stored(support_files)
    exactly = b64(b"a" * 2048)
    assert client.post("/api/support/tickets", {**TICKET, "attachments": [exactly]}, format="json").status_code == 201


def test_too_many_attachments(api_client_for, alice, settings, support_files):
    settings.SUPPORT_ATTACHMENTS_PER_MESSAGE = 2
    payload = {**TICKET, "attachments": [b64(b"one"), b64(b"two"), b64(b"three")]}
    error = api_client_for(alice).post("/api/support/tickets", payload, format="json").json()["error"]
    assert (error["code"], error["details"]["limit"]) == ("too_many_attachments", 2)
    assert_nothing_stored(support_files)


def test_a_refused_attachment_on_a_reply_stores_no_message(api_client_for, alice, support_files):
    client = api_client_for(alice)
    ticket_id = client.post("/api/support/tickets", TICKET, format="json").json()["ticket_id"]
    Ticket.objects.filter(pk=ticket_id).update(status="resolved")
    payload = {"message": "see", "attachments": [b64(b"ok"), b64(png_declaring(30_000, 30_000))]}
    response = client.post(f"/api/support/tickets/{ticket_id}/messages", payload, format="json")
    assert response.json()["error"]["code"] == "attachment_image_too_large"
    assert not TicketMessage.objects.exists()
    assert Ticket.objects.get(pk=ticket_id).status == "resolved"
    assert stored_files(support_files) == []


def test_files_written_in_a_failed_transaction_are_removed(alice, support_files):
    """Something fails after the file was written, inside the transaction: the rows roll back and the file goes."""
    ticket = services.ticket_create(user=alice, subject="s", description="d", category="other")
    prepared = attachment_services.attachments_prepare([b64(image_bytes("PNG")), b64(b"notes")])
    written: list[str] = []

    def store_then_fail() -> None:
        with attachment_services.files_removed_on_error() as names, transaction.atomic():
            attachment_services.attachments_store(
                ticket=ticket, message=None, items=prepared, uploaded_by=alice, written=names
            )
            written.extend(names)
            assert len(stored_files(support_files)) == 2
            raise RuntimeError("failure after the files were written")

    with pytest.raises(RuntimeError, match="after the files"):
        store_then_fail()
    assert len(written) == 2
    assert stored_files(support_files) == []
    assert not Attachment.objects.exists()


# --- multipart ------------------------------------------------------------------------------------------------------


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def test_multipart_upload_creates_the_ticket_with_files(api_client_for, alice, support_files):
    files = [upload("screen.png", image_bytes("PNG"), "image/png"), upload("notes.txt", b"step 1\nstep 2\n")]
    response = api_client_for(alice).post(
        "/api/support/tickets", {**TICKET, "priority": "high", "attachments": files}, format="multipart"
    )
    assert response.status_code == 201, response.content
    assert response.json()["priority"] == "high"
    names = sorted(Attachment.objects.values_list("original_name", "content_type"))
    assert names == [("notes.txt", "text/plain"), ("screen.png", "image/png")]
    assert len(stored_files(support_files)) == 2


def test_multipart_reply_with_a_file(api_client_for, alice, support_files):
    client = api_client_for(alice)
    ticket_id = client.post("/api/support/tickets", TICKET, format="json").json()["ticket_id"]
    response = client.post(
        f"/api/support/tickets/{ticket_id}/messages",
        {"message": "invoice", "attachments": [upload("invoice.pdf", pdf())]},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    [attachment] = response.json()["attachments"]
    assert (attachment["filename"], attachment["content_type"]) == ("invoice.pdf", "application/pdf")
    assert Attachment.objects.get().message_id == response.json()["id"]


@pytest.mark.parametrize(
    ("file", "code"),
    [
        (lambda: upload("x.png", pdf()), "attachment_type_mismatch"),
        (lambda: upload("photo.exe", image_bytes("PNG")), "attachment_type_mismatch"),
        (lambda: upload("photo.png", image_bytes("PNG"), "application/pdf"), "attachment_type_mismatch"),
        (lambda: upload("x.png", b"MZ\x90\x00" + b"\0" * 64), "attachment_type_not_allowed"),
        (lambda: upload("page.html", HTML, "text/html"), "attachment_type_not_allowed"),
        (lambda: upload("big.txt", b"a" * 3000), "attachment_too_large"),
    ],
)  # fmt: skip
def test_multipart_files_are_checked_like_base64(api_client_for, alice, settings, support_files, file, code):
    settings.SUPPORT_ATTACHMENT_MAX_BYTES = 2048
    response = api_client_for(alice).post(
        "/api/support/tickets", {**TICKET, "attachments": [file()]}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert_nothing_stored(support_files)


# --- download ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def shared_png(api_client_for, alice, support_files) -> dict:
    response = api_client_for(alice).post(
        "/api/support/tickets", {**TICKET, "attachments": [b64(image_bytes("PNG"))]}, format="json"
    )
    ticket_id = response.json()["ticket_id"]
    return api_client_for(alice).get(f"/api/support/tickets/{ticket_id}").json()


def test_the_owner_downloads_with_safe_headers(api_client_for, alice, shared_png, support_files):
    [attachment] = shared_png["attachments"]
    assert attachment["message_id"] is None
    assert attachment["download_url"].startswith("http://testserver/api/support/tickets/")
    response = api_client_for(alice).get(attachment["download_url"])
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    assert content == stored_files(support_files)[0].read_bytes()
    assert hashlib.sha256(content).hexdigest() == attachment["sha256"]
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"].startswith("sandbox")
    assert "no-store" in response["Cache-Control"]


def test_a_text_download_says_utf8_and_is_still_an_attachment(api_client_for, alice, support_files):
    client = api_client_for(alice)
    client.post("/api/support/tickets", {**TICKET, "attachments": [b64("héllo".encode())]}, format="json")
    attachment = Attachment.objects.get()
    response = client.get(f"/api/support/tickets/{attachment.ticket_id}/attachments/{attachment.pk}")
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert 'filename="attachment.txt"' in response["Content-Disposition"]


def test_another_user_cannot_download(api_client_for, bob, shared_png):
    url = shared_png["attachments"][0]["download_url"]
    response = api_client_for(bob).get(url)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert APIClient().get(url).status_code == 401


def test_an_attachment_is_only_found_under_its_own_ticket(api_client_for, alice, shared_png):
    other = api_client_for(alice).post("/api/support/tickets", TICKET, format="json").json()["ticket_id"]
    attachment_id = shared_png["attachments"][0]["id"]
    assert api_client_for(alice).get(f"/api/support/tickets/{other}/attachments/{attachment_id}").status_code == 404


def test_attachments_on_internal_notes_are_not_downloadable(api_client_for, alice, shared_png, make_ticket_agent):
    ticket = Ticket.objects.get(pk=shared_png["ticket_id"])
    note = services.ticket_agent_reply(ticket=ticket, agent=make_ticket_agent(), body="n", internal=True)
    Attachment.objects.update(message=note)
    attachment_id = shared_png["attachments"][0]["id"]
    response = api_client_for(alice).get(f"/api/support/tickets/{ticket.pk}/attachments/{attachment_id}")
    assert response.status_code == 404
    assert api_client_for(alice).get(f"/api/support/tickets/{ticket.pk}").json()["attachments"] == []
