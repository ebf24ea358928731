"""Price alerts: tell a user once when a stored price crosses their threshold (``/api/notifications/price-alerts``).

An alert is *armed* until the first price stored after ``armed_at`` is on the far side of its threshold
(``above``: price >= threshold; ``below``: price <= threshold). That price *triggers* it: one ``price_alert``
notification, and the alert stays quiet until the user re-arms it.

Evaluation runs for the rows a price ingestion newly stored (``prices_ingest``) and for the price webhook; both call
:func:`price_alerts_evaluate`, which may run concurrently and more than once for the same rows: firing is one
conditional UPDATE (armed -> triggered), so only one evaluation wins an alert and only the winner notifies.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC
from decimal import Decimal, localcontext
from uuid import UUID

import django_filters
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.utils import timezone

from apps.notifications.services import notify
from engipay.api.errors import InvalidInput, NotFound, StateConflict

from . import selectors
from . import services as price_services
from .models import AssetPrice, PriceAlert

logger = logging.getLogger(__name__)

# Armed alerts a user may have at once (triggered ones do not count until re-armed).
MAX_ARMED_ALERTS = 50
# The threshold column is NUMERIC(38, 18).
MAX_DECIMALS = 18
NOTIFICATION_KIND = "price_alert"

Direction = PriceAlert.Direction
Status = PriceAlert.Status


def usd_text(value: Decimal) -> str:
    """A USD amount as a plain decimal string: every stored digit, no exponent, at least two decimals."""
    with localcontext(prec=100):  # the default 28 digits would round a 38-digit column
        value = value.normalize()
        if value.as_tuple().exponent > -2:
            value = value.quantize(Decimal("0.01"))
    return format(value, "f")


# --- selectors -----------------------------------------------------------------------------------------------


class PriceAlertFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Status.choices)
    symbol = django_filters.CharFilter(method="filter_symbol", help_text="Case-insensitive, e.g. eth.")

    class Meta:
        model = PriceAlert
        fields = ["status", "symbol"]

    def filter_symbol(self, queryset, name, value):
        return queryset.filter(token__symbol=value.strip().upper())


def price_alert_list_for_user(*, user, filters: dict | None = None):
    """The user's alerts, newest first."""
    qs = PriceAlert.objects.filter(user=user).select_related("token", "triggered_price").order_by("-created_at", "-id")
    filterset = PriceAlertFilter(filters or {}, queryset=qs)
    if not filterset.is_valid():
        errors = {field: [str(e) for e in errs] for field, errs in filterset.errors.items()}
        raise InvalidInput("invalid_filter", "A filter value is not valid.", errors)
    return filterset.qs


def price_alert_get_for_user(*, user, alert_id: UUID) -> PriceAlert:
    """One of the user's alerts; another user's is a 404."""
    qs = PriceAlert.objects.filter(user=user).select_related("token", "triggered_price")
    return get_object_or_404(qs, pk=alert_id)


def price_alerts_with_current_price(alerts: Iterable[PriceAlert]) -> list[PriceAlert]:
    """Set ``current_quote`` on each alert: the latest stored price of its token (``prices_current``: one read for
    all of them, with its ``stale`` flag), or None when there is none. Nothing is fetched from a source."""
    alerts = list(alerts)
    quotes = selectors.prices_current({alert.token.symbol for alert in alerts}) if alerts else {}
    for alert in alerts:
        alert.current_quote = quotes.get(alert.token.symbol)
    return alerts


# --- services ------------------------------------------------------------------------------------------------


def price_alert_threshold_check(*, price: Decimal) -> Decimal:
    """A USD threshold the column can hold exactly: positive, below MAX_PRICE, at most 18 decimals (never rounded)."""
    if not price.is_finite() or price <= 0:
        raise InvalidInput("invalid_price", "The price must be a number above zero.")
    if price >= price_services.MAX_PRICE:
        raise InvalidInput(
            "price_too_large",
            f"The price must be below {usd_text(price_services.MAX_PRICE)} USD.",
            {"max_price": format(price_services.MAX_PRICE, "f")},
        )
    with localcontext(prec=100):
        exponent = price.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_DECIMALS:  # trailing zeros past 18 decimals are fine
        raise InvalidInput(
            "too_precise", f"At most {MAX_DECIMALS} decimals in the price.", {"max_decimals": MAX_DECIMALS}
        )
    return price


