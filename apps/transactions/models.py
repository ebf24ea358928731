"""On-chain transactions the users submitted, cached from chain state (DESIGN.md section 2)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from apps.chains.fields import BaseUnitsField
from apps.chains.models import Token


class ChainTransaction(models.Model):
    class Status(models.TextChoices):
        AWAITING_SIGNATURE = "awaiting_signature", "Awaiting signature"
        PENDING = "pending", "Pending"
        CONFIRMED = "confirmed", "Confirmed"
        FINALIZED = "finalized", "Finalized"
        FAILED = "failed", "Failed"
        DROPPED = "dropped", "Dropped"

    class Type(models.TextChoices):
        SEND = "send", "Send"
        ESCROW = "escrow", "Escrow"
        APPROVAL = "approval", "Token approval"

    # Still followed by the tracker. A failed one too, until its block is finalized: a reorg may still put the
    # same signed transaction into another block where it succeeds.
    OPEN_STATUSES = (Status.PENDING, Status.CONFIRMED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chain_transactions")
    network = models.CharField(max_length=32, help_text="A key of settings.CHAINS.")
    tx_hash = models.CharField(max_length=66, null=True, blank=True)  # noqa: DJ001 (none until signed)
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.SEND)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    from_address = models.CharField(max_length=66)
    to_address = models.CharField(max_length=66, help_text="The recipient (of the tokens, for an ERC-20 transfer).")
    contract_address = models.CharField(max_length=66, blank=True, help_text="The token contract, if not native.")
    asset = models.ForeignKey(Token, on_delete=models.PROTECT, related_name="+")
    decimals = models.PositiveSmallIntegerField()
    amount_base = BaseUnitsField(help_text="In the asset's base units.")
    nonce = models.PositiveBigIntegerField(null=True, blank=True)
    gas_limit = BaseUnitsField(null=True, blank=True)
    max_fee_per_gas = BaseUnitsField(null=True, blank=True)
    max_priority_fee_per_gas = BaseUnitsField(null=True, blank=True)
    raw_transaction = models.TextField(
        blank=True, help_text="The signed transaction (hex, or the Starknet JSON), to re-send if the network loses it."
    )
    block_number = models.PositiveBigIntegerField(null=True, blank=True)
    block_hash = models.CharField(max_length=66, blank=True)
    block_timestamp = models.DateTimeField(null=True, blank=True)
    confirmations = models.PositiveIntegerField(default=0)
    gas_used = BaseUnitsField(null=True, blank=True)
    effective_gas_price = BaseUnitsField(null=True, blank=True)
    fee_paid = BaseUnitsField(null=True, blank=True, help_text="The fee charged, in fee_asset's base units.")
    fee_asset = models.CharField(max_length=16, blank=True, help_text="ETH (EVM), STRK (Starknet), BTC.")
    fee_decimals = models.PositiveSmallIntegerField(null=True, blank=True)
    revert_reason = models.TextField(blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["network", "tx_hash"], name="transactions_unique_hash_per_network"),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"]),
            models.Index(fields=["network", "status"]),
            models.Index(fields=["tx_hash"]),
        ]

    def __str__(self) -> str:
        return f"{self.network} {self.tx_hash or self.id} ({self.status})"

    @classmethod
    def open_q(cls) -> models.Q:
        return models.Q(status__in=cls.OPEN_STATUSES) | models.Q(status=cls.Status.FAILED, finalized_at__isnull=True)

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES or (self.status == self.Status.FAILED and self.finalized_at is None)


class ChainTransactionEvent(models.Model):
    """One status change of a transaction, with the block it was read at (who: the chain or the tracker)."""

    transaction = models.ForeignKey(ChainTransaction, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    block_number = models.PositiveBigIntegerField(null=True, blank=True)
    block_hash = models.CharField(max_length=66, blank=True)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.transaction_id}: {self.from_status or '-'} → {self.to_status}"
