"""Transactions: tracking and confirmations (apps/transactions)."""

from __future__ import annotations
