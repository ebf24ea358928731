"""KYC/AML services. ``check_limit(user, usd_amount)`` is the one call every path that moves money makes."""

from .limits import check_limit, limit_record, limit_release

__all__ = ["check_limit", "limit_record", "limit_release"]
