"""Identity documents (services): refused uploads store nothing; stored files are encrypted, stripped of metadata,
served by no URL; keys rotate; retention deletes documents and keeps the decision; a rollback leaves no file."""

from __future__ import annotations

import base64
import hashlib
import io
import struct
import uuid
import zipfile
import zlib
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone
from PIL import ExifTags, Image, PngImagePlugin

from apps.accounts.models import User
from apps.kyc import tasks
from apps.kyc.models import KycAuditEvent, KycDocument, KycSubmission, private_storage
from apps.kyc.services import documents as services
from engipay.api.errors import InvalidInput, NotFound

pytestmark = pytest.mark.django_db

PERSONAL_INFO = {"full_name": "Ada Lovelace", "date_of_birth": "1990-01-01", "address": "12 Main St, London"}


@pytest.fixture
def private_root(settings, tmp_path) -> Path:
    """Documents go to a fresh folder under one fresh key; returns the folder (list it to see what was stored)."""
    root = tmp_path / "kyc-documents"
    settings.KYC_PRIVATE_ROOT = str(root)
    settings.KYC_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    return root


@pytest.fixture
def make_submission(private_root):
    def make(status: str = KycSubmission.Status.PENDING, decided_days_ago: int | None = None) -> KycSubmission:
        user = User.objects.create_user(email=f"kyc-{uuid.uuid4().hex[:8]}@example.com", password="pw-tests-only")
        decided_at = timezone.now() - timedelta(days=decided_days_ago) if decided_days_ago is not None else None
        return KycSubmission.objects.create(
            user=user, document_type="passport", personal_info=PERSONAL_INFO, status=status, decided_at=decided_at
        )

    return make


@pytest.fixture
def submission(make_submission) -> KycSubmission:
    return make_submission()


# --- sample files ----------------------------------------------------------------------------------------------


def image_bytes(fmt: str = "PNG", size=(640, 400), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=fmt, **save)
    return out.getvalue()


def b64(content: bytes, mime: str | None = None) -> str:
    encoded = base64.b64encode(content).decode()
    return f"data:{mime};base64,{encoded}" if mime else encoded


def jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyCam"
    exif[ExifTags.Base.GPSInfo] = {ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLongitudeRef: "E"}
    return image_bytes("JPEG", exif=exif.tobytes())


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int) -> bytes:
    """A real, tiny PNG whose header is rewritten to claim ``width`` x ``height`` (a decompression bomb's start)."""
    png = bytearray(image_bytes("PNG", size=(8, 8)))
    png[16:24] = struct.pack(">II", width, height)  # IHDR's data starts at 16; its CRC covers type and data
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))
    return bytes(png)


def png_with_chunk(kind: bytes, data: bytes) -> bytes:
    """A valid PNG with one more chunk just before IEND."""
    png = image_bytes("PNG")
    iend = png.rindex(b"IEND") - 4
    return png[:iend] + png_chunk(kind, data) + png[iend:]


def jpeg_with_comment(comment: bytes) -> bytes:
    jpeg = image_bytes("JPEG")
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + jpeg[2:]


def zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload.html", "<html><script>alert(1)</script></html>")
    return out.getvalue()


def pdf(body: bytes = b"", tail: bytes = b"") -> bytes:
    """A well-formed PDF (cross-reference table and startxref, as real files have) with ``body`` objects added."""
    head = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    objects = [
        b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
        b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n",
    ]
    offsets, position = [], len(head)
    for item in objects:
        offsets.append(position)
        position += len(item)
    xref = b"xref\n0 3\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    start = position + len(body)
    return (
        head
        + b"".join(objects)
        + body
        + xref
        + b"trailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % start
        + tail
    )


def pdf_with_stream(data: bytes, dictionary: bytes = b"/Length 0") -> bytes:
    return pdf(b"3 0 obj\n<< " + dictionary + b" >>\nstream\n" + data + b"\nendstream\nendobj\n")


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def assert_nothing_stored(root: Path) -> None:
    assert not KycDocument.objects.exists()
    assert stored_files(root) == []


