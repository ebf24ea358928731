"""Ticket attachments: every check runs before anything is stored (ASVS V5 uploads).

Accepted: PNG, JPEG, WebP, PDF and plain UTF-8 text, recognised from their bytes only. A type claimed by a
``data:<mime>;base64,`` URL, a multipart part's content type or a file name's extension must agree with the
content. Images are checked for their pixel count before being decoded, then re-encoded to the same format with
their EXIF orientation applied and every metadata chunk (EXIF, GPS, ICC profile, text) dropped. PDFs with
JavaScript, launch actions, embedded files, rich media, XFA forms or encryption are refused (names are looked for in
the file and in its streams, decoded); others are stored as sent. Files get random names under
``tickets/%Y/%m/`` on private storage.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import re
import uuid
import warnings
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse
from PIL import Image, ImageOps

from apps.support.models import Attachment, Ticket, TicketMessage, private_storage
from engipay.api.errors import InvalidInput, NotFound

PNG, JPEG, WEBP, PDF, TEXT = "image/png", "image/jpeg", "image/webp", "application/pdf", "text/plain"
EXTENSION = {PNG: "png", JPEG: "jpg", WEBP: "webp", PDF: "pdf", TEXT: "txt"}
PIL_FORMAT = {PNG: "PNG", JPEG: "JPEG", WEBP: "WEBP"}
# What a claimed type (data URL, multipart part, file extension) may say for each sniffed type.
MIME_ALIASES = {
    "image/png": PNG,
    "image/jpeg": JPEG,
    "image/jpg": JPEG,
    "image/pjpeg": JPEG,
    "image/webp": WEBP,
    "application/pdf": PDF,
    "application/x-pdf": PDF,
    "text/plain": TEXT,
}
EXTENSION_TYPES = {
    "png": PNG,
    "jpg": JPEG,
    "jpeg": JPEG,
    "jpe": JPEG,
    "jfif": JPEG,
    "webp": WEBP,
    "pdf": PDF,
    "txt": TEXT,
    "text": TEXT,
    "log": TEXT,
}
# Multipart clients that do not know the type say so; that is no claim.
NO_CLAIM = {"", "application/octet-stream", "binary/octet-stream"}
DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(?:;[\w.+-]+=[^;,]*)*);base64,", re.IGNORECASE)
BASE64_ALPHABET = re.compile(rb"^[A-Za-z0-9+/]*={0,2}$")
# Text may hold tabs, line breaks and form feeds; other C0 controls, DEL and NUL mean it is not text.
TEXT_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
MARKUP_START = re.compile(r"^\s*<[!?a-zA-Z]")
PDF_NAME = re.compile(rb"/((?:[^\s/<>\[\]()%{}#]|#[0-9A-Fa-f]{2})+)")
# Readers also accept a lone CR after "stream", so the scan does too.
PDF_STREAM = re.compile(rb"stream(?:\r\n|\r|\n)(.*?)endstream", re.DOTALL)
# Names that make a PDF do something (run script, start a program, carry another file, an XFA form's scripts).
PDF_FORBIDDEN = {
    b"JavaScript": "JavaScript",
    b"JS": "JavaScript",
    b"Launch": "a launch action",
    b"EmbeddedFile": "an embedded file",
    b"EmbeddedFiles": "an embedded file",
    b"FileAttachment": "an embedded file",
    b"RichMedia": "rich media",
    b"XFA": "an XFA form",
}
# Stream filters that are undone before a stream's content is scanned, in any order and up to this many deep:
# without it, a dictionary in an object stream behind /ASCIIHexDecode or /ASCII85Decode would go unseen.
PDF_DECODE_DEPTH = 3
PDF_HEX = re.compile(rb"^[\s0-9A-Fa-f]*>")


@dataclass(frozen=True)
class PreparedAttachment:
    """A validated attachment, ready to store: ``content`` is what goes on disk (re-encoded for images)."""

    content: bytes
    content_type: str
    original_name: str = ""
    width: int | None = None
    height: int | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def _refuse(code: str, message: str, index: int, **details: Any) -> InvalidInput:
    return InvalidInput(code, message, {"index": index, "field": f"attachments[{index}]", **details})


def attachments_prepare(raw: Iterable[Any]) -> list[PreparedAttachment]:
    """Validate raw attachments (base64 strings, data URLs, uploaded files or already prepared items) in order.

    Raises :class:`InvalidInput` naming the first refused item's index; stores nothing.
    """
    items = list(raw or ())
    limit = settings.SUPPORT_ATTACHMENTS_PER_MESSAGE
    if len(items) > limit:
        raise InvalidInput(
            "too_many_attachments", f"At most {limit} attachments per message.", {"limit": limit, "count": len(items)}
        )
    return [_prepare_one(item, index) for index, item in enumerate(items)]


def _prepare_one(item: Any, index: int) -> PreparedAttachment:
    if isinstance(item, PreparedAttachment):
        return item
    if isinstance(item, UploadedFile):
        content, claimed, name = _read_upload(item, index)
    elif isinstance(item, str):
        content, claimed = _decode_base64(item, index)
        name = ""
    else:
        raise _refuse("attachment_invalid", "An attachment must be a base64 string or an uploaded file.", index)
    if not content:
        raise _refuse("attachment_empty", "The attachment is empty.", index)
    sniffed = sniff_type(content)
    if sniffed is None:
        raise _refuse(
            "attachment_type_not_allowed",
            "Only PNG, JPEG, WebP, PDF and plain text attachments are accepted.",
            index,
            allowed=sorted(EXTENSION),
        )
    _check_claims(sniffed=sniffed, claimed=claimed, name=name, index=index)
    if sniffed in PIL_FORMAT:
        return _reencode_image(content, sniffed, name, index)
    if sniffed == PDF:
        _check_pdf(content, index)
    return PreparedAttachment(content=content, content_type=sniffed, original_name=name)


def _max_bytes() -> int:
    return settings.SUPPORT_ATTACHMENT_MAX_BYTES


def _too_large(index: int) -> InvalidInput:
    limit = _max_bytes()
    return _refuse("attachment_too_large", f"An attachment may be at most {limit} bytes.", index, max_bytes=limit)


def _read_upload(upload: UploadedFile, index: int) -> tuple[bytes, str, str]:
    if upload.size is None or upload.size > _max_bytes():
        raise _too_large(index)
    upload.seek(0)
    content = upload.read(_max_bytes() + 1)
    if len(content) > _max_bytes():
        raise _too_large(index)
    claimed = (upload.content_type or "").split(";")[0].strip().lower()
    return content, claimed, _clean_name(upload.name or "")


def _decode_base64(value: str, index: int) -> tuple[bytes, str]:
    claimed = ""
    match = DATA_URL.match(value)
    if match:
        claimed = (match.group("mime") or "").lower()
        value = value[match.end() :]
    elif value.startswith("data:"):
        raise _refuse("attachment_invalid_base64", "Only base64 data URLs are accepted.", index)
    # Refused by length before decoding: 4 base64 characters carry 3 bytes (whitespace allowed, as some
    # encoders wrap lines; it is at most a few percent more).
    if len(value) > (_max_bytes() + 2) // 3 * 4 * 105 // 100 + 64:
        raise _too_large(index)
    compact = re.sub(r"\s+", "", value).encode("ascii", errors="replace")
    if not compact or not BASE64_ALPHABET.match(compact):
        raise _refuse("attachment_invalid_base64", "The attachment is not valid base64.", index)
    if len(compact) % 4:
        compact += b"=" * (-len(compact) % 4)
    try:
        content = binascii.a2b_base64(compact, strict_mode=True)
    except binascii.Error as exc:
        raise _refuse("attachment_invalid_base64", "The attachment is not valid base64.", index) from exc
    if len(content) > _max_bytes():
        raise _too_large(index)
    return content, claimed


def _clean_name(name: str) -> str:
    """Only the last path component, printable, at most 200 characters; kept for the download's file name."""
    name = os.path.basename(name.replace("\\", "/"))
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>|:*?')
    return name.strip(" .")[-200:]


