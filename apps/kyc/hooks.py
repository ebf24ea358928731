"""Registrations with lower apps' hooks (STYLE.md section 1): filled in by the screening work."""
