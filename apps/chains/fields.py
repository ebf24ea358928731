"""A model field for on-chain amounts in base units (wei, fri, sats): any uint256, exactly."""

from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

UINT256_MAX = 2**256 - 1


class BaseUnitsField(models.Field):
    """``NUMERIC(78,0)`` on PostgreSQL. On SQLite (the no-configuration default) a TEXT column, because SQLite's
    NUMERIC silently turns integers beyond 64 bits into doubles (a 10 ETH balance in wei would lose digits).
    Python values are ``int``. Order and sum these in Python on SQLite, not in SQL."""

    description = "Unsigned 256-bit integer amount in base units"

    def db_type(self, connection) -> str:
        return "text" if connection.vendor == "sqlite" else "numeric(78, 0)"

    def to_python(self, value: Any) -> int | None:
        if value is None or isinstance(value, int):
            return value
        if isinstance(value, Decimal):
            if not value.is_finite() or value != value.to_integral_value():
                raise ValidationError(f"{value!r} is not a whole number of base units.")
            return int(value)
        try:
            return int(str(value))
        except ValueError:
            raise ValidationError(f"{value!r} is not an integer amount.") from None

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> int | None:
        return None if value is None else int(str(value))

    def get_prep_value(self, value: Any) -> Any:
        value = self.to_python(super().get_prep_value(value))
        if value is not None and not 0 <= value <= UINT256_MAX:
            raise ValidationError(f"{value} is outside 0..2**256-1.")
        return value

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        value = value if prepared else self.get_prep_value(value)
        if value is None:
            return None
        return str(value) if connection.vendor == "sqlite" else value


class ExactDecimalField(models.DecimalField):
    """A DecimalField that keeps every digit on SQLite too (stored as TEXT there; NUMERIC elsewhere).

    SQLite's NUMERIC affinity stores non-integers as doubles, so Django reads back ~15 significant digits.
    Compare, order and aggregate these in Python on SQLite, not in SQL.
    """

    def get_internal_type(self) -> str:
        return "ExactDecimalField"  # keeps the SQLite backend's float-based decimal converter away

    def db_type(self, connection) -> str:
        if connection.vendor == "sqlite":
            return "text"
        return f"numeric({self.max_digits}, {self.decimal_places})"

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if not prepared:
            value = self.get_prep_value(value)
        if value is None:
            return None
        value = self.to_python(value)
        if connection.vendor == "sqlite":
            # Enough digits for max_digits: the default context (28 digits) would raise on e.g. 38 digits.
            with localcontext() as context:
                context.prec = max(self.max_digits or 0, 28) + 2
                return format(value.quantize(Decimal(1).scaleb(-self.decimal_places)), "f")
        return value

    def get_db_prep_save(self, value: Any, connection: Any) -> Any:
        return self.get_db_prep_value(value, connection)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Decimal | None:
        return None if value is None else Decimal(str(value))