def sniff_type(content: bytes) -> str | None:
    """The accepted type these bytes are, from their content alone; None for anything else."""
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if content.startswith(b"\xff\xd8\xff"):
        return JPEG
    if len(content) >= 12 and content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return WEBP
    if content.startswith(b"%PDF-"):
        return PDF
    return TEXT if _is_plain_text(content) else None


def _is_plain_text(content: bytes) -> bool:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    text = text.removeprefix("\ufeff")
    # Markup (HTML, SVG, XML) is not plain text: a browser would render it, and SVG can carry script.
    return bool(text.strip()) and not TEXT_CONTROLS.search(text) and not MARKUP_START.match(text)


def _check_claims(*, sniffed: str, claimed: str, name: str, index: int) -> None:
    if claimed not in NO_CLAIM and MIME_ALIASES.get(claimed) != sniffed:
        raise _refuse(
            "attachment_type_mismatch",
            f"The attachment is declared as {claimed} but its content is {sniffed}.",
            index,
            declared=claimed,
            detected=sniffed,
        )
    _, dot, extension = name.rpartition(".")
    if dot and EXTENSION_TYPES.get(extension.lower()) != sniffed:
        raise _refuse(
            "attachment_type_mismatch",
            f"The file name ends in .{extension} but its content is {sniffed}.",
            index,
            declared=extension.lower(),
            detected=sniffed,
        )


