"""Identity documents: validated by content, stripped of metadata, encrypted before they touch disk, and deleted a
set number of days after a final decision (the decision itself is kept).

Validation is :mod:`engipay.uploads` under a stricter policy than support attachments: JPEG, PNG, WebP or PDF
only (a selfie is an image), image sides between ``KYC_IMAGE_MIN_SIDE`` and ``KYC_IMAGE_MAX_SIDE``, and polyglots
refused. Files are Fernet tokens (:mod:`apps.kyc.crypto`) under random names on ``private_storage``, which has no
URL: only the reviewers' audited view reads them, through :func:`kyc_document_read`.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import weakref
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from apps.kyc import crypto
from apps.kyc.models import KycAuditEvent, KycDocument, KycSubmission, private_storage
from engipay.api.errors import InvalidInput, NotFound
from engipay.uploads import IMAGE_TYPES, JPEG, PDF, PNG, WEBP, PreparedFile, UploadPolicy, upload_prepare

from .audit import kyc_audit_record

logger = logging.getLogger(__name__)

DOCUMENT_TYPES = frozenset({JPEG, PNG, WEBP, PDF})
# The API's name for each kind, used as ``details.field`` of a refusal.
FIELD_NAMES = {
    KycDocument.Kind.DOCUMENT: "document_image",
    KycDocument.Kind.SELFIE: "selfie_image",
    KycDocument.Kind.PROOF_OF_ADDRESS: "proof_of_address",
}
# A client cannot act differently on "bad base64" and "undecodable image": both are an unreadable document.
CODES = {"invalid_base64": "document_invalid", "invalid_image": "document_invalid"}


def document_policy(*, kind: str) -> UploadPolicy:
    """The rules for one kind of document (settings are read at each call)."""
    return UploadPolicy(
        allowed=IMAGE_TYPES if kind == KycDocument.Kind.SELFIE else DOCUMENT_TYPES,
        max_bytes=settings.KYC_DOCUMENT_MAX_BYTES,
        max_pixels=settings.KYC_IMAGE_MAX_PIXELS,
        min_side=settings.KYC_IMAGE_MIN_SIDE,
        max_side=settings.KYC_IMAGE_MAX_SIDE,
        code_prefix="document",
        noun="document",
        codes=CODES,
        details={"field": FIELD_NAMES[kind]},
        refuse_polyglots=True,
        strip_pdf_metadata=True,
    )


def kyc_documents_prepare(*, files: dict[str, Any]) -> dict[str, PreparedFile]:
    """Validate documents keyed by :class:`KycDocument.Kind` (base64 strings, data URLs or uploaded files).

    Raises :class:`InvalidInput` for the first refused one (``details.field`` is its API field); stores nothing.
    """
    unknown = sorted(set(files) - set(FIELD_NAMES))
    if unknown:
        raise InvalidInput("document_invalid", f"Unknown document kind {unknown[0]!r}.", {"field": unknown[0]})
    return {kind: upload_prepare(value, policy=document_policy(kind=kind)) for kind, value in files.items()}


# --- storage -----------------------------------------------------------------------------------------------------


class _CommitMarker:
    """Handed to ``transaction.on_commit``: Django calls it when the transaction commits and drops it when the
    transaction, or a savepoint it was registered in, rolls back. Either way it is then released, and the
    finalizer in :func:`kyc_documents_store` keeps the files only if it was called (Django has no rollback hook)."""

    def __init__(self) -> None:
        self.committed = [False]

    def __call__(self) -> None:
        self.committed[0] = True


def _remove_unless_committed(committed: list[bool], paths: list[str]) -> None:
    if committed[0] or _commit_hooks_interrupted():
        return
    for path in paths:  # absolute: KYC_PRIVATE_ROOT may have changed by the time a rollback is noticed
        with suppress(FileNotFoundError):
            os.remove(path)


def _commit_hooks_interrupted() -> bool:
    """Django runs commit hooks in order; when one raises, the later ones (the marker among them) are dropped
    uncalled although the transaction committed. The connection still says it was running them then, and files
    of a committed transaction must never be deleted (an orphaned encrypted file is the lesser harm)."""
    return bool(getattr(transaction.get_connection(), "run_commit_hooks_on_set_autocommit_on", False))


@transaction.atomic
def kyc_documents_store(*, submission: KycSubmission, prepared: dict[str, PreparedFile]) -> list[KycDocument]:
    """Encrypt and write each prepared document and create its row, in the caller's transaction. The files are
    deleted again if that transaction (or any savepoint around this call) rolls back, so a failed submission
    leaves nothing on disk."""
    marker = _CommitMarker()
    written: list[str] = []
    weakref.finalize(marker, _remove_unless_committed, marker.committed, written)
    transaction.on_commit(marker)
    del marker  # from here on only Django's commit hooks hold it, so a rollback releases it at once
    stored = []
    for kind, item in prepared.items():
        document = KycDocument(
            submission=submission,
            kind=kind,
            content_type=item.content_type,
            size=len(item.content),
            sha256=item.sha256,
            width=item.width,
            height=item.height,
        )
        # No extension: the name says nothing about the content, and nothing serves it by name anyway.
        document.file.save(secrets.token_hex(16), ContentFile(crypto.encrypt(item.content)), save=False)
        written.append(private_storage.path(document.file.name))
        document.save()
        stored.append(document)
    return stored


def kyc_document_read(*, document: KycDocument) -> bytes:
    """The plaintext of a stored document. The caller has checked the reader's permission and records the view."""
    if document.purged_at is not None or not document.file:
        raise NotFound("document_purged", "This document was deleted under the retention policy.")
    try:
        with private_storage.open(document.file.name, "rb") as handle:
            token = handle.read()
    except FileNotFoundError as exc:
        raise NotFound("document_missing", "The document's file is missing.") from exc
    return crypto.decrypt(token)


