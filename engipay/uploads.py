"""Validation of uploaded files, shared by every app that accepts them (support attachments, KYC documents).

Every check runs before anything is stored (ASVS V5 uploads). Types are recognised from their bytes only (PNG,
JPEG, WebP, PDF, plain UTF-8 text); a type claimed by a ``data:<mime>;base64,`` URL, a multipart part's content
type or a file name's extension must agree with the content. The size is checked before base64 is decoded, an
image's pixel count and sides before its pixels are decoded. Images are re-encoded to the same format with their
EXIF orientation applied and every metadata chunk (EXIF, GPS, ICC profile, text) dropped. PDFs with JavaScript,
launch actions, embedded files, rich media, XFA forms or encryption are refused (names are looked for in the file
and in its streams, decoded). A policy may also refuse polyglots: files that another parser (an unzip tool, a
PDF reader, a browser) would read as something else.

What a field accepts and how its refusals are named is an :class:`UploadPolicy`; this module knows no app.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import re
import warnings
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from django.core.files.storage import Storage
from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse
from PIL import Image, ImageOps
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PyPdfError
from pypdf.generic import NameObject

from engipay.api.errors import InvalidInput, NotFound

PNG, JPEG, WEBP, PDF, TEXT = "image/png", "image/jpeg", "image/webp", "application/pdf", "text/plain"
IMAGE_TYPES = frozenset({PNG, JPEG, WEBP})
EXTENSION = {PNG: "png", JPEG: "jpg", WEBP: "webp", PDF: "pdf", TEXT: "txt"}
TYPE_NAMES = {PNG: "PNG", JPEG: "JPEG", WEBP: "WebP", PDF: "PDF", TEXT: "plain text"}
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

# --- polyglots ---
# Another format's signature, where a second parser (an unzip tool, a PDF reader, a browser, PHP) would find it.
# Each is followed by the bytes that format puts next, so that compressed pixel data or a PDF's compressed streams
# (random-looking bytes) match by chance less than once in 10^5 files of the largest size accepted.
ZIP_SIGNATURE = re.compile(rb"PK\x03\x04[\x0a-\x3f]\x00|PK\x05\x06\x00\x00\x00\x00")
PDF_SIGNATURE = re.compile(rb"%PDF-\d")
MARKUP_SIGNATURE = re.compile(
    rb"<(?:script|html|body|iframe|svg|object|embed)[\s/>]|<\?php[\s]|<!doctype\s+html", re.IGNORECASE
)
IMAGE_SIGNATURE = re.compile(rb"\x89PNG\r\n\x1a\n|\xff\xd8\xff[\xc0-\xfe]|GIF8[79]a|RIFF[\x00-\xff]{4}WEBP", re.DOTALL)
# After an image's end marker or a PDF's last %%EOF, only padding may follow.
PADDING = b"\x00"
PDF_PADDING = b" \t\r\n\x0c\x00"


@dataclass(frozen=True)
class UploadPolicy:
    """What one upload field accepts, and how its refusals are named.

    Every refusal is :class:`InvalidInput` whose code is ``<code_prefix>_<reason>`` unless ``codes`` names it
    otherwise, with ``details`` (say, the field) merged into the refusal's own details. Reasons: ``too_large``,
    ``invalid``, ``invalid_base64``, ``empty``, ``type_not_allowed``, ``type_mismatch``, ``too_many_pixels``,
    ``dimensions``, ``invalid_image``, ``polyglot``, ``pdf_active_content``, ``pdf_encrypted``.
    """

    allowed: frozenset[str]
    max_bytes: int
    max_pixels: int
    code_prefix: str
    noun: str = "file"
    codes: Mapping[str, str] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    min_side: int | None = None
    max_side: int | None = None
    refuse_polyglots: bool = False
    # Rewrite PDFs without their document information dictionary and XMP metadata (author, software, dates).
    strip_pdf_metadata: bool = False

    def refuse(self, reason: str, message: str, **details: Any) -> InvalidInput:
        code = self.codes.get(reason, f"{self.code_prefix}_{reason}")
        return InvalidInput(code, message, {**self.details, **details})


@dataclass(frozen=True)
class PreparedFile:
    """A validated file, ready to store: ``content`` is what goes on disk (re-encoded for images)."""

    content: bytes
    content_type: str
    original_name: str = ""
    width: int | None = None
    height: int | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def upload_prepare(item: Any, *, policy: UploadPolicy) -> PreparedFile:
    """Validate one raw upload (a base64 string, a data URL, an uploaded file, or an already prepared file) under
    ``policy``. Raises :class:`InvalidInput`; stores nothing."""
    if isinstance(item, PreparedFile):
        return item
    if isinstance(item, UploadedFile):
        content, claimed, name = _read_upload(item, policy)
    elif isinstance(item, str):
        content, claimed = _decode_base64(item, policy)
        name = ""
    else:
        raise policy.refuse("invalid", f"The {policy.noun} must be a base64 string or an uploaded file.")
    if not content:
        raise policy.refuse("empty", f"The {policy.noun} is empty.")
    sniffed = sniff_type(content)
    if sniffed not in policy.allowed:
        names = [TYPE_NAMES[kind] for kind in TYPE_NAMES if kind in policy.allowed]
        listed = (", ".join(names[:-1]) + f" and {names[-1]}") if len(names) > 1 else names[0]
        raise policy.refuse(
            "type_not_allowed",
            f"Only {listed} {policy.noun}s are accepted.",
            allowed=sorted(EXTENSION[kind] for kind in policy.allowed),
        )
    _check_claims(sniffed=sniffed, claimed=claimed, name=name, policy=policy)
    if sniffed in PIL_FORMAT:
        return _reencode_image(content, sniffed, name, policy)
    if sniffed == PDF:
        _check_pdf(content, policy)
        if policy.strip_pdf_metadata:
            content = _pdf_without_metadata(content, policy)
    return PreparedFile(content=content, content_type=sniffed, original_name=name)


def _pdf_without_metadata(content: bytes, policy: UploadPolicy) -> bytes:
    """The PDF written again by pypdf without /Info and without the document's and pages' XMP streams. It is
    checked (active content, polyglots) before this, and what pypdf cannot read is refused as invalid."""
    try:
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(content), strict=False))
        writer.metadata = None
        writer.xmp_metadata = None
        for page in writer.pages:
            page.pop(NameObject("/Metadata"), None)
        writer.compress_identical_objects(
            remove_duplicates=False, remove_unreferenced=True
        )  # the dropped metadata objects are not written
        output = io.BytesIO()
        writer.write(output)
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError, zlib.error):
        raise policy.refuse("invalid", f"The {policy.noun} is not a readable PDF.") from None
    return output.getvalue()


def _too_large(policy: UploadPolicy) -> InvalidInput:
    limit = policy.max_bytes
    return policy.refuse("too_large", f"The {policy.noun} may be at most {limit} bytes.", max_bytes=limit)


def _read_upload(upload: UploadedFile, policy: UploadPolicy) -> tuple[bytes, str, str]:
    if upload.size is None or upload.size > policy.max_bytes:
        raise _too_large(policy)
    upload.seek(0)
    content = upload.read(policy.max_bytes + 1)
    if len(content) > policy.max_bytes:
        raise _too_large(policy)
    claimed = (upload.content_type or "").split(";")[0].strip().lower()
    return content, claimed, clean_name(upload.name or "")


def _decode_base64(value: str, policy: UploadPolicy) -> tuple[bytes, str]:
    invalid = f"The {policy.noun} is not valid base64."
    claimed = ""
    match = DATA_URL.match(value)
    if match:
        claimed = (match.group("mime") or "").lower()
        value = value[match.end() :]
    elif value.startswith("data:"):
        raise policy.refuse("invalid_base64", "Only base64 data URLs are accepted.")
    # Refused by length before decoding: 4 base64 characters carry 3 bytes (whitespace allowed, as some
    # encoders wrap lines; it is at most a few percent more).
    if len(value) > (policy.max_bytes + 2) // 3 * 4 * 105 // 100 + 64:
        raise _too_large(policy)
    compact = re.sub(r"\s+", "", value).encode("ascii", errors="replace")
    if not compact or not BASE64_ALPHABET.match(compact):
        raise policy.refuse("invalid_base64", invalid)
    if len(compact) % 4:
        compact += b"=" * (-len(compact) % 4)
    try:
        content = binascii.a2b_base64(compact, strict_mode=True)
    except binascii.Error as exc:
        raise policy.refuse("invalid_base64", invalid) from exc
    if len(content) > policy.max_bytes:
        raise _too_large(policy)
    return content, claimed


def clean_name(name: str) -> str:
    """Only the last path component, printable, at most 200 characters; kept for a download's file name."""
    name = os.path.basename(name.replace("\\", "/"))
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>|:*?')
    return name.strip(" .")[-200:]