def _direction_checked(direction: str) -> str:
    if direction not in Direction.values:
        raise InvalidInput(
            "invalid_direction", f"direction must be one of {', '.join(Direction.values)}.", {"direction": direction}
        )
    return direction


def _armed_cap_check(*, user_id: int) -> None:
    """Caller is in a transaction. The user row is locked so two creations cannot both pass the cap; NO KEY
    UPDATE, so it does not wait for (or deadlock with) an evaluation inserting a notification for this user."""
    get_user_model().objects.select_for_update(no_key=True).filter(pk=user_id).first()
    armed = PriceAlert.objects.filter(user_id=user_id, status=Status.ARMED).count()
    if armed >= MAX_ARMED_ALERTS:
        raise StateConflict(
            "too_many_alerts",
            f"At most {MAX_ARMED_ALERTS} armed price alerts; delete one or wait for one to trigger.",
            {"max_armed": MAX_ARMED_ALERTS, "armed": armed},
        )


@transaction.atomic
def price_alert_create(*, user, symbol: str, direction: str, price: Decimal, note: str = "") -> PriceAlert:
    """Arm a new alert on an active token that has at least one stored price."""
    token = selectors.token_get_by_symbol(symbol=symbol)  # unknown or inactive: 400 unknown_symbol
    if not AssetPrice.objects.filter(token=token).exists():
        raise InvalidInput(
            "no_price_yet",
            f"There is no stored price for {token.symbol} yet, so an alert on it cannot be evaluated.",
            {"symbol": token.symbol},
        )
    direction = _direction_checked(direction)
    price = price_alert_threshold_check(price=price)
    _armed_cap_check(user_id=user.pk)
    alert = PriceAlert(
        user=user,
        token=token,
        direction=direction,
        price=price,
        note=note,
        status=Status.ARMED,
        armed_at=timezone.now(),
    )
    alert.save(force_insert=True)
    return alert


@transaction.atomic
def price_alert_rearm(*, alert: PriceAlert, price: Decimal | None = None, direction: str | None = None) -> PriceAlert:
    """Arm a triggered alert again (optionally with a new threshold or direction); only prices observed from now
    on can trigger it. An armed alert is a 409."""
    # Only the alert row: locking its token too would hold up every price stored for it meanwhile.
    alert = PriceAlert.objects.select_for_update(of=("self",)).select_related("token").filter(pk=alert.pk).first()
    if alert is None:  # deleted since the caller read it
        raise NotFound("not_found", "Not found.")
    if alert.status == Status.ARMED:
        raise StateConflict("already_armed", "This alert is armed already.", {"status": alert.status})
    if price is not None:
        alert.price = price_alert_threshold_check(price=price)
    if direction is not None:
        alert.direction = _direction_checked(direction)
    _armed_cap_check(user_id=alert.user_id)
    alert.status = Status.ARMED
    alert.armed_at = timezone.now()
    alert.triggered_at = None
    alert.triggered_price = None
    alert.notification_id = None
    alert.save()
    return alert


def price_alert_delete(*, alert: PriceAlert) -> None:
    alert.delete()


# --- evaluation ----------------------------------------------------------------------------------------------


def price_alerts_evaluate(*, rows: list[AssetPrice]) -> int:
    """Fire the armed alerts that ``rows`` (newly stored prices) cross; returns how many fired.

    An alert fires on the earliest of the rows of its token observed after its ``armed_at`` whose price is on the
    far side of the threshold. Safe to call concurrently and repeatedly with the same rows: each alert notifies
    once. One query finds the candidates of the whole batch; each firing is its own transaction.
    """
    by_token = _rows_by_token(rows)
    if not by_token:
        return 0
    fired = 0
    for alert in _candidates(by_token):
        row = _first_crossing(alert=alert, rows=by_token[alert.token_id])
        if row is not None and _alert_fire(alert=alert, row=row):
            fired += 1
    return fired