# --- retention -----------------------------------------------------------------------------------------------


def kyc_documents_purge(*, now: datetime | None = None) -> int:
    """Delete the documents (files and personal info) of submissions decided more than
    ``KYC_DOCUMENT_RETENTION_DAYS`` ago; the submission, its decision and the audit trail stay. Returns how many
    submissions were purged; a second run changes nothing."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.KYC_DOCUMENT_RETENTION_DAYS)
    due = (
        KycSubmission.objects.filter(
            status__in=KycSubmission.FINAL, decided_at__lte=cutoff, documents_purged_at__isnull=True
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return sum(_submission_documents_purge(submission_id=pk, cutoff=cutoff, now=now) for pk in list(due))


@transaction.atomic
def _submission_documents_purge(*, submission_id: str, cutoff: datetime, now: datetime) -> bool:
    # Checked again under the lock: a concurrent run may have purged it, or the decision may have changed.
    submission = (
        KycSubmission.objects.select_for_update()
        .filter(
            pk=submission_id,
            status__in=KycSubmission.FINAL,
            decided_at__lte=cutoff,
            documents_purged_at__isnull=True,
        )
        .first()
    )
    if submission is None:
        return False
    documents = list(submission.documents.select_for_update().filter(purged_at__isnull=True).order_by("pk"))
    names = [document.file.name for document in documents if document.file]
    KycDocument.objects.filter(pk__in=[document.pk for document in documents]).update(file="", purged_at=now)
    submission.documents_purged_at = now
    submission.personal_info = None
    submission.save(update_fields=["documents_purged_at", "personal_info", "updated_at"])
    kyc_audit_record(
        action=KycAuditEvent.Action.DOCUMENTS_PURGED, submission=submission, details={"documents": len(documents)}
    )
    # Last, so a failure above keeps the files; a commit that fails after this leaves rows that the next run
    # purges again (deleting a missing file is a no-op).
    for name in names:
        private_storage.delete(name)
    return True


# --- key rotation --------------------------------------------------------------------------------------------


def kyc_keys_rotate() -> int:
    """Re-encrypt every stored document file and every submission's personal info under the first key of
    ``KYC_ENCRYPTION_KEYS`` (``manage.py kyc_rotate_keys``); afterwards the older keys can be removed. Returns how
    many items were re-encrypted."""
    documents = KycDocument.objects.filter(purged_at__isnull=True).exclude(file="").order_by("pk")
    submissions = KycSubmission.objects.filter(personal_info__isnull=False).order_by("pk")
    changed = sum(_document_rotate(document_id=pk) for pk in list(documents.values_list("pk", flat=True)))
    changed += sum(_personal_info_rotate(submission_id=pk) for pk in list(submissions.values_list("pk", flat=True)))
    return changed


@transaction.atomic
def _document_rotate(*, document_id: int) -> bool:
    document = KycDocument.objects.select_for_update().filter(pk=document_id, purged_at__isnull=True).first()
    if document is None or not document.file:
        return False  # purged meanwhile
    path = private_storage.path(document.file.name)
    try:
        with open(path, "rb") as handle:
            token = handle.read()
    except FileNotFoundError:
        logger.warning("KYC document %s has no file at %s; nothing to re-encrypt", document_id, path)
        return False
    _replace_file(path, crypto.rotate(token))
    return True


def _replace_file(path: str, content: bytes) -> None:
    """Write next to the file, then rename over it: a crash leaves the old token or the new one, never half."""
    temporary = f"{path}.{secrets.token_hex(4)}.rotating"
    mode = stat.S_IMODE(os.stat(path).st_mode)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


@transaction.atomic
def _personal_info_rotate(*, submission_id: str) -> bool:
    submission = KycSubmission.objects.select_for_update().only("pk", "personal_info").filter(pk=submission_id).first()
    if submission is None or submission.personal_info is None:
        return False  # purged meanwhile
    # Reading decrypted it under whichever key it was written with; saving encrypts it under the first.
    KycSubmission.objects.filter(pk=submission_id).update(personal_info=submission.personal_info)
    return True