def sniff_type(content: bytes) -> str | None:
    """The known type these bytes are, from their content alone; None for anything else."""
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


def _check_claims(*, sniffed: str, claimed: str, name: str, policy: UploadPolicy) -> None:
    if claimed not in NO_CLAIM and MIME_ALIASES.get(claimed) != sniffed:
        raise policy.refuse(
            "type_mismatch",
            f"The {policy.noun} is declared as {claimed} but its content is {sniffed}.",
            declared=claimed,
            detected=sniffed,
        )
    _, dot, extension = name.rpartition(".")
    if dot and EXTENSION_TYPES.get(extension.lower()) != sniffed:
        raise policy.refuse(
            "type_mismatch",
            f"The file name ends in .{extension} but its content is {sniffed}.",
            declared=extension.lower(),
            detected=sniffed,
        )


# --- images ----------------------------------------------------------------------------------------------------


def _reencode_image(content: bytes, content_type: str, name: str, policy: UploadPolicy) -> PreparedFile:
    too_large = _too_many_pixels(policy)
    try:
        with warnings.catch_warnings():
            # Pillow warns past its own limit and raises past twice that: both are refusals here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(content), formats=[PIL_FORMAT[content_type]])
            _check_size(image.width, image.height, policy)  # read from the header: nothing is decoded yet
            if policy.refuse_polyglots:
                _check_image_polyglot(content, content_type, policy)
            image.load()
            image = ImageOps.exif_transpose(image)
            output = _encode(image, content_type)
    except InvalidInput:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise too_large from exc
    except Exception as exc:
        # Decoders fed hostile bytes raise more than OSError/ValueError (struct.error, KeyError, IndexError from a
        # crafted EXIF block...): every one of them means the same thing here, an unreadable image, never a 500.
        raise policy.refuse("invalid_image", "The image could not be read.") from exc
    return PreparedFile(
        content=output, content_type=content_type, original_name=name, width=image.width, height=image.height
    )


