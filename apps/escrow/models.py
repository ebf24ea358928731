"""Escrow payments on the EngiPay escrow contract (``contracts/src/EngiPayEscrow.sol``).

An ``Escrow`` row is created by the API when the sender prepares one (``awaiting_signature``); from then on its
on-chain fields and status are a projection of the contract's events (``EscrowEvent``), written only by the
indexer (DESIGN.md section 2). ``EscrowAction`` is a prepared transition (create, accept, reject, cancel, dispute,
refund, resolve) and the transaction submitted for it; at most one is open per escrow.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.deconstruct import deconstructible

from apps.chains.fields import BaseUnitsField
from apps.chains.models import Token
from engipay.storage import PrivateFileSystemStorage


@deconstructible
class PrivateEvidenceStorage(PrivateFileSystemStorage):
    """Dispute evidence on disk under ESCROW_PRIVATE_ROOT, outside every public root, with no base URL: files are
    only streamed by the permission-checked views (the parties' API, the resolvers' admin)."""

    root_setting = "ESCROW_PRIVATE_ROOT"
    what = "Escrow dispute evidence"


evidence_storage = PrivateEvidenceStorage()


class EscrowDeployment(models.Model):
    """The escrow contract on one chain (``network``: a key of settings.CHAINS) and how far it is indexed."""

    network = models.CharField(max_length=32, unique=True)
    address = models.CharField(max_length=42, help_text="EIP-55 address of the EngiPayEscrow contract.")
    deploy_tx_hash = models.CharField(max_length=66, blank=True)
    deployer = models.CharField(max_length=42, blank=True)
    deployed_block = models.PositiveBigIntegerField(help_text="Indexing starts at this block.")
    indexed_block = models.PositiveBigIntegerField(help_text="The last block whose events are all indexed.")
    indexed_block_hash = models.CharField(max_length=66, blank=True)
    head_timestamp = models.DateTimeField(
        null=True, blank=True, help_text="Chain time of the last indexed head (expiry is decided by chain time)."
    )
    indexed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["network"]

    def __str__(self) -> str:
        return f"EngiPayEscrow on {self.network} at {self.address}"


class IndexedBlock(models.Model):
    """A block hash the indexer saw (batch ends and blocks with events): a later mismatch reveals a reorg."""

    deployment = models.ForeignKey(EscrowDeployment, on_delete=models.CASCADE, related_name="blocks")
    number = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=66)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["deployment", "number"], name="escrow_indexed_block_unique")]

    def __str__(self) -> str:
        return f"{self.number} {self.hash}"


class Escrow(models.Model):
    class Status(models.TextChoices):
        AWAITING_SIGNATURE = "awaiting_signature", "Awaiting signature"
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"
        DISPUTED = "disputed", "Disputed"
        RESOLVED = "resolved", "Resolved"

    class Source(models.TextChoices):
        API = "api", "Created through the API"
        CHAIN = "chain", "Found on chain"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    deployment = models.ForeignKey(EscrowDeployment, on_delete=models.PROTECT, related_name="escrows")
    onchain_id = models.CharField(max_length=66, help_text="bytes32 id: keccak256(abi.encode(sender, salt)).")
    salt = models.CharField(max_length=66, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.API)
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="escrows_sent"
    )
    sender_address = models.CharField(max_length=42)
    recipient_address = models.CharField(max_length=42, db_index=True)
    token = models.ForeignKey(Token, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    token_address = models.CharField(max_length=42, help_text="The zero address for ETH.")
    decimals = models.PositiveSmallIntegerField(null=True, blank=True, help_text="None: a token not in the registry.")
    amount_base = BaseUnitsField()
    memo = models.TextField(blank=True)
    memo_hash = models.CharField(max_length=66)
    require_confirmation = models.BooleanField(default=True)
    resolver_address = models.CharField(max_length=42, blank=True, help_text="Blank: disputes are not possible.")
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.AWAITING_SIGNATURE, db_index=True)
    # The projection of the contract's events (indexer only).
    block_number = models.PositiveBigIntegerField(null=True, blank=True, help_text="Block of the last event.")
    block_hash = models.CharField(max_length=66, blank=True)
    paid_to_recipient_base = BaseUnitsField(null=True, blank=True)
    refunded_to_sender_base = BaseUnitsField(null=True, blank=True)
    disputed_by = models.CharField(max_length=42, blank=True)
    expiry_notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "onchain_id"], name="escrow_unique_onchain_id"),
        ]
        indexes = [
            models.Index(fields=["sender", "-created_at"]),
            models.Index(fields=["recipient_address", "-created_at"]),
            models.Index(fields=["status", "expires_at"]),
        ]
        permissions = [("resolve_dispute", "Can prepare dispute resolutions")]

    def __str__(self) -> str:
        return f"escrow {self.id} ({self.status})"


class EscrowEvent(models.Model):
    """One event of the contract, as read from the chain (deleted again if a reorg drops its block)."""

    class Name(models.TextChoices):
        CREATED = "created", "EscrowCreated"
        ACCEPTED = "accepted", "EscrowAccepted"
        REJECTED = "rejected", "EscrowRejected"
        CANCELLED = "cancelled", "EscrowCancelled"
        EXPIRED = "expired", "EscrowExpired"
        DISPUTED = "disputed", "EscrowDisputed"
        RESOLVED = "resolved", "EscrowResolved"

    deployment = models.ForeignKey(EscrowDeployment, on_delete=models.CASCADE, related_name="events")
    escrow = models.ForeignKey(Escrow, on_delete=models.CASCADE, related_name="events")
    name = models.CharField(max_length=12, choices=Name.choices)
    block_number = models.PositiveBigIntegerField()
    block_hash = models.CharField(max_length=66)
    block_timestamp = models.DateTimeField(null=True, blank=True)
    tx_hash = models.CharField(max_length=66)
    log_index = models.PositiveIntegerField()
    args = models.JSONField(default=dict, help_text="Decoded arguments; integers as decimal strings.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["block_number", "log_index"]
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "block_number", "log_index"], name="escrow_event_unique_position"
            ),
        ]
        indexes = [models.Index(fields=["escrow", "block_number", "log_index"])]

    def __str__(self) -> str:
        return f"{self.name} #{self.block_number}/{self.log_index}"


class EscrowAction(models.Model):
    """A transition prepared for a wallet to sign, and what became of it."""

    class Kind(models.TextChoices):
        CREATE = "create", "Create"
        ACCEPT = "accept", "Accept"
        REJECT = "reject", "Reject"
        CANCEL = "cancel", "Cancel"
        DISPUTE = "dispute", "Dispute"
        REFUND = "refund", "Settle after expiry"
        RESOLVE = "resolve", "Resolve dispute"
        WITHDRAW = "withdraw", "Withdraw a deferred payout"

    class Status(models.TextChoices):
        PREPARED = "prepared", "Prepared, awaiting signature"
        SUBMITTED = "submitted", "Submitted"
        DONE = "done", "Done on chain"
        FAILED = "failed", "Transaction failed"
        LAPSED = "lapsed", "Never submitted"
        SUPERSEDED = "superseded", "Another transition happened first"

    OPEN_STATUSES = (Status.PREPARED, Status.SUBMITTED)

    escrow = models.ForeignKey(Escrow, on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PREPARED)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    signer_address = models.CharField(max_length=42, help_text="The wallet that must sign.")
    transactions = models.JSONField(default=list, help_text="The unsigned transactions, in signing order.")
    tx_hashes = models.JSONField(default=list, help_text="Hashes submitted for them.")
    chain_transaction = models.ForeignKey(
        "transactions.ChainTransaction", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    prepared_until = models.DateTimeField(help_text="Unsubmitted after this, it lapses and frees the escrow.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["escrow"], condition=Q(status__in=["prepared", "submitted"]), name="escrow_one_open_action"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.status})"


class DisputeStatement(models.Model):
    """A party's account of a dispute (or the resolver's question), with evidence files."""

    class Role(models.TextChoices):
        SENDER = "sender", "Sender"
        RECIPIENT = "recipient", "Recipient"

    escrow = models.ForeignKey(Escrow, on_delete=models.CASCADE, related_name="statements")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    role = models.CharField(max_length=10, choices=Role.choices)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.role} on {self.escrow_id}"


class DisputeEvidence(models.Model):
    """A validated upload (engipay.uploads) on private storage."""

    statement = models.ForeignKey(DisputeStatement, on_delete=models.CASCADE, related_name="evidence")
    file = models.FileField(storage=evidence_storage, upload_to="escrow/%Y/%m/")
    original_name = models.CharField(max_length=200, blank=True)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "dispute evidence"

    def __str__(self) -> str:
        return self.original_name or f"evidence {self.pk}"


class DisputeDecision(models.Model):
    """A resolver's decision, logged when the resolution transaction is prepared; ``tx_hash`` once on chain."""

    escrow = models.ForeignKey(Escrow, on_delete=models.PROTECT, related_name="decisions")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    resolver_address = models.CharField(max_length=42)
    to_recipient_base = BaseUnitsField()
    to_sender_base = BaseUnitsField()
    reason = models.TextField()
    transaction = models.JSONField(help_text="The unsigned resolve() transaction for the resolver key.")
    tx_hash = models.CharField(max_length=66, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"decision on {self.escrow_id} by {self.decided_by_id}"
