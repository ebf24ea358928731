"""Prices: sources, staleness, ingestion (apps/prices)."""

from __future__ import annotations
