"""Ticket attachments: every check runs before anything is stored (ASVS V5 uploads), in :mod:`engipay.uploads`.

Accepted: PNG, JPEG, WebP, PDF and plain UTF-8 text, recognised from their bytes only; claimed types must agree;
images are re-encoded without metadata; PDFs with active content or encryption are refused. Files get random names
under ``tickets/%Y/%m/`` on private storage.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.http import FileResponse

from apps.support.models import Attachment, Ticket, TicketMessage, private_storage
from engipay import uploads
from engipay.api.errors import InvalidInput
from engipay.uploads import EXTENSION, JPEG, PDF, PNG, TEXT, WEBP, sniff_type

__all__ = [
    "PreparedAttachment",
    "attachment_response",
    "attachments_prepare",
    "attachments_store",
    "files_removed_on_error",
    "sniff_type",
]

ATTACHMENT_TYPES = frozenset({PNG, JPEG, WEBP, PDF, TEXT})
PreparedAttachment = uploads.PreparedFile


def attachment_policy(index: int) -> uploads.UploadPolicy:
    """The rules for the ``index``-th attachment of a message (settings are read at each call)."""
    return uploads.UploadPolicy(
        allowed=ATTACHMENT_TYPES,
        max_bytes=settings.SUPPORT_ATTACHMENT_MAX_BYTES,
        max_pixels=settings.SUPPORT_IMAGE_MAX_PIXELS,
        code_prefix="attachment",
        noun="attachment",
        codes={"too_many_pixels": "attachment_image_too_large"},
        details={"index": index, "field": f"attachments[{index}]"},
    )


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
    return [uploads.upload_prepare(item, policy=attachment_policy(index)) for index, item in enumerate(items)]


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


def files_removed_on_error() -> AbstractContextManager[list[str]]:
    """:func:`engipay.uploads.files_removed_on_error` for ticket attachments."""
    return uploads.files_removed_on_error(private_storage)


# --- download ------------------------------------------------------------------------------------------------


def attachment_response(attachment: Attachment) -> FileResponse:
    """Stream an attachment as a download that no browser will render or sniff. The caller has checked that
    the requester may see it (the ticket's owner through the API, or a support agent in the admin)."""
    return uploads.private_download(
        storage=private_storage,
        name=attachment.file.name,
        content_type=attachment.content_type,
        original_name=attachment.original_name,
        noun="attachment",
        missing_code="attachment_missing",
    )
