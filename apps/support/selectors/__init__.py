"""Read-side of support: ``tickets`` and ``chat`` querysets scoped to the caller."""