def _reencode_image(content: bytes, content_type: str, name: str, index: int) -> PreparedAttachment:
    max_pixels = settings.SUPPORT_IMAGE_MAX_PIXELS
    too_large = _refuse(
        "attachment_image_too_large", f"Images may have at most {max_pixels} pixels.", index, max_pixels=max_pixels
    )
    try:
        with warnings.catch_warnings():
            # Pillow warns past its own limit and raises past twice that: both are refusals here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(content), formats=[PIL_FORMAT[content_type]])
            if image.width * image.height > max_pixels:  # read from the header: nothing is decoded yet
                raise too_large
            image.load()
            image = ImageOps.exif_transpose(image)
            output = _encode(image, content_type)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise too_large from exc
    except (OSError, SyntaxError, ValueError, EOFError, Image.UnidentifiedImageError) as exc:
        raise _refuse("attachment_invalid_image", "The image could not be read.", index) from exc
    return PreparedAttachment(
        content=output, content_type=content_type, original_name=name, width=image.width, height=image.height
    )


def _encode(image: Image.Image, content_type: str) -> bytes:
    """Pixels only: a fresh save with no metadata passed and none carried over from the source's ``info``."""
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if content_type == JPEG and image.mode not in ("L", "RGB", "CMYK"):
        image = image.convert("RGB")
    if content_type == WEBP and image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.mode else "RGB")
    image.info = {}
    output = io.BytesIO()
    options: dict[str, Any] = {"exif": b"", "icc_profile": None}
    if content_type == JPEG:
        options.update(quality=90, optimize=True)
    elif content_type == WEBP:
        options.update(quality=90, lossless=False)
    image.save(output, format=PIL_FORMAT[content_type], **options)
    return output.getvalue()


def _check_pdf(content: bytes, index: int) -> None:
    """Refuse active content and encryption, looking at the file and inside its compressed streams (object
    streams can hide dictionaries). Names are compared after #xx escapes are decoded (``/J#61vaScript``)."""
    budget = [_max_bytes() * 4]  # total inflated bytes examined, so a zip bomb in a stream costs nothing
    for chunk in _pdf_chunks(content, budget):
        for raw in PDF_NAME.findall(chunk):
            name = re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw)
            if name == b"Encrypt":
                raise _refuse("attachment_pdf_encrypted", "Encrypted PDFs are not accepted.", index)
            if name in PDF_FORBIDDEN:
                raise _refuse(
                    "attachment_pdf_active_content",
                    f"PDFs containing {PDF_FORBIDDEN[name]} are not accepted.",
                    index,
                )