def prepare_and_store(submission: KycSubmission, files: dict) -> list[KycDocument]:
    """What the submit service does: everything validated first, then stored in one transaction."""
    prepared = services.kyc_documents_prepare(files=files)
    with transaction.atomic():
        return services.kyc_documents_store(submission=submission, prepared=prepared)


def refusal(submission: KycSubmission, files: dict) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        prepare_and_store(submission, files)
    return caught.value


# --- accepted --------------------------------------------------------------------------------------------------


ACCEPTED = [
    ("png", lambda: b64(image_bytes("PNG")), "image/png", (640, 400)),
    ("jpeg data url", lambda: b64(image_bytes("JPEG"), "image/jpeg"), "image/jpeg", (640, 400)),
    ("webp", lambda: b64(image_bytes("WEBP")), "image/webp", (640, 400)),
    ("progressive jpeg", lambda: b64(image_bytes("JPEG", progressive=True)), "image/jpeg", (640, 400)),
    ("jpeg, comment holding a thumbnail's EOI", lambda: b64(jpeg_with_comment(b"\xff\xd8thumb\xff\xd9")),
     "image/jpeg", (640, 400)),
    ("jpeg upload", lambda: SimpleUploadedFile("id.jpeg", image_bytes("JPEG"), "image/jpeg"), "image/jpeg",
     (640, 400)),
    ("pdf", lambda: b64(pdf(), "application/pdf"), "application/pdf", (None, None)),
    ("scanned pdf (a jpeg stream)", lambda: b64(pdf_with_stream(image_bytes("JPEG"), b"/Filter /DCTDecode")),
     "application/pdf", (None, None)),
]  # fmt: skip


