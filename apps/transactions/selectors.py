"""Reads of the caller's own transactions."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from engipay.api.errors import InvalidInput, NotFound

from .models import ChainTransaction

# The frontend's status filter speaks "completed"; our confirmed and finalized both are.
STATUS_ALIASES = {"completed": [ChainTransaction.Status.CONFIRMED, ChainTransaction.Status.FINALIZED]}


class ChainTransactionFilter(django_filters.FilterSet):
    network = django_filters.CharFilter(field_name="network")
    status = django_filters.ChoiceFilter(
        choices=[*ChainTransaction.Status.choices, ("completed", "Confirmed or finalized")], method="filter_status"
    )
    asset = django_filters.CharFilter(field_name="asset__symbol", lookup_expr="iexact")
    type = django_filters.ChoiceFilter(choices=ChainTransaction.Type.choices)
    start_date = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    end_date = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = ChainTransaction
        fields = ["network", "status", "asset", "type", "start_date", "end_date"]

    def filter_status(self, queryset, name, value):
        return queryset.filter(status__in=STATUS_ALIASES.get(value, [value]))


def transaction_list_for_user(*, user, filters: dict | None = None) -> QuerySet[ChainTransaction]:
    qs = ChainTransaction.objects.filter(user=user).select_related("asset").order_by("-created_at", "-id")
    filterset = ChainTransactionFilter(filters or {}, queryset=qs)
    if not filterset.is_valid():
        errors = {field: [str(e) for e in errs] for field, errs in filterset.errors.items()}
        raise InvalidInput("invalid_filter", "A filter value is not valid.", errors)
    return filterset.qs


def transaction_get_for_user(*, user, tx_hash: str, network: str | None = None) -> ChainTransaction:
    """The caller's transaction with this hash (the latest, if it was sent on several networks); else 404."""
    value = tx_hash.strip().lower()
    spellings = {value, value.removeprefix("0x")}
    if value.startswith("0x") and 2 < len(value) < 66:
        spellings.add("0x" + value[2:].rjust(64, "0"))  # a Starknet felt written without its leading zeros
    qs = ChainTransaction.objects.filter(user=user, tx_hash__in=spellings).select_related("asset")
    if network:
        qs = qs.filter(network=network)
    record = qs.order_by("-created_at").first()
    if record is None:
        raise NotFound("not_found", "No transaction of yours has this hash.")
    return record
