"""Upload rules through POST /api/users/kyc/submit (JSON and multipart): every refusal is the error shape and
leaves nothing behind — no submission, no document row, no file; what is stored is ciphertext that no URL serves."""

from __future__ import annotations

import base64
import io
import os
import struct
import zlib
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from apps.kyc.models import KycAuditEvent, KycDocument, KycSubmission, private_storage

from .conftest import image_bytes, submission_body

pytestmark = pytest.mark.django_db


def files_under(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def assert_nothing_stored(root: Path) -> None:
    assert not KycSubmission.objects.exists()
    assert not KycDocument.objects.exists()
    assert not KycAuditEvent.objects.exists()
    assert files_under(root) == []


def refused(response, code: str, field: str) -> None:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code, error
    assert error["details"]["field"] == field


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def png_bomb(width: int = 60_000, height: int = 60_000) -> bytes:
    """A valid, tiny PNG whose header claims 3.6 gigapixels (the pixels decompress from a few KB)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = zlib.compress(b"\x00" * 1024, 9)  # far too few rows: nothing must ever try to decode it
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def minimal_pdf() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


def test_an_oversized_document_is_refused(alice, submit, settings, kyc_private_root):
    settings.KYC_DOCUMENT_MAX_BYTES = 50_000
    noise = io.BytesIO()
    Image.frombytes("RGB", (300, 300), os.urandom(300 * 300 * 3)).save(noise, "PNG")  # incompressible
    assert len(noise.getvalue()) > 50_000
    refused(
        submit(alice, submission_body(document_image=b64(noise.getvalue()))), "document_too_large", "document_image"
    )
    assert_nothing_stored(kyc_private_root)


def test_a_pdf_with_a_jpeg_extension_is_refused(alice, api_client_for, kyc_private_root):
    response = api_client_for(alice).post(
        "/api/users/kyc/submit",
        {
            "document_type": "passport",
            "document_image": SimpleUploadedFile("passport.jpg", minimal_pdf(), content_type="image/jpeg"),
            "selfie_image": SimpleUploadedFile("me.png", image_bytes(480, 640), content_type="image/png"),
            "personal_info": '{"full_name": "Ada Lovelace", "date_of_birth": "1990-01-01", "address": "1 High St"}',
        },
        format="multipart",
    )
    refused(response, "document_type_mismatch", "document_image")
    assert_nothing_stored(kyc_private_root)


def test_text_sent_as_a_png_data_url_is_refused(alice, submit, kyc_private_root):
    fake = "data:image/png;base64," + b64(b"<html><script>alert(1)</script></html>")
    response = submit(alice, submission_body(selfie_image=fake))
    assert response.status_code == 400
    assert response.json()["error"]["code"] in ("document_type_not_allowed", "document_type_mismatch")
    assert response.json()["error"]["details"]["field"] == "selfie_image"
    assert_nothing_stored(kyc_private_root)


def test_a_selfie_must_be_an_image(alice, submit, kyc_private_root):
    response = submit(alice, submission_body(selfie_image=b64(minimal_pdf())))
    refused(response, "document_type_not_allowed", "selfie_image")
    assert_nothing_stored(kyc_private_root)


@pytest.mark.parametrize(
    "payload",
    [
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 40,  # a ZIP (e.g. a JAR) glued after the image
        minimal_pdf(),  # a PDF after the image's end
        b"<html><script>alert(document.cookie)</script></html>",
    ],
    ids=["zip", "pdf", "html"],
)
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_polyglot_images_are_refused(alice, submit, kyc_private_root, payload, fmt):
    response = submit(alice, submission_body(document_image=b64(image_bytes(fmt=fmt) + payload)))
    refused(response, "document_polyglot", "document_image")
    assert_nothing_stored(kyc_private_root)


def test_a_decompression_bomb_is_refused_before_decoding(alice, submit, kyc_private_root):
    response = submit(alice, submission_body(document_image=b64(png_bomb())))
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] in ("document_too_many_pixels", "document_dimensions"), error
    assert error["details"]["field"] == "document_image"
    assert_nothing_stored(kyc_private_root)


def test_a_too_small_image_is_refused(alice, submit, kyc_private_root):
    response = submit(alice, submission_body(document_image=b64(image_bytes(120, 80))))
    refused(response, "document_dimensions", "document_image")
    assert_nothing_stored(kyc_private_root)


def test_a_later_refused_document_leaves_no_file_of_an_earlier_good_one(alice, submit, kyc_private_root):
    response = submit(alice, submission_body(proof_of_address=b64(png_bomb())))
    assert response.status_code == 400
    assert response.json()["error"]["details"]["field"] == "proof_of_address"
    assert_nothing_stored(kyc_private_root)


def test_stored_documents_are_ciphertext_served_by_no_url(alice, submit, api_client, kyc_private_root):
    document = image_bytes(700, 450, "PNG", color=(1, 2, 3))
    response = submit(alice, submission_body(document_image=b64(document)))
    assert response.status_code == 201, response.content
    stored = KycDocument.objects.get(submission_id=response.json()["kyc_id"], kind="document")
    on_disk = Path(stored.file.path).read_bytes()
    assert Path(stored.file.path).resolve().is_relative_to(kyc_private_root.resolve())
    assert not on_disk.startswith(b"\x89PNG")
    assert b"IHDR" not in on_disk
    assert b"IDAT" not in on_disk
    from apps.kyc import crypto

    plaintext = crypto.decrypt(on_disk)
    assert plaintext.startswith(b"\x89PNG")
    assert Image.open(io.BytesIO(plaintext)).size == (700, 450)
    # Not under a public root, and no URL: the storage has none, and the web server does not serve the folder.
    for public in (settings.MEDIA_ROOT, settings.STATIC_ROOT):
        if public:
            assert not Path(stored.file.path).resolve().is_relative_to(Path(public).resolve())
    with pytest.raises(NotImplementedError):
        private_storage.url(stored.file.name)
    for url in (
        f"/media/{stored.file.name}",
        f"/static/{stored.file.name}",
        f"/{stored.file.name}",
        f"/var/private/kyc/{stored.file.name}",
    ):
        assert api_client.get(url).status_code == 404, url
    # The user's own API never shows a document or a path to one.
    status = api_client.get("/api/users/kyc/status")
    assert status.status_code == 401
