"""Placeholder until the indexer lands (helper)."""

from __future__ import annotations


def escrow_index_rewind(*, deployment, block: int) -> None:
    raise NotImplementedError
