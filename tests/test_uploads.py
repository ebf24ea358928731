"""engipay/uploads.py on its own: how a policy names refusals, and the polyglot checks' structure walks (no false
positives on ordinary files, refusal of extra data wherever a second parser would find it)."""

from __future__ import annotations

import base64
import contextlib
import io
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from engipay import uploads
from engipay.api.errors import InvalidInput

ALL_TYPES = frozenset(uploads.EXTENSION)


def policy(**overrides) -> uploads.UploadPolicy:
    options = {"allowed": ALL_TYPES, "max_bytes": 1_000_000, "max_pixels": 1_000_000, "code_prefix": "upload"}
    return uploads.UploadPolicy(**{**options, **overrides})


def image_bytes(fmt: str, size=(64, 48), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(out, format=fmt, **save)
    return out.getvalue()


def png_text(text: str) -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", text)
    return info


def b64(content: bytes) -> str:
    return base64.b64encode(content).decode()


def refused(item, rules: uploads.UploadPolicy) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        uploads.upload_prepare(item, policy=rules)
    return caught.value


def test_codes_come_from_the_prefix_unless_renamed_and_details_are_merged():
    rules = policy(codes={"type_not_allowed": "nope"}, details={"field": "scan"}, allowed=frozenset({uploads.PNG}))
    error = refused(b64(b"plain words"), rules)
    assert (error.code, error.details) == ("nope", {"field": "scan", "allowed": ["png"]})
    assert error.message == "Only PNG files are accepted."
    error = refused(b64(b"x" * 2000), policy(max_bytes=1024, details={"field": "scan"}))
    assert (error.code, error.details) == ("upload_too_large", {"field": "scan", "max_bytes": 1024})


def test_the_message_lists_the_allowed_types():
    error = refused(b64(b"GIF89a\x01\x00"), policy(noun="document", allowed=frozenset({uploads.PNG, uploads.PDF})))
    assert error.message == "Only PNG and PDF documents are accepted."
    assert error.details == {"allowed": ["pdf", "png"]}


def test_sides_are_optional_and_checked_from_the_header():
    assert uploads.upload_prepare(b64(image_bytes("PNG", (5, 5))), policy=policy()).width == 5
    error = refused(b64(image_bytes("PNG", (5, 500))), policy(min_side=10, max_side=400))
    assert (error.code, error.details["width"], error.details["height"]) == ("upload_dimensions", 5, 500)


def test_a_prepared_file_passes_through():
    prepared = uploads.PreparedFile(content=b"x", content_type=uploads.TEXT)
    assert uploads.upload_prepare(prepared, policy=policy()) is prepared


def test_without_the_polyglot_check_trailing_data_is_dropped_by_re_encoding():
    content = image_bytes("PNG") + b"PK\x03\x04\x14\x00 trailing"
    prepared = uploads.upload_prepare(b64(content), policy=policy())
    assert b"PK\x03\x04" not in prepared.content
    assert refused(b64(content), policy(refuse_polyglots=True)).code == "upload_polyglot"


ORDINARY = [
    ("baseline jpeg", lambda: image_bytes("JPEG")),
    ("progressive jpeg", lambda: image_bytes("JPEG", progressive=True)),
    ("jpeg with restart markers", lambda: image_bytes("JPEG", restart_marker_blocks=4)),
    ("jpeg with exif", lambda: image_bytes("JPEG", exif=Image.Exif().tobytes())),
    ("jpeg padded with NULs", lambda: image_bytes("JPEG") + b"\0\0\0\0"),
    ("png", lambda: image_bytes("PNG")),
    ("lossless webp", lambda: image_bytes("WEBP", lossless=True)),
    ("lossy webp", lambda: image_bytes("WEBP", quality=50)),
    ("pdf ending in CRLF", lambda: b"%PDF-1.7\n1 0 obj\n<< >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\r\n"),
    ("pdf with markup inside a stream", lambda: b"%PDF-1.4\n1 0 obj\n<< /Length 20 >>\nstream\n(<html> text) Tj\n"
     b"endstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"),
]  # fmt: skip


@pytest.mark.parametrize(("label", "make"), ORDINARY, ids=[o[0] for o in ORDINARY])
def test_ordinary_files_are_not_polyglots(label, make):
    prepared = uploads.upload_prepare(b64(make()), policy=policy(refuse_polyglots=True))
    assert prepared.content_type == uploads.sniff_type(make())


POLYGLOTS = [
    ("jpeg + bytes", lambda: image_bytes("JPEG") + b"\0\0junk", "data after the end of the image"),
    ("png + bytes", lambda: image_bytes("PNG") + b"junk", "data after the end of the image"),
    ("webp + bytes", lambda: image_bytes("WEBP") + b"junk", "data after the end of the image"),
    ("png with php", lambda: image_bytes("PNG", pnginfo=png_text("<?php echo 1; ?>")), "markup"),
    ("pdf + bytes", lambda: b"%PDF-1.4\ntrailer\n<< >>\n%%EOF\nMZ\x90\x00", "data after the end of the PDF"),
    ("pdf with a zip end record", lambda: b"%PDF-1.4\n%PK\x05\x06\0\0\0\0\n%%EOF\n", "zip"),
    ("pdf with a loose jpeg", lambda: b"%PDF-1.4\n" + image_bytes("JPEG") + b"\n%%EOF\n", "image"),
    ("pdf with a script", lambda: b"%PDF-1.4\n% <SCRIPT src=x></script>\n%%EOF\n", "markup"),
]  # fmt: skip


@pytest.mark.parametrize(("label", "make", "detected"), POLYGLOTS, ids=[p[0] for p in POLYGLOTS])
def test_polyglots_are_refused(label, make, detected):
    error = refused(b64(make()), policy(refuse_polyglots=True))
    assert (error.code, error.details) == ("upload_polyglot", {"detected": detected})


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_truncated_image_is_unreadable_not_a_polyglot(fmt):
    content = image_bytes(fmt, (300, 300))
    error = refused(b64(content[: len(content) // 2]), policy(refuse_polyglots=True))
    assert error.code == "upload_invalid_image"


def test_hostile_image_bytes_are_refused_never_a_crash():
    """A JPEG whose EXIF block was mutated by a fuzzer (Pillow raised struct.error in exif_transpose), then a
    short deterministic fuzz of images with EXIF: every outcome is a prepared file or InvalidInput."""
    import random

    from apps.kyc.models import KycDocument
    from apps.kyc.services.documents import document_policy

    policy = document_policy(kind=KycDocument.Kind.DOCUMENT)
    hostile = (Path(__file__).parent / "data" / "hostile_exif.jpg").read_bytes()
    with pytest.raises(InvalidInput) as refused:
        uploads.upload_prepare(base64.b64encode(hostile).decode(), policy=policy)
    assert refused.value.code == "document_invalid"
    seeds = []
    for fmt in ("JPEG", "PNG", "WEBP"):
        exif = Image.Exif()
        exif[0x0112] = 6  # orientation: rotate
        exif[0x010E] = "x" * 50
        buffer = io.BytesIO()
        Image.new("RGB", (400, 300), (20, 40, 60)).save(buffer, format=fmt, exif=exif.tobytes())
        seeds.append(buffer.getvalue())
    rng = random.Random(1)  # noqa: S311 (a reproducible fuzz, not cryptography)
    for _ in range(400):
        mutated = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            mutated[rng.randrange(min(len(mutated), 400))] = rng.randrange(256)
        with contextlib.suppress(InvalidInput):
            uploads.upload_prepare(base64.b64encode(bytes(mutated)).decode(), policy=policy)