def _pdf_chunks(content: bytes, budget: list[int]) -> Iterable[bytes]:
    """The file, then every stream's content with its Flate, ASCIIHex and ASCII85 encodings undone (whichever
    decode, chained up to ``PDF_DECODE_DEPTH``). ``budget`` caps the decoded bytes, so a bomb costs nothing."""
    yield content
    pending = [(stream, 0) for stream in PDF_STREAM.findall(content)]
    while pending and budget[0] > 0:
        data, depth = pending.pop()
        if depth >= PDF_DECODE_DEPTH:
            continue
        for decoded in _pdf_decodings(data, budget[0]):
            budget[0] -= len(decoded)
            yield decoded
            pending.append((decoded, depth + 1))


def _pdf_decodings(data: bytes, limit: int) -> Iterator[bytes]:
    """What ``data`` decodes to under each filter it is valid for (none if it is, say, a JPEG)."""
    for wbits in (zlib.MAX_WBITS, -zlib.MAX_WBITS):  # zlib-wrapped, then raw deflate (some readers take both)
        try:
            inflated = zlib.decompressobj(wbits).decompress(data, limit)
        except zlib.error:
            continue  # not Flate (or damaged): its raw bytes were scanned already
        if inflated:
            yield inflated
            break
    stripped = data.lstrip()
    match = PDF_HEX.match(stripped)
    if match and len(match.group(0)) > 1:
        digits = re.sub(rb"\s", b"", match.group(0)[:-1])
        yield binascii.unhexlify(digits[: 2 * limit] + b"0" * (len(digits[: 2 * limit]) % 2))
    end = stripped.find(b"~>")
    if end > 0:
        with suppress(ValueError):  # not ASCII85
            yield base64.a85decode(stripped[: end + 2], adobe=True, ignorechars=b" \t\n\r\x0b\x0c")[:limit]


# --- storage -----------------------------------------------------------------------------------------------


def attachments_store(
    *,
    ticket: Ticket,
    message: TicketMessage | None,
    items: Sequence[PreparedAttachment],
    uploaded_by: Any,
    written: list[str],
) -> list[Attachment]:
    """Write prepared attachments and their rows inside the caller's transaction. Each stored file's name is
    appended to ``written`` (from :func:`files_removed_on_error`) so it is deleted if the transaction fails."""
    stored = []
    for item in items:
        extension = EXTENSION[item.content_type]
        attachment = Attachment(
            ticket=ticket,
            message=message,
            uploaded_by=uploaded_by,
            original_name=item.original_name or f"attachment.{extension}",
            content_type=item.content_type,
            size=len(item.content),
            sha256=item.sha256,
            width=item.width,
            height=item.height,
        )
        attachment.file.save(f"{uuid.uuid4().hex}.{extension}", ContentFile(item.content), save=False)
        written.append(attachment.file.name)
        attachment.save()
        stored.append(attachment)
    return stored


@contextmanager
def files_removed_on_error() -> Iterator[list[str]]:
    """Wrap the whole transaction (``with files_removed_on_error() as written, transaction.atomic():``): files
    stored in it are deleted if it raises or fails to commit, so a refused request leaves nothing on disk.

    A caller that runs the service inside its own, outer transaction owns that risk: a later rollback of the
    outer transaction cannot be observed here.
    """
    written: list[str] = []
    try:
        yield written
    except BaseException:
        for name in written:
            private_storage.delete(name)
        raise


# --- download ------------------------------------------------------------------------------------------------


def attachment_response(attachment: Attachment) -> FileResponse:
    """Stream an attachment as a download that no browser will render or sniff. The caller has checked that
    the requester may see it (the ticket's owner through the API, or a support agent in the admin)."""
    try:
        handle = private_storage.open(attachment.file.name, "rb")
    except FileNotFoundError as exc:
        raise NotFound("attachment_missing", "The attachment's file is missing.") from exc
    content_type = attachment.content_type
    if content_type == TEXT:
        content_type = "text/plain; charset=utf-8"
    stem = (attachment.original_name or "attachment").rsplit(".", 1)[0] or "attachment"
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=f"{stem}.{EXTENSION.get(attachment.content_type, 'bin')}",
        content_type=content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
