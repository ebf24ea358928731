"""Escrow services: deploy, create and transitions (escrows.py), the indexer, disputes."""