def _too_many_pixels(policy: UploadPolicy) -> InvalidInput:
    limit = policy.max_pixels
    return policy.refuse("too_many_pixels", f"Images may have at most {limit} pixels.", max_pixels=limit)


def _check_size(width: int, height: int, policy: UploadPolicy) -> None:
    if width * height > policy.max_pixels:
        raise _too_many_pixels(policy)
    _check_sides(width, height, policy)


def _check_sides(width: int, height: int, policy: UploadPolicy) -> None:
    low, high = policy.min_side, policy.max_side
    if (low is not None and min(width, height) < low) or (high is not None and max(width, height) > high):
        bounds = f"at least {low}" if high is None else f"at most {high}" if low is None else f"{low} to {high}"
        raise policy.refuse(
            "dimensions",
            f"Each side of an image must be {bounds} pixels.",
            width=width,
            height=height,
            min_side=low,
            max_side=high,
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


# --- polyglots -------------------------------------------------------------------------------------------------


def _check_image_polyglot(content: bytes, content_type: str, policy: UploadPolicy) -> None:
    """Refuse bytes after the image's end (JPEG EOI, PNG IEND, WebP's RIFF size) and another format's signature
    anywhere in it (pixel data can carry any bytes, so nowhere is exempt)."""
    end = _image_end(content, content_type)
    if end is None:
        raise policy.refuse("invalid_image", "The image could not be read.")
    if content[end:].strip(PADDING):
        raise _polyglot(policy, "data after the end of the image")
    _refuse_signatures(content, policy, zip=ZIP_SIGNATURE, pdf=PDF_SIGNATURE, markup=MARKUP_SIGNATURE)


def _check_pdf_polyglot(content: bytes, policy: UploadPolicy) -> None:
    """Refuse bytes after the last ``%%EOF``, a ZIP header anywhere, and markup or an image header outside the
    streams (a JPEG in an image stream is what a scanned PDF is made of; loose, a viewer of images finds it)."""
    end = content.rfind(b"%%EOF")
    if end >= 0 and content[end + 5 :].strip(PDF_PADDING):
        raise _polyglot(policy, "data after the end of the PDF")
    _refuse_signatures(content, policy, zip=ZIP_SIGNATURE)
    outside_streams = PDF_STREAM.sub(b"stream\nendstream", content)
    _refuse_signatures(outside_streams, policy, markup=MARKUP_SIGNATURE, image=IMAGE_SIGNATURE)


def _refuse_signatures(content: bytes, policy: UploadPolicy, **signatures: re.Pattern[bytes]) -> None:
    for label, signature in signatures.items():
        if signature.search(content):
            raise _polyglot(policy, label)


def _polyglot(policy: UploadPolicy, detected: str) -> InvalidInput:
    return policy.refuse(
        "polyglot",
        f"The {policy.noun} also carries another format ({detected}), so it is not accepted.",
        detected=detected,
    )


def _image_end(content: bytes, content_type: str) -> int | None:
    """Where the image's own structure ends; None if the structure is broken (truncated, bad lengths)."""
    if content_type == PNG:
        return _png_end(content)
    if content_type == JPEG:
        return _jpeg_end(content)
    size = int.from_bytes(content[4:8], "little")  # WebP: the RIFF size counts the bytes after offset 8
    end = 8 + size + (size & 1)
    return end if len(content) >= 8 + size else None


def _png_end(content: bytes) -> int | None:
    position = 8
    while position + 12 <= len(content):
        length = int.from_bytes(content[position : position + 4], "big")
        kind = content[position + 4 : position + 8]
        position += 12 + length
        if kind == b"IEND":
            return position if position <= len(content) else None
    return None


def _jpeg_end(content: bytes) -> int | None:
    """Walk the markers by their lengths (so an EXIF thumbnail's own EOI is skipped) and each scan's entropy-coded
    data (where 0xFF is followed by 0x00 stuffing, a restart marker or fill) to the EOI marker."""
    position, size = 2, len(content)
    while position < size:
        if content[position] != 0xFF:
            return None
        while position < size and content[position] == 0xFF:  # fill bytes before a marker
            position += 1
        if position >= size:
            return None
        marker = content[position]
        position += 1
        if marker == 0xD9:
            return position
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # no length
            continue
        if position + 2 > size:
            return None
        position += int.from_bytes(content[position : position + 2], "big")
        if marker == 0xDA:
            position = _entropy_coded_end(content, position)
    return None


def _entropy_coded_end(content: bytes, position: int) -> int:
    """The offset of the first marker after a scan's data (or the end of the file if there is none)."""
    while True:
        position = content.find(b"\xff", position)
        if position < 0 or position + 1 >= len(content):
            return len(content)
        following = content[position + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            position += 2
        elif following == 0xFF:
            position += 1
        else:
            return position


# --- PDF -------------------------------------------------------------------------------------------------------


def _check_pdf(content: bytes, policy: UploadPolicy) -> None:
    """Refuse active content and encryption, looking at the file and inside its compressed streams (object
    streams can hide dictionaries). Names are compared after #xx escapes are decoded (``/J#61vaScript``)."""
    if policy.refuse_polyglots:
        _check_pdf_polyglot(content, policy)
    budget = [policy.max_bytes * 4]  # total inflated bytes examined, so a zip bomb in a stream costs nothing
    for chunk in _pdf_chunks(content, budget):
        for raw in PDF_NAME.findall(chunk):
            name = re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw)
            if name == b"Encrypt":
                raise policy.refuse("pdf_encrypted", "Encrypted PDFs are not accepted.")
            if name in PDF_FORBIDDEN:
                raise policy.refuse("pdf_active_content", f"PDFs containing {PDF_FORBIDDEN[name]} are not accepted.")


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


# --- storing and serving validated files on private storage ----------------------------------------------------


@contextmanager
def files_removed_on_error(storage: Storage) -> Iterator[list[str]]:
    """Wrap the whole transaction (``with files_removed_on_error(storage) as written, transaction.atomic():``):
    files stored in it (their names appended to ``written``) are deleted if it raises or fails to commit, so a
    refused request leaves nothing on disk.

    A caller that runs the service inside its own, outer transaction owns that risk: a later rollback of the
    outer transaction cannot be observed here.
    """
    written: list[str] = []
    try:
        yield written
    except BaseException:
        for name in written:
            storage.delete(name)
        raise


def private_download(
    *, storage: Storage, name: str, content_type: str, original_name: str, noun: str, missing_code: str
) -> FileResponse:
    """Stream a stored upload as a download that no browser will render or sniff, named after the original with
    the extension of its checked type. The caller has checked that the requester may see it."""
    try:
        handle = storage.open(name, "rb")
    except FileNotFoundError as exc:
        raise NotFound(missing_code, f"The {noun}'s file is missing.") from exc
    stem = (original_name or noun).rsplit(".", 1)[0] or noun
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=f"{stem}.{EXTENSION.get(content_type, 'bin')}",
        content_type="text/plain; charset=utf-8" if content_type == TEXT else content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