@pytest.mark.parametrize(("label", "make", "content_type", "size"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_accepted_documents_are_stored_encrypted(private_root, submission, label, make, content_type, size):
    [document] = prepare_and_store(submission, {"document": make()})
    assert (document.kind, document.content_type, (document.width, document.height)) == ("document", content_type, size)
    assert document.file.name.startswith(f"documents/{timezone.now():%Y/%m}/")
    assert "." not in document.file.name.rsplit("/", 1)[1]  # the name says nothing about the content
    [path] = stored_files(private_root)
    plaintext = services.kyc_document_read(document=document)
    assert (document.size, document.sha256) == (len(plaintext), hashlib.sha256(plaintext).hexdigest())
    assert plaintext not in path.read_bytes()


def test_all_three_kinds_are_stored_with_their_dimensions(private_root, submission):
    files = {
        "document": b64(image_bytes("PNG")),
        "selfie": b64(image_bytes("JPEG", size=(480, 640))),
        "proof_of_address": b64(pdf()),
    }
    stored = prepare_and_store(submission, files)
    assert {(d.kind, d.width, d.height) for d in stored} == {
        ("document", 640, 400),
        ("selfie", 480, 640),
        ("proof_of_address", None, None),
    }
    assert len(stored_files(private_root)) == 3


def test_stored_bytes_are_not_the_plaintext_and_decrypt_back(private_root, submission, settings):
    content = image_bytes("PNG")
    prepared = services.kyc_documents_prepare(files={"document": b64(content)})
    plaintext = prepared["document"].content
    [document] = services.kyc_documents_store(submission=submission, prepared=prepared)
    on_disk = (private_root / document.file.name).read_bytes()
    assert plaintext not in on_disk
    assert plaintext[:32] not in on_disk  # not even the PNG header and first chunk
    assert b"IHDR" not in on_disk
    assert Fernet(settings.KYC_ENCRYPTION_KEYS[0]).decrypt(on_disk) == plaintext  # a Fernet token of it
    assert services.kyc_document_read(document=document) == plaintext
    assert (document.size, document.sha256) == (len(plaintext), prepared["document"].sha256)


def test_no_url_serves_a_document(private_root, submission, settings):
    import engipay.settings.kyc as kyc_settings

    [document] = prepare_and_store(submission, {"document": b64(image_bytes("PNG"))})
    with pytest.raises(NotImplementedError):
        private_storage.url(document.file.name)
    with pytest.raises(NotImplementedError):
        document.file.url  # noqa: B018
    default_root = Path(kyc_settings.KYC_PRIVATE_ROOT).resolve()
    for public in [settings.MEDIA_ROOT, settings.STATIC_ROOT, *settings.STATICFILES_DIRS]:
        assert not default_root.is_relative_to(Path(public).resolve())
    on_disk = (private_root / document.file.name).read_bytes()
    client = Client()
    for prefix in ["/", "/static/", "/media/", "/private/", "/kyc/", "/api/users/kyc/"]:
        response = client.get(prefix + document.file.name)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert response.status_code in (401, 404), prefix
        assert on_disk not in body


def test_exif_and_gps_are_stripped(private_root, submission):
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif()  # the sample really has metadata
    [document] = prepare_and_store(submission, {"selfie": b64(original)})
    stored = services.kyc_document_read(document=document)
    image = Image.open(io.BytesIO(stored))
    assert not image.getexif()
    assert "exif" not in image.info
    assert b"SpyCam" not in stored


def test_png_text_is_stripped(private_root, submission):
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "gps 52.1,4.3 Alice Secret")
    [document] = prepare_and_store(submission, {"document": b64(image_bytes("PNG", pnginfo=info))})
    assert b"Alice Secret" not in services.kyc_document_read(document=document)


# --- refused: nothing stored ------------------------------------------------------------------------------------


JS_ACTION = b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >> "
REFUSED = [
    # wrong type, good extension or declared type
    ("pdf named .jpg", "document", lambda: SimpleUploadedFile("id.jpg", pdf(), "application/octet-stream"),
     "document_type_mismatch"),
    ("pdf declared as jpeg", "document", lambda: SimpleUploadedFile("id.jpg", pdf(), "image/jpeg"),
     "document_type_mismatch"),
    ("png in a jpeg data url", "document", lambda: b64(image_bytes("PNG"), "image/jpeg"), "document_type_mismatch"),
    ("text named .png", "document", lambda: SimpleUploadedFile("id.png", b"hello there", "image/png"),
     "document_type_not_allowed"),
    ("text", "document", lambda: b64(b"just some text"), "document_type_not_allowed"),
    ("gif", "document", lambda: b64(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"), "document_type_not_allowed"),
    ("html", "document", lambda: b64(b"<html><script>alert(1)</script></html>"), "document_type_not_allowed"),
    ("zip", "proof_of_address", lambda: b64(zip_bytes()), "document_type_not_allowed"),
    ("selfie as pdf", "selfie", lambda: b64(pdf()), "document_type_not_allowed"),
    # polyglots
    ("jpeg + zip", "document", lambda: b64(image_bytes("JPEG") + zip_bytes()), "document_polyglot"),
    ("png + pdf", "document", lambda: b64(image_bytes("PNG") + pdf()), "document_polyglot"),
    ("png + html", "selfie", lambda: b64(image_bytes("PNG") + b"<html><script>alert(1)</script>"),
     "document_polyglot"),
    ("webp + trailing bytes", "document", lambda: b64(image_bytes("WEBP") + b"<?php system($_GET[0]); ?>"),
     "document_polyglot"),
    ("png with a script chunk", "document", lambda: b64(png_with_chunk(b"tEXt", b"c\0<script>alert(1)</script>")),
     "document_polyglot"),
    ("jpeg with a pdf header", "document", lambda: b64(jpeg_with_comment(b"%PDF-1.7\n1 0 obj")),
     "document_polyglot"),
    ("jpeg with a zip inside", "document", lambda: b64(jpeg_with_comment(zip_bytes())), "document_polyglot"),
    ("pdf + appended zip", "proof_of_address", lambda: b64(pdf(tail=zip_bytes())), "document_polyglot"),
    ("pdf with a zip in a stream", "proof_of_address", lambda: b64(pdf_with_stream(zip_bytes())),
     "document_polyglot"),
    ("pdf with html outside streams", "proof_of_address",
     lambda: b64(pdf(b"%<html><body><script>alert(1)</script>\n")), "document_polyglot"),
    ("pdf with a loose png", "document", lambda: b64(pdf(image_bytes("PNG"))), "document_polyglot"),
    ("pdf + trailing html", "document", lambda: b64(pdf(tail=b"<b>hi</b>")), "document_polyglot"),
    # decompression bombs and dimensions
    ("bomb 30000x30000", "document", lambda: b64(png_declaring(30_000, 30_000)), "document_too_many_pixels"),
    ("over the pixel cap", "selfie", lambda: b64(png_declaring(9_000, 9_000)), "document_too_many_pixels"),
    ("side over the maximum", "document", lambda: b64(png_declaring(12_000, 1_000)), "document_dimensions"),
    ("too small", "selfie", lambda: b64(image_bytes("JPEG", size=(150, 400))), "document_dimensions"),
    # unreadable
    ("truncated jpeg", "document", lambda: b64(image_bytes("JPEG")[:400]), "document_invalid"),
    ("truncated png", "document", lambda: b64(image_bytes("PNG")[:100]), "document_invalid"),
    ("not base64", "document", lambda: "this is not base64!!", "document_invalid"),
    ("not a string", "document", lambda: 12345, "document_invalid"),
    ("empty upload", "document", lambda: SimpleUploadedFile("id.png", b"", "image/png"), "document_empty"),
    # active pdfs
    ("pdf javascript", "proof_of_address", lambda: b64(pdf(b"4 0 obj\n<< " + JS_ACTION + b">>\nendobj\n")),
     "document_pdf_active_content"),
]  # fmt: skip

FIELDS = {"document": "document_image", "selfie": "selfie_image", "proof_of_address": "proof_of_address"}


@pytest.mark.parametrize(("label", "kind", "make", "code"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_documents_store_nothing(private_root, submission, label, kind, make, code):
    files = {"document": b64(image_bytes("PNG")), "selfie": b64(image_bytes("JPEG")), kind: make()}
    error = refusal(submission, files)
    assert (error.code, error.details["field"]) == (code, FIELDS[kind])
    assert error.status_code == 400
    assert_nothing_stored(private_root)


def test_a_polyglot_refusal_says_what_was_found(private_root, submission):
    error = refusal(submission, {"document": b64(image_bytes("JPEG") + zip_bytes())})
    assert error.details == {"field": "document_image", "detected": "data after the end of the image"}
    error = refusal(submission, {"proof_of_address": b64(pdf_with_stream(zip_bytes()))})
    assert error.details == {"field": "proof_of_address", "detected": "zip"}


def test_an_oversize_document_is_refused_before_decoding(private_root, submission, settings):
    settings.KYC_DOCUMENT_MAX_BYTES = 2048
    error = refusal(submission, {"document": b64(b"\x89PNG\r\n\x1a\n" + b"a" * 2041)})
    assert (error.code, error.details) == ("document_too_large", {"field": "document_image", "max_bytes": 2048})
    # Refused by its length alone: never decoded, so not reported as bad base64.
    assert refusal(submission, {"selfie": "!" * 10_000}).code == "document_too_large"
    upload = SimpleUploadedFile("id.png", b"\x89PNG" + b"a" * 3000, "image/png")
    assert refusal(submission, {"proof_of_address": upload}).details["field"] == "proof_of_address"
    assert_nothing_stored(private_root)


def test_dimension_refusal_names_the_bounds(private_root, submission, settings):
    settings.KYC_IMAGE_MIN_SIDE = 300
    error = refusal(submission, {"selfie": b64(image_bytes("PNG", size=(640, 299)))})
    assert error.code == "document_dimensions"
    assert error.details == {
        "field": "selfie_image",
        "width": 640,
        "height": 299,
        "min_side": 300,
        "max_side": settings.KYC_IMAGE_MAX_SIDE,
    }


def test_an_unknown_kind_is_refused(private_root, submission):
    assert refusal(submission, {"passport_scan": b64(image_bytes())}).code == "document_invalid"


# --- a failed transaction leaves no file -----------------------------------------------------------------------------


def test_files_written_in_a_rolled_back_transaction_are_removed(private_root, submission):
    prepared = services.kyc_documents_prepare(
        files={"document": b64(image_bytes("PNG")), "selfie": b64(image_bytes("JPEG"))}
    )

    def store_then_fail() -> None:
        with transaction.atomic():
            services.kyc_documents_store(submission=submission, prepared=prepared)
            assert len(stored_files(private_root)) == 2
            raise RuntimeError("failure after the files were written")

    with pytest.raises(RuntimeError, match="after the files"):
        store_then_fail()
    assert stored_files(private_root) == []
    assert not KycDocument.objects.exists()


def test_a_failure_inside_the_store_removes_what_it_wrote(private_root, submission):
    prepared = services.kyc_documents_prepare(files={"document": b64(image_bytes("PNG"))})
    [kept] = services.kyc_documents_store(submission=submission, prepared=prepared)
    with pytest.raises(IntegrityError):  # a second "document" for the same submission
        services.kyc_documents_store(submission=submission, prepared=prepared)
    assert stored_files(private_root) == [private_root / kept.file.name]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_submission_leaves_no_file_and_a_committed_one_keeps_its_files(private_root, make_submission):
    prepared = services.kyc_documents_prepare(files={"document": b64(image_bytes("PNG"))})

    def submit_twice() -> None:
        with transaction.atomic():
            submission = make_submission()
            services.kyc_documents_store(submission=submission, prepared=prepared)
            assert len(stored_files(private_root)) == 1
            KycSubmission.objects.create(user=submission.user, document_type="passport")  # a second open one

    with pytest.raises(IntegrityError):
        submit_twice()
    assert stored_files(private_root) == []
    with transaction.atomic():
        [document] = services.kyc_documents_store(submission=make_submission(), prepared=prepared)
    assert stored_files(private_root) == [private_root / document.file.name]
    assert services.kyc_document_read(document=document) == prepared["document"].content


@pytest.mark.django_db(transaction=True)
def test_files_stay_when_an_earlier_commit_hook_fails(private_root, make_submission):
    """The transaction committed; a hook registered before the store raised, so the store's own hook never ran."""
    prepared = services.kyc_documents_prepare(files={"document": b64(image_bytes("PNG"))})

    def failing_hook() -> None:
        raise RuntimeError("a hook failed after the commit")

    def submit() -> None:
        with transaction.atomic():
            transaction.on_commit(failing_hook)
            services.kyc_documents_store(submission=make_submission(), prepared=prepared)

    with pytest.raises(RuntimeError, match="hook failed"):
        submit()
    document = KycDocument.objects.get()
    assert services.kyc_document_read(document=document) == prepared["document"].content


# --- key rotation ----------------------------------------------------------------------------------------------------


def test_key_rotation(private_root, submission, settings):
    old_key, new_key = settings.KYC_ENCRYPTION_KEYS[0], Fernet.generate_key().decode()
    stored = prepare_and_store(submission, {"document": b64(image_bytes("PNG")), "proof_of_address": b64(pdf())})
    plaintexts = {document.pk: services.kyc_document_read(document=document) for document in stored}

    settings.KYC_ENCRYPTION_KEYS = [new_key]
    with pytest.raises(InvalidToken):  # the new key alone cannot read what the old one wrote
        services.kyc_document_read(document=stored[0])

    settings.KYC_ENCRYPTION_KEYS = [new_key, old_key]  # the old key second still decrypts
    assert all(services.kyc_document_read(document=d) == plaintexts[d.pk] for d in stored)
    out = io.StringIO()
    call_command("kyc_rotate_keys", stdout=out)
    assert "Re-encrypted 3 items" in out.getvalue()  # two files and one personal info

    settings.KYC_ENCRYPTION_KEYS = [new_key]  # after the rotation, only the new key is needed
    assert all(services.kyc_document_read(document=d) == plaintexts[d.pk] for d in stored)
    assert KycSubmission.objects.get(pk=submission.pk).personal_info == PERSONAL_INFO
    for path in stored_files(private_root):
        Fernet(new_key).decrypt(path.read_bytes())
    assert sorted(stored_files(private_root)) == sorted(private_root / d.file.name for d in stored)


def test_rotation_skips_purged_documents(private_root, make_submission):
    decided = make_submission(KycSubmission.Status.VERIFIED, decided_days_ago=365)
    prepare_and_store(decided, {"document": b64(image_bytes("PNG"))})
    services.kyc_documents_purge()
    assert services.kyc_keys_rotate() == 0


# --- retention ------------------------------------------------------------------------------------------------------


def with_documents(submission: KycSubmission) -> KycSubmission:
    prepare_and_store(submission, {"document": b64(image_bytes("PNG")), "selfie": b64(image_bytes("JPEG"))})
    return submission


def test_retention_deletes_documents_and_keeps_the_decision(private_root, make_submission, settings):
    settings.KYC_DOCUMENT_RETENTION_DAYS = 90
    old = with_documents(make_submission(KycSubmission.Status.VERIFIED, decided_days_ago=91))
    rejected = with_documents(make_submission(KycSubmission.Status.REJECTED, decided_days_ago=200))
    recent = with_documents(make_submission(KycSubmission.Status.VERIFIED, decided_days_ago=89))
    pending = with_documents(make_submission())
    kept = {private_root / d.file.name for d in KycDocument.objects.filter(submission__in=[recent, pending])}
    decided_at = KycSubmission.objects.get(pk=old.pk).decided_at

    assert services.kyc_documents_purge() == 2

    assert set(stored_files(private_root)) == kept
    for purged in (old, rejected):
        purged.refresh_from_db()
        assert purged.documents_purged_at is not None
        assert purged.personal_info is None
        for document in purged.documents.all():
            assert (document.file.name, document.purged_at) == ("", purged.documents_purged_at)
            with pytest.raises(NotFound) as caught:
                services.kyc_document_read(document=document)
            assert caught.value.code == "document_purged"
        event = KycAuditEvent.objects.get(submission=purged, action=KycAuditEvent.Action.DOCUMENTS_PURGED)
        assert (event.actor, event.details) == (None, {"documents": 2})
    old.refresh_from_db()
    assert (old.status, old.decided_at) == (KycSubmission.Status.VERIFIED, decided_at)
    for untouched in (recent, pending):
        untouched.refresh_from_db()
        assert (untouched.documents_purged_at, untouched.personal_info) == (None, PERSONAL_INFO)
        assert not untouched.documents.filter(purged_at__isnull=False).exists()


def test_retention_is_idempotent(private_root, make_submission):
    with_documents(make_submission(KycSubmission.Status.RESUBMISSION_REQUIRED, decided_days_ago=400))
    assert tasks.kyc_documents_purge() == 1  # the beat task runs the service
    assert tasks.kyc_documents_purge() == 0
    assert KycAuditEvent.objects.filter(action=KycAuditEvent.Action.DOCUMENTS_PURGED).count() == 1
    assert stored_files(private_root) == []


def test_retention_of_zero_days_purges_at_the_decision(private_root, make_submission, settings):
    settings.KYC_DOCUMENT_RETENTION_DAYS = 0
    with_documents(make_submission(KycSubmission.Status.REJECTED, decided_days_ago=0))
    assert services.kyc_documents_purge(now=timezone.now() + timedelta(seconds=1)) == 1


def test_the_purge_task_is_scheduled(settings):
    assert tasks.kyc_documents_purge.name == "kyc.documents_purge"
    assert "kyc.documents_purge" in {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}


def test_pdf_metadata_is_stripped():
    """A real PDF (made by pypdf) with an /Info dictionary and an XMP stream comes out without either."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Author": "Jane Secret", "/Producer": "ScanApp 9 on Jane's phone"})
    writer.xmp_metadata = (
        b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
        b"<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'><rdf:Description "
        b"xmlns:xmp='http://ns.adobe.com/xap/1.0/' xmp:CreatorTool='GPS 51.5,-0.12'/></rdf:RDF></x:xmpmeta>"
        b'<?xpacket end="w"?>'
    )
    original = io.BytesIO()
    writer.write(original)
    assert b"Jane Secret" in original.getvalue()
    prepared = services.kyc_documents_prepare(files={"document": base64.b64encode(original.getvalue()).decode()})[
        "document"
    ]
    assert prepared.content_type == "application/pdf"
    for secret in (b"Jane Secret", b"ScanApp", b"GPS 51.5", b"xmpmeta"):
        assert secret not in prepared.content
    reread = PdfReader(io.BytesIO(prepared.content))
    assert len(reread.pages) == 1
    assert reread.metadata is None or "/Author" not in reread.metadata