def _rows_by_token(rows: Iterable[AssetPrice]) -> dict[int, list[AssetPrice]]:
    by_token: dict[int, list[AssetPrice]] = defaultdict(list)
    for row in rows:
        if row.pk is not None:
            by_token[row.token_id].append(row)
    for token_rows in by_token.values():
        token_rows.sort(key=lambda row: (row.observed_at, row.pk))
    return dict(by_token)


def _candidates(by_token: dict[int, list[AssetPrice]]) -> list[PriceAlert]:
    condition = Q()
    for token_id, token_rows in by_token.items():
        per_token = Q(token_id=token_id, armed_at__lt=token_rows[-1].observed_at)
        if connection.vendor != "sqlite":
            # Let the database drop the alerts no row crosses. Not on SQLite, where the column is TEXT (see
            # ExactDecimalField) and compares as text; there every armed alert of the token is checked below.
            high = max(row.price_usd for row in token_rows)
            low = min(row.price_usd for row in token_rows)
            per_token &= Q(direction=Direction.ABOVE, price__lte=high) | Q(direction=Direction.BELOW, price__gte=low)
        condition |= per_token
    # In primary-key order, so evaluations running inside longer transactions take row locks in one order.
    qs = PriceAlert.objects.filter(condition, status=Status.ARMED).select_related("token", "user").order_by("pk")
    return list(qs)


def _crosses(alert: PriceAlert, price: Decimal) -> bool:
    return price >= alert.price if alert.direction == Direction.ABOVE else price <= alert.price


def _first_crossing(*, alert: PriceAlert, rows: list[AssetPrice]) -> AssetPrice | None:
    for row in rows:  # oldest first
        if row.observed_at > alert.armed_at and _crosses(alert, row.price_usd):
            return row
    return None


@transaction.atomic
def _alert_fire(*, alert: PriceAlert, row: AssetPrice) -> bool:
    """Trigger ``alert`` with ``row`` and notify its owner, unless another evaluation fired it first (or it was
    re-armed or deleted meanwhile): the UPDATE only matches the alert as it was read, still armed."""
    now = timezone.now()
    won = PriceAlert.objects.filter(pk=alert.pk, status=Status.ARMED, armed_at=alert.armed_at).update(
        status=Status.TRIGGERED, triggered_at=now, triggered_price=row, updated_at=now
    )
    if not won:
        return False
    notification = notify(user=alert.user, kind=NOTIFICATION_KIND, **_notification_text(alert=alert, row=row))
    PriceAlert.objects.filter(pk=alert.pk).update(notification_id=notification.id)
    logger.info("Price alert %s fired on %s %s", alert.pk, alert.token.symbol, row.price_usd)
    return True


def _notification_text(*, alert: PriceAlert, row: AssetPrice) -> dict:
    symbol, threshold, price = alert.token.symbol, usd_text(alert.price), usd_text(row.price_usd)
    observed = row.observed_at.astimezone(UTC)
    movement = "rose to" if alert.direction == Direction.ABOVE else "fell to"
    side = "at or above" if alert.direction == Direction.ABOVE else "at or below"
    return {
        "title": f"{symbol} {movement} {price} USD",
        "message": (
            f"{symbol} is {side} your alert price of {threshold} USD: {price} USD ({row.source}, "
            f"{observed:%Y-%m-%d %H:%M:%S} UTC). This alert will not fire again until you re-arm it."
        ),
        "data": {
            "alert_id": str(alert.pk),
            "symbol": symbol,
            "direction": alert.direction,
            "threshold": threshold,
            "price": price,
            "observed_at": observed.isoformat().replace("+00:00", "Z"),
            "source": row.source,
        },
    }
